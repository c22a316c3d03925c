"""story_search: what search reads of a story, in a narrow table of its own.

A stories row carries everything a story page shows (stored figures, shares as JSON, its
vocabulary, its phrase pairs): 3.7 kB on average in generated content, two rows to a page,
with the search document stored out of line (TOAST). A search that walks the newest stories
testing each document therefore read a page and a TOAST entry per story it passed: at
100,000 stories, walking the 28,000 newest to find a word's 2,000 newest matches took
117 ms, against 12 ms over a table of only what search reads (ten rows to a page, the
document inline); ranking those 2,000 read their documents out of line once more.

story_search holds, per story, the columns a search reads: id, status, published_at,
created_at (visibility and list time), category_id (the category filter), search_vector
(kept inline: STORAGE MAIN) and phrase_vector (its adjacent pairs, migration 0012, moved
here from stories; TOASTed, read only for quoted phrases). It has the indexes search needs:
the words and the pairs (GIN) and the feed order, overall and by category.

Statement-level triggers on stories keep it exact on every insert and update (COPY
included); a story's delete removes its row (ON DELETE CASCADE). An update that changes
none of these columns (stored figures, say) writes nothing here, and the pairs are
recomputed only when the document changed. stories.search_vector stays, with its index,
for the reads that filter stories by a query (StoryFilter.query, the vocabulary); the pairs
move, as only search reads them.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_COLUMNS = "status, published_at, created_at, category_id, search_vector"

_SYNC = f"""
CREATE FUNCTION story_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO story_search (id, {_COLUMNS}, phrase_vector)
        SELECT n.id, n.status, n.published_at, n.created_at, n.category_id, n.search_vector,
            adjacent_pairs(n.search_vector)
        FROM new_rows n;
    ELSE
        UPDATE story_search x SET status = n.status, published_at = n.published_at,
            created_at = n.created_at, category_id = n.category_id,
            search_vector = n.search_vector,
            phrase_vector = CASE WHEN n.search_vector = o.search_vector THEN x.phrase_vector
                ELSE adjacent_pairs(n.search_vector) END
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE x.id = n.id
          AND ({", ".join(f"n.{c}" for c in _COLUMNS.split(", "))})
              IS DISTINCT FROM ({", ".join(f"o.{c}" for c in _COLUMNS.split(", "))});
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.execute("""
    CREATE TABLE story_search (
        id bigint CONSTRAINT story_search_pkey PRIMARY KEY
            CONSTRAINT story_search_id_fkey REFERENCES stories (id) ON DELETE CASCADE,
        status text NOT NULL,
        published_at timestamptz,
        created_at timestamptz NOT NULL,
        category_id bigint,
        search_vector tsvector NOT NULL,
        phrase_vector tsvector NOT NULL
    )""")
    op.execute("ALTER TABLE story_search ALTER COLUMN search_vector SET STORAGE MAIN")
    op.execute(f"""
    INSERT INTO story_search (id, {_COLUMNS}, phrase_vector)
    SELECT id, {_COLUMNS}, phrase_vector FROM stories ORDER BY published_at, id""")
    op.execute("ALTER TABLE stories DROP COLUMN phrase_vector")
    # For this transaction only: GIN indexes over a large archive build far faster with room.
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("CREATE INDEX story_search_words_idx ON story_search USING gin (search_vector)")
    op.execute("CREATE INDEX story_search_phrase_idx ON story_search USING gin (phrase_vector)")
    op.execute("""CREATE INDEX story_search_feed_idx ON story_search
        (published_at DESC, id DESC) WHERE status = 'PUBLISHED'""")
    op.execute("""CREATE INDEX story_search_category_idx ON story_search
        (category_id, published_at DESC, id DESC) WHERE status = 'PUBLISHED'""")
    op.execute(_SYNC)
    for event, transitions in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(f"""
        CREATE TRIGGER stories_{event.lower()}_search AFTER {event} ON stories
            REFERENCING {transitions}
            FOR EACH STATEMENT EXECUTE FUNCTION story_search_sync()""")
    op.execute("ANALYZE story_search")


def downgrade() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER stories_{event}_search ON stories")
    op.execute("DROP FUNCTION story_search_sync()")
    op.execute("""
        ALTER TABLE stories ADD COLUMN phrase_vector tsvector
        GENERATED ALWAYS AS (adjacent_pairs(search_vector)) STORED""")
    op.execute("CREATE INDEX stories_phrase_idx ON stories USING gin (phrase_vector)")
    op.execute("DROP TABLE story_search")
