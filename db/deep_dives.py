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
from db.visibility import Scope, feed_time, lifecycle_status, per_scope, visible_deep_dive


@dataclass(frozen=True)
class DeepDive:
    id: int
    story_id: int
    slug: str
    title: str
    dek: str
    status: str
    published_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    syndicatable: bool


@dataclass(frozen=True)
class DeepDiveFilter:
    """Narrows a deep-dive list; every field that is set must hold (AND)."""

    category: str | None = None
    topic: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    syndicatable: bool | None = None


@dataclass(frozen=True)
class Section:
    position: int
    heading: str
    body: str


@dataclass(frozen=True)
class Citation:
    position: int
    source_id: int
    note: str


_DIVE = columns(DeepDive, "d", status=lifecycle_status("d"))
_BY_IDS = per_scope(
    lambda scope: (
        f"SELECT {_DIVE} FROM deep_dives d "
        f"WHERE d.id = ANY($1::bigint[]) AND {visible_deep_dive('d', scope)}"
    )
)
_BY_SLUG = per_scope(
    lambda scope: (
        f"SELECT {_DIVE} FROM deep_dives d WHERE d.slug = $1 AND {visible_deep_dive('d', scope)}"
    )
)
_BY_STORY_IDS = per_scope(
    lambda scope: (
        f"SELECT {_DIVE} FROM deep_dives d "
        f"WHERE d.story_id = ANY($1::bigint[]) AND {visible_deep_dive('d', scope)}"
    )
)
_SECTIONS = """
SELECT deep_dive_id AS owner, position, heading, body FROM deep_dive_sections
WHERE deep_dive_id = ANY($1::bigint[]) ORDER BY deep_dive_id, position
"""
_CITATIONS = """
SELECT deep_dive_id AS owner, position, source_id, note FROM deep_dive_citations
WHERE deep_dive_id = ANY($1::bigint[]) ORDER BY deep_dive_id, position
"""
# Deep dives about a topic: it is one of their key actors, or a topic of their story.
_ABOUT_TOPIC = """d.id IN (
    SELECT a.deep_dive_id FROM deep_dive_key_actors a WHERE a.topic_id = {0}
    UNION
    SELECT about.id FROM story_topics st JOIN deep_dives about ON about.story_id = st.story_id
    WHERE st.topic_id = {0}
)"""
_TOPIC_WINDOW = per_scope(
    lambda scope: owned_window(
        _DIVE,
        "deep_dives d",
        f"{_ABOUT_TOPIC.format('k.owner_id')} AND {visible_deep_dive('d', scope)}",
        alias="d",
        time=feed_time("d", scope),
    )
)
_TOPIC_COUNTS = per_scope(
    lambda scope: (
        f"""
SELECT k.topic_id AS owner, (
    SELECT count(*) FROM deep_dives d
    WHERE {_ABOUT_TOPIC.format("k.topic_id")} AND {visible_deep_dive("d", scope)}
) AS n
FROM unnest($1::bigint[]) AS k(topic_id)
"""
    )
)


async def deep_dives_by_ids(
    pool: Pool, ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[DeepDive | None]:
    rows = await pool.fetch(_BY_IDS[scope], list(ids))
    return in_key_order(ids, (build(DeepDive, row) for row in rows), lambda d: d.id)


async def deep_dive_by_slug(pool: Pool, slug: str, scope: Scope = Scope.PUBLIC) -> DeepDive | None:
    row = await pool.fetchrow(_BY_SLUG[scope], slug)
    return build(DeepDive, row) if row else None


async def deep_dives_by_story_ids(
    pool: Pool, story_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[DeepDive | None]:
    rows = await pool.fetch(_BY_STORY_IDS[scope], list(story_ids))
    return in_key_order(story_ids, (build(DeepDive, row) for row in rows), lambda d: d.story_id)


async def sections_by_deep_dive_ids(pool: Pool, ids: Sequence[int]) -> list[list[Section]]:
    rows = await pool.fetch(_SECTIONS, list(ids))
    return grouped(ids, ((row["owner"], build(Section, row)) for row in rows))


async def citations_by_deep_dive_ids(pool: Pool, ids: Sequence[int]) -> list[list[Citation]]:
    rows = await pool.fetch(_CITATIONS, list(ids))
    return grouped(ids, ((row["owner"], build(Citation, row)) for row in rows))


async def topic_deep_dive_pages(
    pool: Pool, keys: Sequence[PageKey[FeedCursor]], scope: Scope = Scope.PUBLIC
) -> list[list[DeepDive]]:
    """Per key, up to first + 1 visible deep dives about the topic, newest first."""
    return await fetch_pages(keys, feed_window(pool, _TOPIC_WINDOW[scope], DeepDive))


async def topic_deep_dive_counts(
    pool: Pool, topic_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[int]:
    return await counts_by_owner(pool, _TOPIC_COUNTS[scope], topic_ids)


_FILTER_SQL = {
    "category": """EXISTS (SELECT 1 FROM stories fs JOIN topics c ON c.id = fs.category_id
                   WHERE fs.id = d.story_id AND c.slug = {value})""",
    "topic": _ABOUT_TOPIC.format("(SELECT id FROM topics WHERE slug = {value})"),
    "published_after": "d.published_at >= {value}",
    "published_before": "d.published_at < {value}",
    "syndicatable": "d.syndicatable = {value}",
}


_LIST = NewestFirst(_DIVE, "deep_dives d", "d")


def _where(dive_filter: DeepDiveFilter, scope: Scope) -> tuple[list[str], list[Any]]:
    return filter_conditions(
        dive_filter,
        lambda field, slot: _FILTER_SQL[field].replace("{value}", slot),
        visible_deep_dive("d", scope),
    )


async def deep_dive_feed(
    pool: Pool,
    dive_filter: DeepDiveFilter,
    first: int,
    after: FeedCursor | None,
    scope: Scope = Scope.PUBLIC,
) -> list[DeepDive]:
    """Up to first + 1 visible deep dives, newest first, after the cursor."""
    where, args = _where(dive_filter, scope)
    rows = await _LIST.page(pool, where, args, scope=scope, first=first, after=after)
    return [build(DeepDive, row) for row in rows]


async def deep_dive_feed_count(
    pool: Pool, dive_filter: DeepDiveFilter, scope: Scope = Scope.PUBLIC
) -> int:
    return await _LIST.count(pool, *_where(dive_filter, scope))
