"""Phrase pairs: an index of adjacent words, so that a quoted phrase is found from its pairs.

A quoted phrase ("war in ukraine") is a tsquery of words at given distances. The GIN index
on search_vector knows only which documents hold each word, so PostgreSQL finds a phrase as
the AND of its words and then reads every such document to check the positions; it also
estimates a phrase as that AND, which for two common words is a large share of all stories,
and then walks the time index reading documents until enough hold the phrase (seconds at a
million stories when few do). Elasticsearch's `index_phrases` answers the same problem by
indexing two-word shingles; this is that, for stories:

- phrase_pair(a, b): the token of the lexeme `a` directly followed by the lexeme `b` (the
  first 12 hex digits of an md5: any lexeme pair spells a safe tsquery operand, and a rare
  collision only lets an extra document through to the position check).
- adjacent_pairs(document): the tokens of every two lexemes of a search document at
  adjacent positions; stories.phrase_vector holds those of its search_vector (a generated
  column, so it cannot fall out of step), with a GIN index and its own statistics.
- phrase_pairs(config, query): for a web-search-syntax query, the AND of the tokens of the
  adjacent words of its quoted phrases that every match must hold, or NULL when there is
  none to be sure of. It only ever leaves documents out that cannot match: a query with
  `or` anywhere gives NULL, negated phrases give nothing, and words a stop word separates
  give no pair (`war in ukraine` matches `war big ukraine` too).

db.search adds `phrase_vector @@ phrase_pairs(...)` to the search vector's match.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION phrase_pair(a text, b text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT left(md5(a || ' ' || b), 12) $$""")
    op.execute("""
        CREATE FUNCTION adjacent_pairs(document tsvector) RETURNS tsvector
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            WITH p AS (
                SELECT w.lexeme, unnest(w.positions) AS position FROM unnest(document) AS w
            )
            SELECT coalesce(array_to_tsvector(array_agg(DISTINCT phrase_pair(a.lexeme, b.lexeme))),
                ''::tsvector)
            FROM p AS a JOIN p AS b ON b.position = a.position + 1 $$""")
    op.execute("""
        CREATE FUNCTION phrase_pairs(config regconfig, query text) RETURNS tsquery
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
            parts text[] := string_to_array(query, '"');
            tokens text[] := '{}';
        BEGIN
            IF query IS NULL OR query ~* '(^|[^[:alnum:]])or([^[:alnum:]]|$)' THEN
                RETURN NULL;
            END IF;
            -- parts 2, 4, ... are inside quotes; a phrase with a minus before it is negated
            FOR i IN 2 .. coalesce(array_length(parts, 1), 0) BY 2 LOOP
                CONTINUE WHEN parts[i - 1] ~ '-\\s*$';
                tokens := tokens || ARRAY(
                    SELECT unnest(tsvector_to_array(adjacent_pairs(to_tsvector(config, parts[i])))));
            END LOOP;
            IF cardinality(tokens) = 0 THEN
                RETURN NULL;
            END IF;
            RETURN array_to_string(
                ARRAY(SELECT DISTINCT quote_literal(t) FROM unnest(tokens) AS t), ' & ')::tsquery;
        END $$""")
    op.execute("""
        ALTER TABLE stories ADD COLUMN phrase_vector tsvector
        GENERATED ALWAYS AS (adjacent_pairs(search_vector)) STORED""")
    op.execute("CREATE INDEX stories_phrase_idx ON stories USING gin (phrase_vector)")
    op.execute("ANALYZE stories")


def downgrade() -> None:
    op.execute("ALTER TABLE stories DROP COLUMN phrase_vector")
    op.execute("DROP FUNCTION phrase_pairs(regconfig, text)")
    op.execute("DROP FUNCTION adjacent_pairs(tsvector)")
    op.execute("DROP FUNCTION phrase_pair(text, text)")
