"""The search vocabulary: the words readers can find, for completions and "did you mean".

- stories.vocabulary: the distinct words (lower case, as written, no digits or punctuation)
  of a story's title, summary and topic names; db.search writes it with the search document.
- search_words: every word any story's vocabulary has held, with its stem in the search
  configuration (NULL for a stop word), its number of distinct trigrams, and `documents`,
  how many PUBLISHED stories (scheduled ones included) hold it.
- search_word_trigrams: each word under each of its trigrams (pg_trgm's, built here: the
  embedded PostgreSQL has no contrib modules), by length, to find the words like a misspelt one.
- search_word_pending: the words of stories whose publish time was still to come when they
  were written, with that time. A word's visible story count is its `documents` minus its
  pending rows whose time has not come yet, which are few, so a scheduled story's words are
  never offered before it is published and counting costs no more with a million stories.

Statement-level triggers on stories keep all of it exact on every insert, update and delete
(COPY included), moving the counts by the transition tables' differences in word order, so
that concurrent writers lock words alike. Words are never deleted: a word whose stories are
gone has a count of 0 and is offered nowhere. The documents are filled in by the next start
(db.search.DOCUMENT_VERSION 2 rebuilds every story's document and vocabulary).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# A story's words count while it is PUBLISHED; they are pending while its time is to come.
_MOVE = """
    WITH moved AS (
        INSERT INTO search_words AS v (word, stem, trigrams, documents)
        SELECT d.word, search_stem(d.word), cardinality(word_trigrams(d.word)), d.n
        FROM (
            SELECT word, sum(n) AS n FROM (
                SELECT unnest(c.vocabulary) AS word, 1 AS n FROM {came} c
                WHERE c.status = 'PUBLISHED'
                UNION ALL
                SELECT unnest(g.vocabulary), -1 FROM {gone} g WHERE g.status = 'PUBLISHED'
            ) AS x GROUP BY word HAVING sum(n) <> 0 ORDER BY word
        ) AS d
        ON CONFLICT (word) DO UPDATE SET documents = v.documents + EXCLUDED.documents
        RETURNING v.word, v.xmax = 0 AS added
    )
    INSERT INTO search_word_trigrams (trigram, length, word)
    SELECT t.trigram, length(m.word), m.word
    FROM moved m CROSS JOIN LATERAL unnest(word_trigrams(m.word)) AS t(trigram)
    WHERE m.added;
    DELETE FROM search_word_pending p USING {gone} g WHERE p.story_id = g.id;
    INSERT INTO search_word_pending (word, published_at, story_id)
    SELECT unnest(c.vocabulary), c.published_at, c.id FROM {came} c
    WHERE c.status = 'PUBLISHED' AND c.published_at > now();"""

# Only the rows whose words, status or time changed move anything.
_CHANGED = """(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.vocabulary, o.status, o.published_at)
        IS DISTINCT FROM (n.vocabulary, n.status, n.published_at))"""
_NOTHING = "(SELECT * FROM stories WHERE FALSE)"

_TRACK = f"""
CREATE FUNCTION search_words_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_MOVE.format(came="new_rows", gone=_NOTHING)}
    ELSIF TG_OP = 'DELETE' THEN
        {_MOVE.format(came=_NOTHING, gone="old_rows")}
    ELSE
        {_MOVE.format(came=_CHANGED.format(side="n"), gone=_CHANGED.format(side="o"))}
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.execute("ALTER TABLE stories ADD COLUMN vocabulary text[] NOT NULL DEFAULT '{}'")
    op.execute("""
    CREATE FUNCTION word_trigrams(word text) RETURNS text[] LANGUAGE sql IMMUTABLE
    PARALLEL SAFE AS $$
        SELECT array_agg(DISTINCT substr(p, i, 3) ORDER BY substr(p, i, 3))
        FROM (SELECT '  ' || word || ' ' AS p) AS padded, generate_series(1, length(p) - 2) AS i
    $$""")
    op.execute("""
    CREATE FUNCTION search_stem(word text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT (tsvector_to_array(to_tsvector(search_config(), word)))[1]
    $$""")
    op.execute("""
    CREATE TABLE search_words (
        word text COLLATE "C" CONSTRAINT search_words_pkey PRIMARY KEY,
        stem text,
        trigrams integer NOT NULL,
        documents bigint NOT NULL
    )""")
    op.execute("CREATE INDEX search_words_stem_idx ON search_words (stem)")
    op.execute("""
    CREATE TABLE search_word_trigrams (
        trigram text COLLATE "C" NOT NULL,
        length integer NOT NULL,
        word text COLLATE "C" NOT NULL,
        CONSTRAINT search_word_trigrams_pkey PRIMARY KEY (trigram, length, word)
    )""")
    op.execute("""
    CREATE TABLE search_word_pending (
        word text COLLATE "C" NOT NULL,
        published_at timestamptz NOT NULL,
        story_id bigint NOT NULL,
        CONSTRAINT search_word_pending_pkey PRIMARY KEY (word, published_at, story_id)
    )""")
    op.execute("CREATE INDEX search_word_pending_story_id_idx ON search_word_pending (story_id)")
    op.execute(_TRACK)
    for event, transitions in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(f"""
        CREATE TRIGGER stories_{event.lower()}_words AFTER {event} ON stories
            REFERENCING {transitions}
            FOR EACH STATEMENT EXECUTE FUNCTION search_words_track()""")


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER stories_{event}_words ON stories")
    op.execute("DROP FUNCTION search_words_track()")
    for table in ("search_word_pending", "search_word_trigrams", "search_words"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION search_stem(text)")
    op.execute("DROP FUNCTION word_trigrams(text)")
    op.execute("ALTER TABLE stories DROP COLUMN vocabulary")
