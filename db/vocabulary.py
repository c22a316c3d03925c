"""The search vocabulary (migration 0011): completions for a search box and "did you mean".

The vocabulary is the words of published stories' titles, summaries and topic names, as
written (lower case), each with how many stories readers can see that hold it: its stored
count minus the scheduled stories with it whose time has not come (so nothing unpublished is
ever offered, and counting does not grow with the number of stories). Deep dives' words are
not in it: a deep dive's title and dek mostly repeat its story's.

- Completions: the visible words that begin with the word being typed, most stories first
  (among the CANDIDATES x first that most stories hold, scheduled ones included).
- Suggestions: a query word that fewer than RARE_BELOW visible stories hold (by its stem,
  so "ukrainians" counts the stories that say "ukrainian") and that search finds in fewer
  than RARE_BELOW stories and deep dives (their bodies too) is replaced by the most similar
  vocabulary word, by trigram similarity (shared / all distinct trigrams, as pg_trgm's
  similarity(); at least SIMILAR, at most 2 letters longer or shorter) that at least POPULAR
  times as many stories hold as hold or find the word; ties go to the commoner word. Stop
  words, "or" and words with digits are left as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from db.json_sql import Slots
from db.pool import Pool
from db.text_search import SEARCH_CONFIG
from db.visibility import visible, visible_deep_dive

WORDS = """ARRAY(
    SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple', {0}))) AS w
    WHERE w ~ '^[^0-9[:punct:][:space:]]{{2,40}}$')"""
"""SQL for the vocabulary of a text (the SQL `{0}`): its distinct words, sorted."""
RESTEM = "UPDATE search_words SET stem = search_stem(word)"
"""Run when the text-search configuration changes: every word's stem in the new one."""

CANDIDATES = 4
"""Completions rank the CANDIDATES x first words with the prefix that most stories hold
(their stored count, scheduled stories included) by how many readers can see: counting a
word's scheduled stories costs a read of them, which a short prefix's every word need not."""
RARE_BELOW = 3
SIMILAR = 0.25
POPULAR = 10
MAX_COMPLETIONS = 20


def _visible(word: str) -> str:
    """SQL for how many stories readers can see that hold the search_words row `word`."""
    return f"""({word}.documents - (SELECT count(*) FROM search_word_pending p
        WHERE p.word = {word}.word AND p.published_at > now()))"""


def _found(table: str, alias: str, visible: str, word: str) -> str:
    """SQL for how many visible rows of `table` the search finds for the SQL `word`,
    counted up to RARE_BELOW."""
    return f"""(SELECT count(*) FROM (SELECT 1 FROM {table} {alias}
        WHERE {alias}.search_vector @@ plainto_tsquery({SEARCH_CONFIG}, {word}) AND {visible}
        LIMIT {RARE_BELOW}) AS found)"""


def completions_sql(slots: Slots, head: str, prefix: str | None, first: int) -> str:
    """SQL for up to `first` completions of the word `prefix` (lower case; none when None)
    after the text `head`: rows of position, query (head and the word), word and
    story_count."""
    start, before, limit = slots.add(prefix, "text"), slots.add(head, "text"), slots.add(first)
    return f"""
SELECT row_number() OVER (ORDER BY c.story_count DESC, c.word) AS position,
    {before} || c.word AS query, c.word, c.story_count
FROM (
    SELECT v.word, {_visible("v")} AS story_count FROM (
        SELECT * FROM search_words v
        WHERE {start} IS NOT NULL AND v.stem IS NOT NULL AND v.documents > 0
          AND v.word >= {start} COLLATE "C" AND v.word < ({start} || chr(1114111)) COLLATE "C"
        ORDER BY v.documents DESC, v.word LIMIT {CANDIDATES} * {limit}::int
    ) AS v
) AS c
WHERE c.story_count > 0
ORDER BY c.story_count DESC, c.word LIMIT {limit}::int"""


