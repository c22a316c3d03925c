"""Stored figures and listings: reads project columns, counts take constant time.

- stories gain every figure a reader sees (content.figures.StoryFigures): source and side
  counts, percentages, dominant side, coverage label, blindspot, factuality and country shares,
  first and latest source time, word count and read time. deep_dives gain their word count,
  read time and table of contents; deep_dive_sections their anchor and rendered HTML and text.
  db.figures computes them in Python on every write that changes what they depend on, and the
  service recomputes them all at start when derived_versions says they were made by another
  definition (the first start after this migration fills them in).
- figure_refreshes: stories waiting for their figures to be recomputed after an outlet was
  re-rated, drained in short batches so a big outlet never holds one long lock.
- story_listings and deep_dive_listings: which published items each list holds (every story,
  a category, a topic, an outlet, the blindspots; every deep dive, a topic's deep dives) with
  the time it sorts by, so a page of any list is one index range. listing_sizes counts each
  list's entries; triggers keep it exact on every insert and delete, whatever wrote them. A
  count is then the stored size minus the entries not yet due (scheduled items), which are few.
- The story_coverage view goes: content.figures is now the only definition of a side and a
  blindspot.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STORY_FIGURES = """
    ADD COLUMN source_count integer NOT NULL DEFAULT 0,
    ADD COLUMN lefts integer NOT NULL DEFAULT 0,
    ADD COLUMN centers integer NOT NULL DEFAULT 0,
    ADD COLUMN rights integer NOT NULL DEFAULT 0,
    ADD COLUMN unrated integer NOT NULL DEFAULT 0,
    ADD COLUMN left_percent integer,
    ADD COLUMN center_percent integer,
    ADD COLUMN right_percent integer,
    ADD COLUMN dominant_side text NOT NULL DEFAULT 'Unrated',
    ADD COLUMN coverage_label text NOT NULL DEFAULT '',
    ADD COLUMN blindspot text CONSTRAINT stories_blindspot_check CHECK (blindspot IN ('LEFT', 'RIGHT')),
    ADD COLUMN factuality_shares jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN country_shares jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN earliest_source_at timestamptz,
    ADD COLUMN latest_source_at timestamptz,
    ADD COLUMN word_count integer NOT NULL DEFAULT 0,
    ADD COLUMN read_time_minutes integer NOT NULL DEFAULT 1
"""
_STORY_FIGURE_COLUMNS = (
    "source_count, lefts, centers, rights, unrated, left_percent, center_percent, "
    "right_percent, dominant_side, coverage_label, blindspot, factuality_shares, "
    "country_shares, earliest_source_at, latest_source_at, word_count, read_time_minutes"
)

_COVERAGE_VIEW = """
CREATE VIEW story_coverage AS
SELECT story_id, lefts, centers, rights, unrated,
    CASE
        WHEN lefts = 0 AND rights >= 3 AND rights * 5 >= (lefts + centers + rights) * 4
            THEN 'LEFT'
        WHEN rights = 0 AND lefts >= 3 AND lefts * 5 >= (lefts + centers + rights) * 4
            THEN 'RIGHT'
    END AS blindspot
FROM (
    SELECT ss.story_id,
        count(*) FILTER (WHERE o.bias IN ('LEFT', 'LEAN_LEFT')) AS lefts,
        count(*) FILTER (WHERE o.bias = 'CENTER') AS centers,
        count(*) FILTER (WHERE o.bias IN ('RIGHT', 'LEAN_RIGHT')) AS rights,
        count(*) FILTER (WHERE o.bias IS NULL) AS unrated
    FROM story_sources ss
    JOIN sources s ON s.id = ss.source_id
    JOIN outlets o ON o.id = s.outlet_id
    GROUP BY ss.story_id
) AS counts"""

# One statement per insert or delete, whatever its size (COPY included): the sizes move by
# the transition table's counts, in list order so that concurrent writers lock them alike.
_TRACK_SIZES = """
CREATE FUNCTION listing_sizes_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO listing_sizes AS z (list, entries)
        SELECT list, count(*) FROM changed_rows GROUP BY list ORDER BY list
        ON CONFLICT (list) DO UPDATE SET entries = z.entries + EXCLUDED.entries;
    ELSE
        UPDATE listing_sizes AS z SET entries = z.entries - gone.n
        FROM (SELECT list, count(*) AS n FROM changed_rows GROUP BY list ORDER BY list) AS gone
        WHERE z.list = gone.list;
    END IF;
    RETURN NULL;
