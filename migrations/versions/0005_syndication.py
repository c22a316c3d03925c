"""Syndication: per-item rights, and a newest-first index for deep-dive lists and feeds.

- syndicatable on stories and deep dives: whether partners may republish the item. When false,
  the item stays out of every feed and partners never receive its full text (README,
  "Partners").
- deep_dives_feed_idx: the deep-dive list, its feeds and sitemaps walk deep dives newest first.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN syndicatable boolean NOT NULL DEFAULT TRUE")
    op.execute("CREATE INDEX deep_dives_feed_idx ON deep_dives (published_at DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX deep_dives_feed_idx")
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN syndicatable")
