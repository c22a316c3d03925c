"""Full-text search over stories and deep dives: the stored documents and the ranked query.

Each story and deep dive keeps a weighted tsvector (its search document), rebuilt by this
module whenever it, its topics or its sections change:

- story: title (A), summary (B), topic names (C)
- deep dive: title (A), dek (B), key actor names and section headings (C), section bodies (D)

Ranking: score = relevance x freshness, where relevance is ts_rank with weights
D 0.1, C 0.2, B 0.4, A 1.0 (length-normalised), and freshness falls from 1 towards
FRESHNESS_FLOOR with a half-life of FRESHNESS_HALF_LIFE_DAYS, measured from the moment the
first page was asked for (`as_of`, carried in the cursor), so later pages rank exactly like the
first. Ties break by kind and id, descending.

A query that matches more than RANKED_PER_KIND stories (or deep dives) ranks only the newest
that many of them; older matches are found by narrowing the query or the dates. totalCount
counts every match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content import clock
from db.pool import Connection, Pool
from db.stories import story_condition
from db.text_search import SEARCH_CONFIG, tsquery
from db.visibility import Scope, feed_time, per_scope, visible, visible_deep_dive

log = logging.getLogger(__name__)

DOCUMENT_VERSION = 1
"""Bump when the documents below change: the next start rebuilds every vector."""

RANKED_PER_KIND = 5_000
"""A query matching more stories (or deep dives) than this ranks only the newest this many:
ranking costs a read of each match's document, and common words match hundreds of thousands."""
FRESHNESS_FLOOR = 0.5
FRESHNESS_HALF_LIFE_DAYS = 30.0
KINDS = ("story", "deep_dive")

# Private-use characters mark matches in ts_headline output, so the caller can HTML-escape
# the text first and only then turn the marks into tags.
MATCH_START = "\ue000"
MATCH_END = "\ue001"
# --- the stored documents ---------------------------------------------------------------

_STORY_DOCUMENTS = f"""
UPDATE stories s SET search_vector =
    setweight(to_tsvector(c.config, s.title), 'A')
    || setweight(to_tsvector(c.config, s.summary), 'B')
    || setweight(to_tsvector(c.config, coalesce((
        SELECT string_agg(t.name, ' ' ORDER BY st.position)
        FROM story_topics st JOIN topics t ON t.id = st.topic_id WHERE st.story_id = s.id
    ), '')), 'C')
FROM (SELECT {SEARCH_CONFIG} AS config) AS c
WHERE s.id = ANY($1::bigint[])
"""
_DEEP_DIVE_DOCUMENTS = f"""
UPDATE deep_dives d SET search_vector =
    setweight(to_tsvector(c.config, d.title), 'A')
    || setweight(to_tsvector(c.config, d.dek), 'B')
    || setweight(to_tsvector(c.config, coalesce((
        SELECT string_agg(t.name, ' ' ORDER BY a.position)
        FROM deep_dive_key_actors a JOIN topics t ON t.id = a.topic_id
        WHERE a.deep_dive_id = d.id
    ), '') || ' ' || coalesce((
        SELECT string_agg(x.heading, ' ' ORDER BY x.position)
        FROM deep_dive_sections x WHERE x.deep_dive_id = d.id
    ), '')), 'C')
    || setweight(to_tsvector(c.config, coalesce((
        SELECT string_agg(x.body, ' ' ORDER BY x.position)
        FROM deep_dive_sections x WHERE x.deep_dive_id = d.id
    ), '')), 'D')
FROM (SELECT {SEARCH_CONFIG} AS config) AS c
WHERE d.id = ANY($1::bigint[])
"""
_NAMING_TOPIC = {
    "story": "SELECT story_id FROM story_topics WHERE topic_id = $1",
    "deep_dive": "SELECT deep_dive_id FROM deep_dive_key_actors WHERE topic_id = $1",
}
_ALL_IDS = {
    "story": "SELECT id FROM stories WHERE id > $1 ORDER BY id LIMIT $2",
    "deep_dive": "SELECT id FROM deep_dives WHERE id > $1 ORDER BY id LIMIT $2",
}
_DOCUMENTS = {"story": _STORY_DOCUMENTS, "deep_dive": _DEEP_DIVE_DOCUMENTS}


