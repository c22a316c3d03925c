"""Automatic persisted queries (Apollo APQ): GraphQL documents by their SHA-256, so clients can
send a short hash in a cacheable GET instead of the whole query. Shared by every process.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE persisted_queries (
            sha256 text PRIMARY KEY,
            query text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT persisted_queries_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$')
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE persisted_queries")
