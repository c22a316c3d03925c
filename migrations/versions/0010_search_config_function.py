"""The text-search configuration as a constant the planner can see.

Search read the configuration from search_settings through a subquery, so a query's tsquery
was unknown when PostgreSQL planned the statement: it estimated every term as matching 0.5%
of documents and planned a word that matches half of them like one that matches a hundred.
search_config() is an IMMUTABLE SQL function whose body is the configuration's name; the
planner inlines it, folds the tsquery of a query given as a parameter, and estimates each
term from the column's statistics (its most common lexemes). db.search.ensure_index replaces
the function whenever the configuration changes (replacing it invalidates cached plans);
search_settings stays the record of what the documents were built with.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    DO $$ BEGIN
        EXECUTE format(
            'CREATE FUNCTION search_config() RETURNS regconfig LANGUAGE sql IMMUTABLE '
            'PARALLEL SAFE AS %L',
            format('SELECT %L::regconfig', (SELECT config FROM search_settings)));
    END $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION search_config()")