async def refresh(conn: Connection | Pool, kind: str, ids: list[int]) -> None:
    """Rebuild the search documents of these stories or deep dives."""
    if ids:
        await conn.execute(_DOCUMENTS[kind], ids)


async def refresh_topic(conn: Connection, topic_id: int) -> None:
    """Rebuild the documents that contain the topic's name."""
    for kind in KINDS:
        ids = [row[0] for row in await conn.fetch(_NAMING_TOPIC[kind], topic_id)]
        await refresh(conn, kind, ids)


class UnknownConfig(ValueError):
    """The configured text-search configuration does not exist in the database."""


async def ensure_index(pool: Pool, config: str, batch: int = 20_000) -> bool:
    """Make the stored documents match `config` and DOCUMENT_VERSION, rebuilding them all
    when either changed. True when it rebuilt. Raises UnknownConfig."""
    async with pool.acquire() as conn:
        # One process rebuilds; the others wait here and then find nothing to do.
        await conn.execute("SELECT pg_advisory_lock(hashtext('newsgraph.search_index'))")
        await conn.execute("SET statement_timeout = 0")  # a rebuild may take minutes
        try:
            return await _ensure_index(conn, config, batch)
        finally:
            await conn.execute("RESET statement_timeout")
            await conn.execute("SELECT pg_advisory_unlock(hashtext('newsgraph.search_index'))")


async def _ensure_index(conn: Connection, config: str, batch: int) -> bool:
    known = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = $1)", config
    )
    if not known:
        names = await conn.fetch("SELECT cfgname FROM pg_ts_config ORDER BY cfgname")
        raise UnknownConfig(
            f"no text-search configuration {config!r}; this database has: "
            + ", ".join(row[0] for row in names)
        )
    stored = await conn.fetchrow("SELECT config, document_version FROM search_settings")
    if stored["config"] == config and stored["document_version"] == DOCUMENT_VERSION:
        return False
    log.info("rebuilding search documents (configuration %s)", config)
    await conn.execute("UPDATE search_settings SET config = $1", config)
    for kind in KINDS:
        last = 0
        while ids := [row[0] for row in await conn.fetch(_ALL_IDS[kind], last, batch)]:
            await refresh(conn, kind, ids)
            last = ids[-1]
    await conn.execute("UPDATE search_settings SET document_version = $1", DOCUMENT_VERSION)
    return True


# --- the query ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilter:
    """Narrows search hits; every field that is set must hold (AND). Category, topic and
    outlet apply to a deep dive through the story it analyses."""

    category: str | None = None
    topic: str | None = None
    outlet: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    kinds: tuple[str, ...] = KINDS


@dataclass(frozen=True)
class SearchCursor:
    as_of: datetime
    score: float
    kind: str
    id: int


@dataclass(frozen=True)
class Hit:
    kind: str  # "story" or "deep_dive"
    id: int
    score: float
    headline: str


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    as_of: datetime


_HEADLINE_OPTIONS = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=35, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


# $1 query, $2 category, $3 topic, $4 outlet, $5 after, $6 before, $7 kinds; the page adds
# $8 as_of, $9-$11 the cursor (score, kind, id) and $12 the limit.
def _story_filters(story: str) -> str:
    return " AND ".join(
        f"({slot}::text IS NULL OR {story_condition(field, story, slot)})"
        for field, slot in (("category", "$2"), ("topic", "$3"), ("outlet", "$4"))
    )


def _time_filters(item: str, scope: Scope) -> str:
    time = feed_time(item, scope)
    return f"($5::timestamptz IS NULL OR {time} >= $5) AND ($6::timestamptz IS NULL OR {time} < $6)"


def _story_matches(scope: Scope) -> str:
    return f"""FROM stories s, q
        WHERE 'story' = ANY($7::text[]) AND s.search_vector @@ q.query AND {visible("s", scope)}
          AND {_story_filters("s")} AND {_time_filters("s", scope)}"""


def _deep_dive_matches(scope: Scope) -> str:
    return f"""FROM deep_dives d JOIN stories ds ON ds.id = d.story_id, q
        WHERE 'deep_dive' = ANY($7::text[]) AND d.search_vector @@ q.query
          AND {visible_deep_dive("d", scope)}
          AND {_story_filters("ds")} AND {_time_filters("d", scope)}"""


