from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.paging import (
    FeedCursor,
    NewestFirst,
    PageKey,
    counts_by_owner,
    feed_window,
    fetch_pages,
    filter_conditions,
    owned_window,
)
from db.pool import Pool
from db.records import build, columns, grouped, in_key_order
from db.text_search import tsquery
from db.visibility import Scope, feed_time, lifecycle_status, per_scope, visible


@dataclass(frozen=True)
class Story:
    id: int
    slug: str
    title: str
    summary: str
    category_id: int | None
    sentiment: str | None
    sentiment_inferred: str
    hero_image_url: str | None
    hero_image_alt: str | None
    hero_image_caption: str | None
    hero_image_credit: str | None
    status: str
    published_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    syndicatable: bool


@dataclass(frozen=True)
class StoryFilter:
    """Narrows a story list; every field that is set must hold (AND)."""

    category: str | None = None
    topic: str | None = None
    outlet: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    sentiment: str | None = None
    blindspot: list[str] | None = None
    query: str | None = None
    statuses: list[str] | None = None
    syndicatable: bool | None = None


@dataclass(frozen=True)
class Coverage:
    """How a story's sources fold into sides, and its blindspot (view story_coverage)."""

    story_id: int
    lefts: int
    centers: int
    rights: int
    unrated: int
    blindspot: str | None


@dataclass(frozen=True)
class Facet:
    """How many of a story's sources share one value (None: the outlet has none)."""

    value: str | None
    count: int


@dataclass(frozen=True)
class CoverageDetail:
    """A story's sources by outlet factuality and by outlet country, and when they ran."""

    story_id: int
    factuality: list[Facet]
    countries: list[Facet]
    earliest_source_at: datetime | None
    latest_source_at: datetime | None


def coverage_of(story_id: str) -> str:
    """The story_coverage row of one story, as a subquery to select from or join LATERAL.

    OFFSET 0 keeps the planner from merging the view into the outer query, where it would
    aggregate the sources of every story (seconds on 1M stories) instead of this one's."""
    return f"(SELECT * FROM story_coverage cov WHERE cov.story_id = {story_id} OFFSET 0)"


# Fixed SQL per filter field; only values travel as parameters. `{s}` is the stories row's
# alias, `{value}` the parameter slot.
_FILTER_SQL = {
    "category": "{s}.category_id = (SELECT id FROM topics WHERE slug = {value})",
    "topic": """EXISTS (SELECT 1 FROM story_topics ft JOIN topics t ON t.id = ft.topic_id
                WHERE ft.story_id = {s}.id AND t.slug = {value})""",
    "outlet": """EXISTS (SELECT 1 FROM story_sources fs
                JOIN sources so ON so.id = fs.source_id JOIN outlets o ON o.id = so.outlet_id
                WHERE fs.story_id = {s}.id AND o.slug = {value})""",
    "published_after": "{s}.published_at >= {value}",
    "published_before": "{s}.published_at < {value}",
    "sentiment": "coalesce({s}.sentiment, {s}.sentiment_inferred) = {value}",
    "blindspot": f"(SELECT c.blindspot FROM {coverage_of('{s}.id')} AS c) = ANY({{value}}::text[])",
    "query": f"{{s}}.search_vector @@ {tsquery('{value}')}",
    "statuses": f"{lifecycle_status('{s}')} = ANY({{value}}::text[])",
    "syndicatable": "{s}.syndicatable = {value}",
}


def story_condition(field: str, alias: str, slot: str) -> str:
    """SQL for one StoryFilter field on the stories row `alias`, its value in parameter slot
    `slot` (e.g. "$3")."""
    return _FILTER_SQL[field].format(s=alias, value=slot)


STORY_COLUMNS = columns(Story, "s", status=lifecycle_status("s"))
_LIST = NewestFirst(STORY_COLUMNS, "stories s", "s")
_BY_IDS = per_scope(
    lambda scope: (
        f"SELECT {STORY_COLUMNS} FROM stories s "
        f"WHERE s.id = ANY($1::bigint[]) AND {visible('s', scope)}"
    )
)
_BY_SLUG = per_scope(
    lambda scope: (
        f"SELECT {STORY_COLUMNS} FROM stories s WHERE s.slug = $1 AND {visible('s', scope)}"
    )
)
_COVERAGE = f"""
SELECT {columns(Coverage, "c")} FROM story_coverage c WHERE c.story_id = ANY($1::bigint[])
"""
_TOPIC_WINDOW = per_scope(
    lambda scope: owned_window(
        STORY_COLUMNS,
        "story_topics st JOIN stories s ON s.id = st.story_id",
        f"st.topic_id = k.owner_id AND {visible('s', scope)}",
        alias="s",
        time=feed_time("s", scope),
    )
)
_TOPIC_COUNTS = per_scope(
    lambda scope: (
        f"""
SELECT st.topic_id AS owner, count(*) AS n
FROM story_topics st JOIN stories s ON s.id = st.story_id
WHERE st.topic_id = ANY($1::bigint[]) AND {visible("s", scope)}
GROUP BY st.topic_id
"""
    )
)

