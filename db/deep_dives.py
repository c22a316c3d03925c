from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from db import listings
from db.json_sql import Slots
from db.paging import (
    FeedCursor,
    PageKey,
    Rows,
    count_sql,
    counts_by_owner,
    feed_window,
    fetch_pages,
    filter_conditions,
    owned_window,
    window,
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
    hero_image_url: str | None
    """Its own lead image (pages fall back to its story's)."""
    hero_image_alt: str | None
    hero_image_caption: str | None
    hero_image_credit: str | None
    # The stored figures (content.figures.DeepDiveFigures, kept by db.figures).
    table_of_contents: list[dict[str, Any]]
    word_count: int
    read_time_minutes: int
    share_text: str


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


def deep_dive_rows(where: str, scope: Scope) -> str:
    """SQL for the record columns of the deep dives visible in `scope` that meet `where` (on
    `d`)."""
    return f"SELECT {_DIVE} FROM deep_dives d WHERE {where} AND {visible_deep_dive('d', scope)}"


def deep_dive_rows_by(column: str, value: str, scope: Scope) -> str:
    """SQL for the visible deep dives whose `column` is the SQL `value`."""
    return deep_dive_rows(f"d.{column} = {value}", scope)


def section_rows(deep_dive: str) -> str:
    """SQL for the sections of the deep dive whose id is the SQL `deep_dive`, in order
    (`position`)."""
    return f"""SELECT deep_dive_id AS owner, position, anchor, heading, body, body_html, body_text
        FROM deep_dive_sections WHERE deep_dive_id {deep_dive}"""


def citation_rows(deep_dive: str) -> str:
    return f"""SELECT deep_dive_id AS owner, position, source_id, note FROM deep_dive_citations
        WHERE deep_dive_id {deep_dive}"""


_BY_IDS = per_scope(lambda scope: deep_dive_rows("d.id = ANY($1::bigint[])", scope))
_BY_SLUG = per_scope(lambda scope: deep_dive_rows("d.slug = $1", scope))
_BY_STORY_IDS = per_scope(lambda scope: deep_dive_rows("d.story_id = ANY($1::bigint[])", scope))
_SECTIONS = section_rows("= ANY($1::bigint[])") + " ORDER BY deep_dive_id, position"
_CITATIONS = citation_rows("= ANY($1::bigint[])") + " ORDER BY deep_dive_id, position"
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


def topic_deep_dives(topic: str, scope: Scope) -> tuple[Rows, str]:
    """What the deep-dive page of the topic whose id is the SQL `topic` walks, and the
    condition selecting its deep dives: the listing for readers, every one in a preview."""
    if scope is Scope.PUBLIC:
        return _LISTED, listings.deep_dive_entries(_TOPIC_LIST.format(topic))
    return _ROWS[Scope.PREVIEW], _ABOUT_TOPIC.format(topic)


def topic_deep_dive_count(topic: str, scope: Scope) -> str:
    """SQL for how many deep dives that page lists (a stored size for readers)."""
    if scope is Scope.PUBLIC:
        return listings.visible_count("deep_dive_listings", _TOPIC_LIST.format(topic))
    return f"(SELECT count(*) FROM deep_dives d WHERE {_ABOUT_TOPIC.format(topic)})"


_TOPIC_WINDOW = {
    scope: {
        after: owned_window(_DIVE, *topic_deep_dives("k.owner_id", scope), after=after)
        for after in (False, True)
    }
    for scope in Scope
}
_TOPIC_COUNTS = per_scope(
    lambda scope: (
        f"""SELECT k.owner, {topic_deep_dive_count("k.owner", scope)} AS n
        FROM unnest($1::bigint[]) AS k(owner)"""
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


_TOPIC_ID = "(SELECT id FROM topics WHERE slug = {0})"
_FILTER_SQL = {
    "category": """EXISTS (SELECT 1 FROM stories fs JOIN topics c ON c.id = fs.category_id
                   WHERE fs.id = d.story_id AND c.slug = {value})""",
    "topic": _ABOUT_TOPIC.format(_TOPIC_ID.format("{value}")),
    "published_after": "d.published_at >= {value}",
    "published_before": "d.published_at < {value}",
    "syndicatable": "d.syndicatable = {value}",
}


def feed(dive_filter: DeepDiveFilter, scope: Scope, slots: Slots) -> tuple[Rows, list[str]]:
    """What a deep-dive list walks and the conditions that select its deep dives: a listing
    for readers (every deep dive, or a topic's when the filter names one), every deep dive
    in a preview."""
    listed = scope is Scope.PUBLIC
    topic = listed and dive_filter.topic is not None

    def condition(field: str, slot: str) -> str:
        if field == "topic" and topic:
            return listings.deep_dive_entries(_TOPIC_LIST.format(_TOPIC_ID.format(slot)))
        return _FILTER_SQL[field].replace("{value}", slot)

    where = filter_conditions(dive_filter, condition, visible_deep_dive("d", scope), slots)
    if listed and not topic:
        where.insert(0, listings.deep_dive_entries(f"'{listings.ALL_DEEP_DIVES}'"))
    return (_LISTED if listed else _ROWS[scope]), where


def feed_count(dive_filter: DeepDiveFilter, scope: Scope, slots: Slots) -> str:
    """SQL for how many deep dives the list holds: a stored size for every deep dive or one
    topic's (constant time), else a count of the matches."""
    given = [f.name for f in fields(dive_filter) if getattr(dive_filter, f.name) is not None]
    if scope is Scope.PUBLIC and given == []:
        return listings.visible_count("deep_dive_listings", f"'{listings.ALL_DEEP_DIVES}'")
    if scope is Scope.PUBLIC and given == ["topic"]:
        topic = _TOPIC_ID.format(slots.add(dive_filter.topic))
        return listings.visible_count("deep_dive_listings", _TOPIC_LIST.format(topic))
    return count_sql(*feed(dive_filter, scope, slots))


async def deep_dive_feed(
    pool: Pool,
    dive_filter: DeepDiveFilter,
    first: int,
    after: FeedCursor | None,
    scope: Scope = Scope.PUBLIC,
) -> list[DeepDive]:
    """Up to first + 1 visible deep dives, newest first, after the cursor."""
    slots = Slots()
    sql = feed_page(dive_filter, scope, slots, limit=first + 1, after=after)
    return [build(DeepDive, row) for row in await pool.fetch(sql, *slots.values)]


def feed_page(
    dive_filter: DeepDiveFilter,
    scope: Scope,
    slots: Slots,
    *,
    limit: int,
    after: FeedCursor | None,
) -> str:
    """SQL for up to `limit` of a deep-dive list's deep dives, newest first, after the cursor."""
    rows, where = feed(dive_filter, scope, slots)
    return window(_DIVE, rows, where, slots, limit=limit, after=after)


def topic_page(
    topic: str, scope: Scope, slots: Slots, *, limit: int, after: FeedCursor | None
) -> str:
    """SQL for up to `limit` deep dives of a topic's page (topic: the SQL id)."""
    rows, condition = topic_deep_dives(topic, scope)
    return window(_DIVE, rows, [condition], slots, limit=limit, after=after)


async def deep_dive_feed_count(
    pool: Pool, dive_filter: DeepDiveFilter, scope: Scope = Scope.PUBLIC
) -> int:
    slots = Slots()
    sql = f"SELECT {feed_count(dive_filter, scope, slots)}"
    count: int = await pool.fetchval(sql, *slots.values)
    return count
