"""Deep dives keep their search documents inline (compressed) rather than out of line.

A deep dive's document holds its whole body (7.6 kB on average in generated content), so
PostgreSQL stored it out of line (TOAST): a search that walks the newest deep dives testing
each document, and ranks the newest matches, fetched every one through the TOAST index, in
chunks. With STORAGE MAIN the document stays in the row, compressed (3.6 kB, one deep dive
to a page): at 100,000 stories, walking and ranking a common word's newest 1,000 deep-dive
matches took 22 ms out of line and 12 ms inline. The phrase pairs (migration 0016) stay out
of line: only a quoted phrase reads them.

Existing documents are rewritten in place, which also recomputes their pairs (a generated
column): on 78,472 deep dives (1,000,000 stories) it took 15 minutes, during which edits of
deep dives wait (reads do not). Run it in a quiet hour.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE deep_dives ALTER COLUMN search_vector SET STORAGE MAIN")
    # A new value (the concatenation) is stored by the column's new rule.
    op.execute("UPDATE deep_dives SET search_vector = search_vector || ''::tsvector")
    op.execute("ANALYZE deep_dives")


def downgrade() -> None:
    op.execute("ALTER TABLE deep_dives ALTER COLUMN search_vector SET STORAGE EXTENDED")
