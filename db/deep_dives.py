from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from db import listings
from db.paging import (
    FeedCursor,
    PageKey,
    Rows,
    count_where,
    counts_by_owner,
    feed_window,
    fetch_pages,
    filter_conditions,
    newest_first,
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
    # The stored figures (content.figures.DeepDiveFigures, kept by db.figures).
    table_of_contents: list[dict[str, Any]]
    word_count: int
    read_time_minutes: int


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
    """A section as written (Markdown body) and as rendered when it was written."""

    position: int
    anchor: str
    heading: str
    body: str
    body_html: str
    body_text: str


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
SELECT deep_dive_id AS owner, position, anchor, heading, body, body_html, body_text
FROM deep_dive_sections
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
_ROWS = per_scope(lambda scope: Rows("deep_dives d", feed_time("d", scope), "d.id"))
_LISTED = Rows(listings.DEEP_DIVE_ENTRY, "e.published_at", "e.deep_dive_id")
_TOPIC_LIST = "'deep-dives/topic/' || {0}"
_TOPIC_WINDOW = {
    Scope.PUBLIC: owned_window(
        _DIVE, _LISTED, listings.deep_dive_entries(_TOPIC_LIST.format("k.owner_id"))
    ),
    Scope.PREVIEW: owned_window(_DIVE, _ROWS[Scope.PREVIEW], _ABOUT_TOPIC.format("k.owner_id")),
}
_TOPIC_COUNTS = {
    Scope.PUBLIC: f"""
SELECT k.topic_id AS owner,
    {listings.visible_count("deep_dive_listings", _TOPIC_LIST.format("k.topic_id"))} AS n
FROM unnest($1::bigint[]) AS k(topic_id)""",
    Scope.PREVIEW: f"""
SELECT k.topic_id AS owner, (
    SELECT count(*) FROM deep_dives d WHERE {_ABOUT_TOPIC.format("k.topic_id")}
) AS n
FROM unnest($1::bigint[]) AS k(topic_id)""",
}


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


_TOPIC_ID = "(SELECT id FROM topics WHERE slug = {0})"
_FILTER_SQL = {
    "category": """EXISTS (SELECT 1 FROM stories fs JOIN topics c ON c.id = fs.category_id
                   WHERE fs.id = d.story_id AND c.slug = {value})""",
    "topic": _ABOUT_TOPIC.format(_TOPIC_ID.format("{value}")),
    "published_after": "d.published_at >= {value}",
    "published_before": "d.published_at < {value}",
    "syndicatable": "d.syndicatable = {value}",
}


def _where(dive_filter: DeepDiveFilter, scope: Scope) -> tuple[Rows, list[str], list[Any]]:
    """Readers page through a listing: every deep dive, or a topic's when the filter names
    one; a preview through every deep dive."""
    listed = scope is Scope.PUBLIC
    topic = listed and dive_filter.topic is not None

    def condition(field: str, slot: str) -> str:
        if field == "topic" and topic:
            return listings.deep_dive_entries(_TOPIC_LIST.format(_TOPIC_ID.format(slot)))
        return _FILTER_SQL[field].replace("{value}", slot)

    where, args = filter_conditions(dive_filter, condition, visible_deep_dive("d", scope))
    if listed and not topic:
        where.insert(0, listings.deep_dive_entries(f"'{listings.ALL_DEEP_DIVES}'"))
    return (_LISTED if listed else _ROWS[scope]), where, args


async def deep_dive_feed(
    pool: Pool,
    dive_filter: DeepDiveFilter,
    first: int,
    after: FeedCursor | None,
    scope: Scope = Scope.PUBLIC,
) -> list[DeepDive]:
    """Up to first + 1 visible deep dives, newest first, after the cursor."""
    rows, where, args = _where(dive_filter, scope)
    found = await newest_first(pool, _DIVE, rows, where, args, first=first, after=after)
    return [build(DeepDive, row) for row in found]


async def deep_dive_feed_count(
    pool: Pool, dive_filter: DeepDiveFilter, scope: Scope = Scope.PUBLIC
) -> int:
    """How many deep dives the list holds: a stored list size for every deep dive or one
    topic's (constant time), else a count of the matches."""
    given = [f.name for f in fields(dive_filter) if getattr(dive_filter, f.name) is not None]
    if scope is Scope.PUBLIC and given in ([], ["topic"]):
        key = (
            _TOPIC_LIST.format(_TOPIC_ID.format("$1")) if given else f"'{listings.ALL_DEEP_DIVES}'"
        )
        args = [dive_filter.topic] if given else []
        sql = f"SELECT {listings.visible_count('deep_dive_listings', key)}"
        count: int = await pool.fetchval(sql, *args)
        return count
    return await count_where(pool, *_where(dive_filter, scope))
