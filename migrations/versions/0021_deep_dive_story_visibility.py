"""A deep dive carries its story's publish time, so its visibility is read from its own row.

A deep dive is visible only while its story is (db.visibility.visible_deep_dive), and every
read of deep dives tested that by looking the story up: one index probe per deep dive
considered. A search's count reads up to 10,000 deep dives and probed story_search for each
(at 1,000,000 stories, 4,800 deep dives: 16,500 buffers, a third of the count's time).

deep_dives.story_published_at is the story's published_at while the story's status is
PUBLISHED, and NULL otherwise, so that `d.story_published_at <= now()` is the story's
visibility: a scheduled story's deep dive appears when the story's time comes, without a
job, as the story itself does. Triggers keep it exact:

- stories, after each statement that changes a story's status or publish time, set it on
  those stories' deep dives;
- deep_dives, before a row is inserted or its story (or this column: it cannot be set by
  hand) changes, read it from the story, locking the story's row (FOR SHARE), so that a
  concurrent change of the story either commits first (and is read) or waits for this deep
  dive to commit (and then finds it). Without the lock, neither waited (a foreign key's
  lock does not stop an update of other columns) and the deep dive kept the old time.

The walk of the newest deep dives (deep_dives_feed_idx) carries the column too, so a walk
tests visibility from the index alone.

Cost: filling the column rewrites every deep dive's row, and with it its phrase pairs (a
generated column, recomputed on every update) and both document indexes' entries. On
1,000,000 stories and 78,472 deep dives this migration took 10 minutes, holding a lock that
stops reads of deep dives: run it when a pause is acceptable (as 0016, 6 minutes). Later, a
change of a story's status or time rewrites its deep dive's row likewise (milliseconds).

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_OF_STORY = "CASE WHEN {s}.status = 'PUBLISHED' THEN {s}.published_at END"

_FROM_STORY = f"""
CREATE FUNCTION deep_dive_story_published_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.story_published_at := (SELECT {_OF_STORY.format(s="s")}
        FROM stories s WHERE s.id = NEW.story_id FOR SHARE);
    RETURN NEW;
END
$$"""

_TO_DEEP_DIVES = f"""
CREATE FUNCTION stories_deep_dive_visibility() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deep_dives d SET story_published_at = {_OF_STORY.format(s="n")}
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE d.story_id = n.id
      AND (n.status, n.published_at) IS DISTINCT FROM (o.status, o.published_at);
    RETURN NULL;
END
$$"""


def _feed_index(included: str) -> None:
    op.execute("DROP INDEX deep_dives_feed_idx")
    op.execute(
        "CREATE INDEX deep_dives_feed_idx ON deep_dives (published_at DESC, id DESC) "
        f"INCLUDE ({included})"
    )


def upgrade() -> None:
    op.execute("ALTER TABLE deep_dives ADD COLUMN story_published_at timestamptz")
    op.execute(f"""
    UPDATE deep_dives d SET story_published_at = {_OF_STORY.format(s="s")}
    FROM stories s WHERE s.id = d.story_id AND s.status = 'PUBLISHED'""")
    op.execute(_FROM_STORY)
    op.execute("""
    CREATE TRIGGER deep_dives_insert_story_published_at BEFORE INSERT ON deep_dives
        FOR EACH ROW EXECUTE FUNCTION deep_dive_story_published_at()""")
    # An editor's save sets story_id whether or not it changed; only a change reads the story.
    op.execute("""
    CREATE TRIGGER deep_dives_update_story_published_at
        BEFORE UPDATE OF story_id, story_published_at ON deep_dives FOR EACH ROW
        WHEN ((NEW.story_id, NEW.story_published_at)
              IS DISTINCT FROM (OLD.story_id, OLD.story_published_at))
        EXECUTE FUNCTION deep_dive_story_published_at()""")
    op.execute(_TO_DEEP_DIVES)
    op.execute("""
    CREATE TRIGGER stories_update_deep_dive_visibility AFTER UPDATE ON stories
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION stories_deep_dive_visibility()""")
    _feed_index("status, story_id, story_published_at")
    op.execute("ANALYZE deep_dives")


def downgrade() -> None:
    _feed_index("status, story_id")
    op.execute("DROP TRIGGER stories_update_deep_dive_visibility ON stories")
    op.execute("DROP FUNCTION stories_deep_dive_visibility()")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER deep_dives_{event}_story_published_at ON deep_dives")
    op.execute("DROP FUNCTION deep_dive_story_published_at()")
    op.execute("ALTER TABLE deep_dives DROP COLUMN story_published_at")
