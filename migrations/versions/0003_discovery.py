"""Discovery: richer search documents, inferred sentiment, outlet rating basis, pins.

- search_vector on stories and deep dives becomes a plain column that db.search fills on every
  write: it now holds topic names (stories) and key actors, section headings and bodies (deep
  dives), which live in other tables and so cannot be a generated column. search_settings
  records the text-search configuration and the document definition the vectors were built
  with; the service rebuilds them at start when either differs (db.search.ensure_index).
- sentiment is what an editor set (NULL when unset); sentiment_inferred is the lexicon
  classifier's reading of title and summary, kept for every story.
- outlets gain rating_basis and rated_on: why the outlet has its rating, and since when.
- recommendation_pins: stories an editor pinned to the top of an item's recommendations.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STORY_VECTOR = """
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', summary), 'B')"""
_DEEP_DIVE_VECTOR = """
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', dek), 'B')"""
_SENTIMENTS = "('POSITIVE', 'NEUTRAL', 'NEGATIVE')"


def upgrade() -> None:
    op.execute("""
    CREATE TABLE search_settings (
        singleton boolean PRIMARY KEY DEFAULT TRUE CONSTRAINT search_settings_singleton_check
            CHECK (singleton),
        config text NOT NULL,
        document_version integer NOT NULL
    )""")
    # Version 0: the old title + summary vectors below, rebuilt in full at the next start.
    op.execute("INSERT INTO search_settings (config, document_version) VALUES ('english', 0)")
    for table, vector in (("stories", _STORY_VECTOR), ("deep_dives", _DEEP_DIVE_VECTOR)):
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector")
        op.execute(f"UPDATE {table} SET search_vector = {vector}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN search_vector SET NOT NULL")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN search_vector SET DEFAULT ''::tsvector")
        op.execute(f"CREATE INDEX {table}_search_idx ON {table} USING gin (search_vector)")

    op.execute("ALTER TABLE stories ALTER COLUMN sentiment DROP NOT NULL")
    op.execute("ALTER TABLE stories ALTER COLUMN sentiment DROP DEFAULT")
    op.execute(f"""ALTER TABLE stories
        ADD COLUMN sentiment_inferred text NOT NULL DEFAULT 'NEUTRAL'
        CONSTRAINT stories_sentiment_inferred_check CHECK (sentiment_inferred IN {_SENTIMENTS})""")

    op.execute("""ALTER TABLE outlets
        ADD COLUMN rating_basis text,
        ADD COLUMN rated_on date""")

    op.execute("""
    CREATE TABLE recommendation_pins (
        story_id bigint NOT NULL CONSTRAINT recommendation_pins_story_id_fkey
            REFERENCES stories (id) ON DELETE CASCADE,
        pinned_story_id bigint NOT NULL CONSTRAINT recommendation_pins_pinned_story_id_fkey
            REFERENCES stories (id) ON DELETE CASCADE,
        position integer NOT NULL,
        CONSTRAINT recommendation_pins_pkey PRIMARY KEY (story_id, pinned_story_id),
        CONSTRAINT recommendation_pins_position_key UNIQUE (story_id, position),
        CONSTRAINT recommendation_pins_not_itself_check CHECK (story_id <> pinned_story_id)
    )""")


def downgrade() -> None:
    op.execute("DROP TABLE recommendation_pins")
    op.execute("ALTER TABLE outlets DROP COLUMN rating_basis, DROP COLUMN rated_on")
    op.execute("ALTER TABLE stories DROP COLUMN sentiment_inferred")
    op.execute("UPDATE stories SET sentiment = 'NEUTRAL' WHERE sentiment IS NULL")
    op.execute("ALTER TABLE stories ALTER COLUMN sentiment SET DEFAULT 'NEUTRAL'")
    op.execute("ALTER TABLE stories ALTER COLUMN sentiment SET NOT NULL")
    for table, vector in (("stories", _STORY_VECTOR), ("deep_dives", _DEEP_DIVE_VECTOR)):
        op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({vector}) STORED"
        )
        op.execute(f"CREATE INDEX {table}_search_idx ON {table} USING gin (search_vector)")
    op.execute("DROP TABLE search_settings")
