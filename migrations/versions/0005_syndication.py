"""Syndication: per-item rights, and a newest-first index for deep-dive lists and feeds.

- syndicatable on stories and deep dives: whether partners may republish the item. When false,
  the item stays out of every feed and partners never receive its full text (README,
  "Partners").
- deep_dives_feed_idx: the deep-dive list, its feeds and sitemaps walk deep dives newest first.
- updated_at indexes: when content last changed anywhere is the Last-Modified of feeds and
  REST lists, read as a few index lookups (db.syndication.content_changed_at).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UPDATED = ("stories", "deep_dives", "sources")


def upgrade() -> None:
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN syndicatable boolean NOT NULL DEFAULT TRUE")
    op.execute("CREATE INDEX deep_dives_feed_idx ON deep_dives (published_at DESC, id DESC)")
    for table in _UPDATED:
        op.execute(f"CREATE INDEX {table}_updated_idx ON {table} (updated_at)")


def downgrade() -> None:
    for table in _UPDATED:
        op.execute(f"DROP INDEX {table}_updated_idx")
    op.execute("DROP INDEX deep_dives_feed_idx")
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN syndicatable")