def _score(item: str, scope: Scope) -> str:
    age = f"$8::timestamptz - {feed_time(item, scope)}"
    age_days = f"greatest(0, extract(epoch FROM {age}) / 86400)"
    return (
        f"ts_rank('{{0.1, 0.2, 0.4, 1.0}}', {item}.search_vector, q.query, 1)::float8 "
        f"* ({FRESHNESS_FLOOR} + {1 - FRESHNESS_FLOOR} "
        f"* power(0.5, {age_days} / {FRESHNESS_HALF_LIFE_DAYS}))"
    )


_QUERY = f"WITH q AS (SELECT {tsquery('$1')} AS query)"


def _hits(scope: Scope) -> str:
    # Each kind ranks at most its RANKED_PER_KIND newest matches (see the module docstring).
    return f"""
{_QUERY},
hits AS (
    SELECT 'story' AS kind, s.id, {_score("s", scope)} AS score
    FROM (
        SELECT s.id {_story_matches(scope)}
        ORDER BY {feed_time("s", scope)} DESC, s.id DESC LIMIT {RANKED_PER_KIND}
    ) AS newest JOIN stories s ON s.id = newest.id, q
    UNION ALL
    SELECT 'deep_dive', d.id, {_score("d", scope)}
    FROM (
        SELECT d.id {_deep_dive_matches(scope)}
        ORDER BY {feed_time("d", scope)} DESC, d.id DESC LIMIT {RANKED_PER_KIND}
    ) AS newest JOIN deep_dives d ON d.id = newest.id, q
)
"""


_PAGE = per_scope(
    lambda scope: (
        _hits(scope)
        + f"""
SELECT page.kind, page.id, page.score, ts_headline({SEARCH_CONFIG}, CASE page.kind
    WHEN 'story' THEN (SELECT s.title || ' — ' || s.summary FROM stories s WHERE s.id = page.id)
    ELSE (SELECT d.title || ' — ' || d.dek || ' — ' || coalesce(string_agg(x.body, ' '
            ORDER BY x.position), '')
          FROM deep_dives d LEFT JOIN deep_dive_sections x ON x.deep_dive_id = d.id
          WHERE d.id = page.id GROUP BY d.id)
    END, q.query, '{_HEADLINE_OPTIONS}') AS headline
FROM (
    SELECT * FROM hits
    WHERE $9::float8 IS NULL OR (score, kind, id) < ($9::float8, $10::text, $11::bigint)
    ORDER BY score DESC, kind DESC, id DESC
    LIMIT $12
) AS page, q
ORDER BY page.score DESC, page.kind DESC, page.id DESC
"""
    )
)
_COUNT = per_scope(
    lambda scope: (
        f"""
{_QUERY}
SELECT (SELECT count(*) {_story_matches(scope)}) + (SELECT count(*) {_deep_dive_matches(scope)})
"""
    )
)


def _arguments(query: str, search_filter: SearchFilter) -> list[Any]:
    f = search_filter
    return [
        query,
        f.category,
        f.topic,
        f.outlet,
        f.published_after,
        f.published_before,
        list(f.kinds),
    ]


async def search(
    pool: Pool,
    query: str,
    first: int,
    after: SearchCursor | None,
    search_filter: SearchFilter = SearchFilter(),
    scope: Scope = Scope.PUBLIC,
) -> SearchPage:
    """Up to first + 1 hits, best first, ranked as of the first page's time."""
    as_of = after.as_of if after is not None else clock.now()
    position = (after.score, after.kind, after.id) if after is not None else (None, None, None)
    arguments = _arguments(query, search_filter)
    rows = await pool.fetch(_PAGE[scope], *arguments, as_of, *position, first + 1)
    hits = [Hit(row["kind"], row["id"], row["score"], row["headline"]) for row in rows]
    return SearchPage(hits, as_of)


async def search_count(
    pool: Pool,
    query: str,
    search_filter: SearchFilter = SearchFilter(),
    scope: Scope = Scope.PUBLIC,
) -> int:
    count: int = await pool.fetchval(_COUNT[scope], *_arguments(query, search_filter))
    return count