END
$$"""


def _tracked(table: str) -> None:
    for event, transition in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(f"""
        CREATE TRIGGER {table}_{event.lower()}_sizes AFTER {event} ON {table}
            REFERENCING {transition} TABLE AS changed_rows
            FOR EACH STATEMENT EXECUTE FUNCTION listing_sizes_track()""")


def upgrade() -> None:
    op.execute(f"ALTER TABLE stories {_STORY_FIGURES}")
    op.execute("""ALTER TABLE deep_dives
        ADD COLUMN table_of_contents jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN word_count integer NOT NULL DEFAULT 0,
        ADD COLUMN read_time_minutes integer NOT NULL DEFAULT 1""")
    op.execute("""ALTER TABLE deep_dive_sections
        ADD COLUMN anchor text NOT NULL DEFAULT '',
        ADD COLUMN body_html text NOT NULL DEFAULT '',
        ADD COLUMN body_text text NOT NULL DEFAULT ''""")
    op.execute("""
    CREATE TABLE derived_versions (
        name text CONSTRAINT derived_versions_pkey PRIMARY KEY,
        version integer NOT NULL
    )""")
    # Version 0: nothing computed yet; the next start computes every figure.
    op.execute("INSERT INTO derived_versions (name, version) VALUES ('figures', 0)")
    op.execute("""
    CREATE TABLE figure_refreshes (
        story_id bigint CONSTRAINT figure_refreshes_pkey PRIMARY KEY
            CONSTRAINT figure_refreshes_story_id_fkey REFERENCES stories (id) ON DELETE CASCADE,
        queued_at timestamptz NOT NULL DEFAULT now()
    )""")

    op.execute("""
    CREATE TABLE listing_sizes (
        list text CONSTRAINT listing_sizes_pkey PRIMARY KEY,
        entries bigint NOT NULL CONSTRAINT listing_sizes_entries_check CHECK (entries >= 0)
    )""")
    op.execute(_TRACK_SIZES)
    op.execute("""
    CREATE TABLE story_listings (
        list text NOT NULL,
        story_id bigint NOT NULL
            CONSTRAINT story_listings_story_id_fkey REFERENCES stories (id) ON DELETE CASCADE,
        published_at timestamptz NOT NULL,
        CONSTRAINT story_listings_pkey PRIMARY KEY (list, story_id)
    )""")
    op.execute("""CREATE INDEX story_listings_page_idx
        ON story_listings (list, published_at DESC, story_id DESC)""")
    op.execute("CREATE INDEX story_listings_story_id_idx ON story_listings (story_id)")
    _tracked("story_listings")
    # A deep dive sorts by its own publish time but is visible only from the later of its own
    # and its story's.
    op.execute("""
    CREATE TABLE deep_dive_listings (
        list text NOT NULL,
        deep_dive_id bigint NOT NULL CONSTRAINT deep_dive_listings_deep_dive_id_fkey
            REFERENCES deep_dives (id) ON DELETE CASCADE,
        published_at timestamptz NOT NULL,
        visible_from timestamptz NOT NULL,
        CONSTRAINT deep_dive_listings_pkey PRIMARY KEY (list, deep_dive_id)
    )""")
    op.execute("""CREATE INDEX deep_dive_listings_page_idx
        ON deep_dive_listings (list, published_at DESC, deep_dive_id DESC)""")
    op.execute("""CREATE INDEX deep_dive_listings_due_idx
        ON deep_dive_listings (list, visible_from)""")
    op.execute("""CREATE INDEX deep_dive_listings_deep_dive_id_idx
        ON deep_dive_listings (deep_dive_id)""")
    _tracked("deep_dive_listings")
    op.execute("DROP VIEW story_coverage")


def downgrade() -> None:
    op.execute(_COVERAGE_VIEW)
    for table in ("deep_dive_listings", "story_listings", "listing_sizes"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION listing_sizes_track()")
    op.execute("DROP TABLE figure_refreshes")
    op.execute("DROP TABLE derived_versions")
    op.execute("ALTER TABLE deep_dive_sections DROP COLUMN anchor, DROP COLUMN body_html, "
               "DROP COLUMN body_text")
    op.execute("ALTER TABLE deep_dives DROP COLUMN table_of_contents, DROP COLUMN word_count, "
               "DROP COLUMN read_time_minutes")
    drops = ", ".join(f"DROP COLUMN {c.strip()}" for c in _STORY_FIGURE_COLUMNS.split(","))
    op.execute(f"ALTER TABLE stories {drops}")