# GROUPING(...) tells the grouping sets apart: 1 by factuality, 2 by country, 3 the whole story.
_COVERAGE_DETAIL = """
SELECT ss.story_id, GROUPING(o.factuality, o.country) AS facet, o.factuality, o.country,
    count(*) AS n, min(so.published_at) AS earliest, max(so.published_at) AS latest
FROM story_sources ss
JOIN sources so ON so.id = ss.source_id
JOIN outlets o ON o.id = so.outlet_id
WHERE ss.story_id = ANY($1::bigint[])
GROUP BY GROUPING SETS ((ss.story_id, o.factuality), (ss.story_id, o.country), (ss.story_id))
ORDER BY ss.story_id, n DESC, o.factuality, o.country
"""
_OUTLET_WINDOW = per_scope(
    lambda scope: owned_window(
        STORY_COLUMNS,
        "stories s",
        f"""s.id IN (SELECT ss.story_id FROM story_sources ss
            JOIN sources so ON so.id = ss.source_id WHERE so.outlet_id = k.owner_id)
        AND {visible("s", scope)}""",
        alias="s",
        time=feed_time("s", scope),
    )
)
_OUTLET_COUNTS = per_scope(
    lambda scope: (
        f"""
SELECT so.outlet_id AS owner, count(DISTINCT s.id) AS n
FROM sources so
JOIN story_sources ss ON ss.source_id = so.id
JOIN stories s ON s.id = ss.story_id
WHERE so.outlet_id = ANY($1::bigint[]) AND {visible("s", scope)}
GROUP BY so.outlet_id
"""
    )
)


async def stories_by_ids(
    pool: Pool, ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[Story | None]:
    rows = await pool.fetch(_BY_IDS[scope], list(ids))
    return in_key_order(ids, (build(Story, row) for row in rows), lambda s: s.id)


async def story_by_slug(pool: Pool, slug: str, scope: Scope = Scope.PUBLIC) -> Story | None:
    row = await pool.fetchrow(_BY_SLUG[scope], slug)
    return build(Story, row) if row else None


async def story_feed(
    pool: Pool,
    story_filter: StoryFilter,
    first: int,
    after: FeedCursor | None,
    scope: Scope = Scope.PUBLIC,
) -> list[Story]:
    """Up to first + 1 visible stories, newest first, after the cursor."""
    where, args = _where(story_filter, scope)
    rows = await _LIST.page(pool, where, args, scope=scope, first=first, after=after)
    return [build(Story, row) for row in rows]


async def story_feed_count(
    pool: Pool, story_filter: StoryFilter, scope: Scope = Scope.PUBLIC
) -> int:
    return await _LIST.count(pool, *_where(story_filter, scope))


async def coverage_by_story_ids(pool: Pool, story_ids: Sequence[int]) -> list[Coverage]:
    rows = await pool.fetch(_COVERAGE, list(story_ids))
    found = in_key_order(story_ids, (build(Coverage, row) for row in rows), lambda c: c.story_id)
    return [
        c or Coverage(story_id, 0, 0, 0, 0, None)
        for story_id, c in zip(story_ids, found, strict=True)
    ]


async def topic_story_pages(
    pool: Pool, keys: Sequence[PageKey[FeedCursor]], scope: Scope = Scope.PUBLIC
) -> list[list[Story]]:
    """Per key, up to first + 1 visible stories with the topic, newest first."""
    return await fetch_pages(keys, feed_window(pool, _TOPIC_WINDOW[scope], Story))


async def topic_story_counts(
    pool: Pool, topic_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[int]:
    return await counts_by_owner(pool, _TOPIC_COUNTS[scope], topic_ids)


def _where(story_filter: StoryFilter, scope: Scope) -> tuple[list[str], list[Any]]:
    return filter_conditions(
        story_filter, lambda field, slot: story_condition(field, "s", slot), visible("s", scope)
    )


async def coverage_details_by_story_ids(
    pool: Pool, story_ids: Sequence[int]
) -> list[CoverageDetail]:
    rows = await pool.fetch(_COVERAGE_DETAIL, list(story_ids))
    per_story = grouped(story_ids, ((row["story_id"], row) for row in rows))
    return [_detail(story_id, found) for story_id, found in zip(story_ids, per_story, strict=True)]


def _detail(story_id: int, rows: list[Any]) -> CoverageDetail:
    whole = next((row for row in rows if row["facet"] == 3), None)
    return CoverageDetail(
        story_id,
        factuality=[Facet(row["factuality"], row["n"]) for row in rows if row["facet"] == 1],
        countries=[Facet(row["country"], row["n"]) for row in rows if row["facet"] == 2],
        earliest_source_at=whole["earliest"] if whole else None,
        latest_source_at=whole["latest"] if whole else None,
    )


async def outlet_story_pages(
    pool: Pool, keys: Sequence[PageKey[FeedCursor]], scope: Scope = Scope.PUBLIC
) -> list[list[Story]]:
    """Per key, up to first + 1 visible stories citing the outlet, newest first."""
    return await fetch_pages(keys, feed_window(pool, _OUTLET_WINDOW[scope], Story))


async def outlet_story_counts(
    pool: Pool, outlet_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[int]:
    return await counts_by_owner(pool, _OUTLET_COUNTS[scope], outlet_ids)
