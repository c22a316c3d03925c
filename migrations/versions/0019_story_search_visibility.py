"""story_search's primary key carries each story's status and publish time.

A deep dive is visible only while its story is (db.visibility.visible_deep_dive), and search
tested that for every deep-dive match by reading the story's row from stories: 3.7 kB rows
on 3.7 GB at 1,000,000 stories, mostly outside shared buffers, about 20 µs each. A word
that 2,600 deep dives hold spent 50 ms of a page there. Search now reads the two columns
from story_search, which triggers keep equal to stories (migration 0017), through its
primary key, which now includes them: an index-only scan, and the join that reads the
story's filters (`ds`) uses the same index. On 1,000,000 stories the key builds in about a
second.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _primary_key(included: str) -> None:
    op.execute(f"""
    ALTER TABLE story_search DROP CONSTRAINT story_search_pkey,
        ADD CONSTRAINT story_search_pkey PRIMARY KEY (id){included}""")


def upgrade() -> None:
    _primary_key(" INCLUDE (status, published_at)")


def downgrade() -> None:
    _primary_key("")
