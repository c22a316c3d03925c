"""A story's and a deep dive's share text, stored with their other figures.

What a share button says (content.figures.share_text: the summary or dek, cut at a word to
200 characters) is computed when the text is written, like every other figure, so that both
engines read it rather than each cutting it. FIGURES_VERSION 2 makes the next start fill it in.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN share_text text NOT NULL DEFAULT ''")


def downgrade() -> None:
    for table in ("stories", "deep_dives"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN share_text")