def suggestions_sql(slots: Slots, text: str, tail: str = "") -> str:
    """SQL for the "did you mean" queries of the search text `text`: no row, or one of
    position, query (the text with its misspelt words replaced, in their case) and
    corrections (a JSON array of objects: word as typed and suggestion, in text order).
    `tail` (a word being typed, say) follows the query unchanged."""
    asked, after = slots.add(text, "text"), slots.add(tail, "text")
    similarity = "c.shared::float8 / (cardinality(word_trigrams(s.word)) + v.trigrams - c.shared)"
    return f"""
WITH tokens AS (
    SELECT t.n, t.m[1] AS token
    FROM regexp_matches({asked}, '[^[:space:][:punct:]]+|[[:space:][:punct:]]+', 'g')
        WITH ORDINALITY AS t(m, n)
),
words AS (
    SELECT n, token, lower(token) AS word, search_stem(lower(token)) AS stem FROM tokens
    WHERE token ~ '^[^0-9[:punct:][:space:]]{{3,40}}$' AND lower(token) <> 'or'
),
suspects AS (
    SELECT w.*, coalesce((
        SELECT sum({_visible("v")}) FROM search_words v WHERE v.stem = w.stem
    ), 0) AS story_count
    FROM words w WHERE w.stem IS NOT NULL
),
rare AS MATERIALIZED (SELECT * FROM suspects WHERE story_count < {RARE_BELOW}),
counted AS MATERIALIZED (
    SELECT r.*, {_found("stories", "x", visible("x"), "r.word")}
        + {_found("deep_dives", "x", visible_deep_dive("x"), "r.word")} AS found
    FROM rare r
),
unfound AS (SELECT * FROM counted WHERE found < {RARE_BELOW}),
fixes AS (
    SELECT s.n, s.token, CASE
        WHEN s.token = upper(s.token) THEN upper(f.word)
        WHEN s.token = initcap(s.token) THEN initcap(f.word)
        ELSE f.word END AS fix
    FROM unfound s CROSS JOIN LATERAL (
        SELECT v.word FROM (
            SELECT t.word, count(*) AS shared FROM search_word_trigrams t
            WHERE t.trigram = ANY(word_trigrams(s.word))
              AND t.length BETWEEN length(s.word) - 2 AND length(s.word) + 2
            GROUP BY t.word
        ) AS c
        JOIN search_words v ON v.word = c.word
        CROSS JOIN LATERAL (SELECT {_visible("v")} AS story_count) AS seen
        WHERE v.stem IS NOT NULL AND v.stem <> s.stem AND {similarity} >= {SIMILAR}
          AND seen.story_count > 0
          AND seen.story_count >= {POPULAR} * greatest(s.story_count, s.found)
        ORDER BY {similarity} DESC, seen.story_count DESC, v.word
        LIMIT 1
    ) AS f
)
SELECT 1 AS position, string_agg(coalesce(f.fix, k.token), '' ORDER BY k.n) || {after} AS query,
    (SELECT jsonb_agg(jsonb_build_object('word', x.token, 'suggestion', x.fix) ORDER BY x.n)
        FROM fixes x) AS corrections
FROM tokens k LEFT JOIN fixes f ON f.n = k.n
HAVING EXISTS (SELECT 1 FROM fixes)"""


@dataclass(frozen=True)
class Completion:
    query: str
    word: str
    story_count: int


@dataclass(frozen=True)
class Correction:
    word: str
    suggestion: str


@dataclass(frozen=True)
class Suggestion:
    query: str
    corrections: list[Correction]


async def completions(pool: Pool, head: str, prefix: str | None, first: int) -> list[Completion]:
    slots = Slots()
    rows = await pool.fetch(completions_sql(slots, head, prefix, first), *slots.values)
    return [Completion(row["query"], row["word"], row["story_count"]) for row in rows]


async def suggestions(pool: Pool, text: str, tail: str = "") -> list[Suggestion]:
    slots = Slots()
    rows = await pool.fetch(suggestions_sql(slots, text, tail), *slots.values)
    return [Suggestion(row["query"], _corrections(row["corrections"])) for row in rows]


def _corrections(stored: Any) -> list[Correction]:
    found = orjson.loads(stored) if isinstance(stored, str | bytes) else stored
    return [Correction(item["word"], item["suggestion"]) for item in found]


# --- checking ----------------------------------------------------------------------------

DIFFERENCES = """
SELECT 'word' AS kind, coalesce(v.word, c.word) AS word, v.documents AS stored,
    coalesce(c.n, 0) AS expected
FROM search_words v FULL JOIN (
    SELECT w AS word, count(*) AS n FROM stories s CROSS JOIN LATERAL unnest(s.vocabulary) AS w
    WHERE s.status = 'PUBLISHED' GROUP BY w
) AS c ON c.word = v.word
WHERE v.documents IS DISTINCT FROM coalesce(c.n, 0)
UNION ALL
SELECT 'pending', coalesce(p.word, e.word), p.story_id, e.story_id
FROM (
    SELECT word, story_id, published_at FROM search_word_pending WHERE published_at > now()
) AS p FULL JOIN (
    SELECT w AS word, s.id AS story_id, s.published_at
    FROM stories s CROSS JOIN LATERAL unnest(s.vocabulary) AS w
    WHERE s.status = 'PUBLISHED' AND s.published_at > now()
) AS e ON e.word = p.word AND e.story_id = p.story_id AND e.published_at = p.published_at
WHERE p.word IS NULL OR e.word IS NULL
"""
"""Each word whose stored story count is not a recount of the stories' vocabularies, and
each pending word of a scheduled story that is missing or extra (stored, expected story)."""


async def verify(pool: Pool) -> AsyncIterator[tuple[str, int, str, Any, Any]]:
    """The differences above as (kind, 0, "<kind> <word>", stored, expected)."""
    for row in await pool.fetch(DIFFERENCES):
        yield "vocabulary", 0, f"{row['kind']} {row['word']}", row["stored"], row["expected"]
