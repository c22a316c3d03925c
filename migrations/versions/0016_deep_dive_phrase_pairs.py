"""Phrase pairs for deep dives too, as stories have had since 0012.

A deep dive's search document holds its whole body (7.6 kB on average in generated content),
so a quoted phrase of two words that many bodies hold was found by reading every deep dive
that holds both words to check their positions: at 1,000,000 stories, a phrase that 1,700
deep dives hold had 14,000 such candidates (150 ms to count them), and where PostgreSQL
expected many matches it walked the newest deep dives reading each document (250 ms for a
page). deep_dives.phrase_vector holds the tokens of the adjacent words of its search_vector
(adjacent_pairs, a generated column, so it cannot fall out of step), with a GIN index and its
own statistics; db.search requires a query's phrase pairs of deep dives as it does of stories.
The pairs of a deep dive take about 16 kB (TOASTed, read only for phrases); on 78,472
generated deep dives the index is 450 MB and this migration (a rewrite of the table, as the
generated column is stored) took 6 minutes.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE deep_dives ADD COLUMN phrase_vector tsvector
        GENERATED ALWAYS AS (adjacent_pairs(search_vector)) STORED""")
    op.execute("CREATE INDEX deep_dives_phrase_idx ON deep_dives USING gin (phrase_vector)")
    op.execute("ANALYZE deep_dives")


def downgrade() -> None:
    op.execute("ALTER TABLE deep_dives DROP COLUMN phrase_vector")
