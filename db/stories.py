from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from db.paging import FeedCursor, PageKey, counts_by_owner, feed_window, fetch_pages
from db.pool import Pool
from db.records import build, columns, in_key_order
from db.visibility import visible


@dataclass(frozen=True)
class Story:
    id: int
    slug: str
    title: str
    summary: str
    category_id: int | None
    sentiment: str
    hero_image_url: str | None
    hero_image_alt: str | None
    hero_image_caption: str | None
    hero_image_credit: str | None
    status: str
    published_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoryFilter:
    """Narrows a story list; every field that is set must hold (AND)."""

    category: str | None = None
    topic: str | None = None
    outlet: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    sentiment: str | None = None
    blindspot: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class Coverage:
    """How a story's sources fold into sides, and its blindspot (view story_coverage)."""

    story_id: int
    lefts: int
    centers: int
    rights: int
    unrated: int
    blindspot: str | None


# Fixed SQL per filter field; only values travel as parameters. `{}` is the parameter slot.
_FILTER_SQL = {
    "category": "s.category_id = (SELECT id FROM topics WHERE slug = {})",
    "topic": """EXISTS (SELECT 1 FROM story_topics st JOIN topics t ON t.id = st.topic_id
                WHERE st.story_id = s.id AND t.slug = {})""",
    "outlet": """EXISTS (SELECT 1 FROM story_sources ss
                JOIN sources so ON so.id = ss.source_id JOIN outlets o ON o.id = so.outlet_id
                WHERE ss.story_id = s.id AND o.slug = {})""",
    "published_after": "s.published_at >= {}",
    "published_before": "s.published_at < {}",
    "sentiment": "s.sentiment = {}",
    "blindspot": """EXISTS (SELECT 1 FROM story_coverage c
                WHERE c.story_id = s.id AND c.blindspot = {})""",
    "query": "s.search_vector @@ websearch_to_tsquery('english', {})",
}
_STORY = columns(Story, "s")
_BY_IDS = f"SELECT {_STORY} FROM stories s WHERE s.id = ANY($1::bigint[]) AND {visible('s')}"
_BY_SLUG = f"SELECT {_STORY} FROM stories s WHERE s.slug = $1 AND {visible('s')}"
_COVERAGE = f"""
SELECT {columns(Coverage, "c")} FROM story_coverage c WHERE c.story_id = ANY($1::bigint[])
"""
_TOPIC_WINDOW = f"""
SELECT k.topic_id AS owner, p.*
FROM unnest($1::bigint[]) AS k(topic_id)
CROSS JOIN LATERAL (
    SELECT {_STORY}
    FROM story_topics st JOIN stories s ON s.id = st.story_id
    WHERE st.topic_id = k.topic_id AND {visible("s")}
      AND ($3::timestamptz IS NULL OR (s.published_at, s.id) < ($3, $4))
    ORDER BY s.published_at DESC, s.id DESC
    LIMIT $2
) AS p
"""
_TOPIC_COUNTS = f"""
SELECT st.topic_id AS owner, count(*) AS n
FROM story_topics st JOIN stories s ON s.id = st.story_id
WHERE st.topic_id = ANY($1::bigint[]) AND {visible("s")}
GROUP BY st.topic_id
"""


async def stories_by_ids(pool: Pool, ids: Sequence[int]) -> list[Story | None]:
    rows = await pool.fetch(_BY_IDS, list(ids))
    return in_key_order(ids, (build(Story, row) for row in rows), lambda s: s.id)


async def story_by_slug(pool: Pool, slug: str) -> Story | None:
    row = await pool.fetchrow(_BY_SLUG, slug)
    return build(Story, row) if row else None


async def story_feed(
    pool: Pool, story_filter: StoryFilter, first: int, after: FeedCursor | None
) -> list[Story]:
    """Up to first + 1 visible stories, newest first, after the cursor."""
    where, args = _where(story_filter)
    if after is not None:
        args += list(after)
        where.append(f"(s.published_at, s.id) < (${len(args) - 1}, ${len(args)})")
    args.append(first + 1)
    sql = f"""
        SELECT {_STORY} FROM stories s WHERE {" AND ".join(where)}
        ORDER BY s.published_at DESC, s.id DESC LIMIT ${len(args)}"""
    return [build(Story, row) for row in await pool.fetch(sql, *args)]


async def story_feed_count(pool: Pool, story_filter: StoryFilter) -> int:
    where, args = _where(story_filter)
    count: int = await pool.fetchval(
        f"SELECT count(*) FROM stories s WHERE {' AND '.join(where)}", *args
    )
    return count


async def coverage_by_story_ids(pool: Pool, story_ids: Sequence[int]) -> list[Coverage]:
    rows = await pool.fetch(_COVERAGE, list(story_ids))
    found = in_key_order(story_ids, (build(Coverage, row) for row in rows), lambda c: c.story_id)
    return [
        c or Coverage(story_id, 0, 0, 0, 0, None)
        for story_id, c in zip(story_ids, found, strict=True)
    ]


async def topic_story_pages(pool: Pool, keys: Sequence[PageKey[FeedCursor]]) -> list[list[Story]]:
    """Per key, up to first + 1 visible stories with the topic, newest first."""
    return await fetch_pages(keys, feed_window(pool, _TOPIC_WINDOW, Story))


async def topic_story_counts(pool: Pool, topic_ids: Sequence[int]) -> list[int]:
    return await counts_by_owner(pool, _TOPIC_COUNTS, topic_ids)


def _where(story_filter: StoryFilter) -> tuple[list[str], list[Any]]:
    where, args = [visible("s")], []
    for field in fields(StoryFilter):
        value = getattr(story_filter, field.name)
        if value is not None:
            args.append(value)
            where.append(_FILTER_SQL[field.name].format(f"${len(args)}"))
    return where, args
