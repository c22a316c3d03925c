"""Trusted documents and bounded persisted queries.

Registered (`trusted`) documents are the operations an operator allowed with `newsgraph
documents add`: in the trusted mode only they run for callers. Documents that callers store
through APQ are bounded by count, bytes and a quota per caller (`key_id`, NULL for anonymous
callers together) and give way oldest first; registered ones are never evicted.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE persisted_queries
            ADD COLUMN trusted boolean NOT NULL DEFAULT false,
            ADD COLUMN name text,
            ADD COLUMN key_id bigint
                CONSTRAINT persisted_queries_key_id_fkey REFERENCES api_keys (id) ON DELETE SET NULL,
            ADD COLUMN bytes integer GENERATED ALWAYS AS (octet_length(query)) STORED
        """
    )
    op.execute(
        "CREATE INDEX persisted_queries_stored_idx ON persisted_queries (created_at) "
        "WHERE NOT trusted"
    )


def downgrade() -> None:
    op.execute("DROP INDEX persisted_queries_stored_idx")
    op.execute(
        """
        ALTER TABLE persisted_queries
            DROP COLUMN bytes, DROP COLUMN key_id, DROP COLUMN name, DROP COLUMN trusted
        """
    )
