"""Story embeddings for semantic recommendations, where pgvector is available.

A server without the extension gets no table here, and everything works on lexical signals.
The table is not created later by itself if pgvector is installed afterwards: migrate down to
0003 and up again (README, "Recommendations").

Revision ID: 0004
Revises: 0003
"""

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    available = op.get_bind().execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')")
    )
    if not available.scalar():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("""
    CREATE TABLE story_embeddings (
        story_id bigint CONSTRAINT story_embeddings_pkey PRIMARY KEY
            CONSTRAINT story_embeddings_story_id_fkey REFERENCES stories (id) ON DELETE CASCADE,
        model text NOT NULL,
        digest bytea NOT NULL,
        embedding vector(384) NOT NULL,
        embedded_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute("""
    CREATE INDEX story_embeddings_hnsw_idx ON story_embeddings
        USING hnsw (embedding vector_cosine_ops)""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS story_embeddings")
