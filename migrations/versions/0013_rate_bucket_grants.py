"""Rate buckets hand out several tokens at once: `granted` is how many the last take got.

A process that spends a key's tokens quickly takes a few at a time and spends them itself
(db.rate_limits.LeasingRateLimiter), so a busy caller costs one statement per lease instead
of one per request. The column is what RETURNING reports of the take.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE rate_buckets ADD COLUMN granted integer NOT NULL DEFAULT 1")


def downgrade() -> None:
    op.execute("ALTER TABLE rate_buckets DROP COLUMN granted")
