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
from db.records import build, columns, in_key_order
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
    # The stored figures (content.figures.StoryFigures, kept by db.figures).
    source_count: int
    lefts: int
    centers: int
    rights: int
    unrated: int
    left_percent: int | None
    center_percent: int | None
    right_percent: int | None
    dominant_side: str
    coverage_label: str
    blindspot: str | None
    factuality_shares: list[dict[str, Any]]
    country_shares: list[dict[str, Any]]
    earliest_source_at: datetime | None
    latest_source_at: datetime | None
    word_count: int
    read_time_minutes: int


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
    "blindspot": "{s}.blindspot = ANY({value}::text[])",
    "query": f"{{s}}.search_vector @@ {tsquery('{value}')}",
    "statuses": f"{lifecycle_status('{s}')} = ANY({{value}}::text[])",
    "syndicatable": "{s}.syndicatable = {value}",
}


def story_condition(field: str, alias: str, slot: str) -> str:
    """SQL for one StoryFilter field on the stories row `alias`, its value in parameter slot
    `slot` (e.g. "$3")."""
    return _FILTER_SQL[field].format(s=alias, value=slot)


# Filters that name a list of db.listings: a public read pages through its entries.
_LISTED_BY = {
    "category": "'stories/category/' || (SELECT id FROM topics WHERE slug = {value})",
    "topic": "'stories/topic/' || (SELECT id FROM topics WHERE slug = {value})",
    "outlet": "'stories/outlet/' || (SELECT id FROM outlets WHERE slug = {value})",
    "blindspot": """'stories/blindspot' || CASE WHEN cardinality({value}::text[]) = 1
        THEN '/' || ({value}::text[])[1] ELSE '' END""",
}

STORY_COLUMNS = columns(Story, "s", status=lifecycle_status("s"))
_ROWS = per_scope(lambda scope: Rows("stories s", feed_time("s", scope), "s.id"))
_LISTED = Rows(listings.STORY_ENTRY, "e.published_at", "e.story_id")
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


def _owned(owner: str, preview_condition: str) -> dict[Scope, str]:
    """Per-owner windows of the stories a topic or an outlet lists: its listing for readers,
    `preview_condition` (on `s`, owner `k.owner_id`) over every story in a preview."""
    listed = owned_window(
        STORY_COLUMNS, _LISTED, listings.story_entries(f"'stories/{owner}/' || k.owner_id")
    )
    preview = owned_window(STORY_COLUMNS, _ROWS[Scope.PREVIEW], preview_condition)
    return {Scope.PUBLIC: listed, Scope.PREVIEW: preview}


def _owned_counts(owner: str, preview_sql: str) -> dict[Scope, str]:
    listed = listings.visible_count("story_listings", f"'stories/{owner}/' || k.owner")
    public = f"SELECT k.owner, {listed} AS n FROM unnest($1::bigint[]) AS k(owner)"
    return {Scope.PUBLIC: public, Scope.PREVIEW: preview_sql}


_TOPIC_WINDOW = _owned(
    "topic", "s.id IN (SELECT st.story_id FROM story_topics st WHERE st.topic_id = k.owner_id)"
)
_TOPIC_COUNTS = _owned_counts(
    "topic",
    """SELECT st.topic_id AS owner, count(*) AS n FROM story_topics st
       WHERE st.topic_id = ANY($1::bigint[]) GROUP BY st.topic_id""",
)
_OUTLET_WINDOW = _owned(
    "outlet",
    """s.id IN (SELECT ss.story_id FROM story_sources ss
        JOIN sources so ON so.id = ss.source_id WHERE so.outlet_id = k.owner_id)""",
)
_OUTLET_COUNTS = _owned_counts(
    "outlet",
    """SELECT so.outlet_id AS owner, count(DISTINCT ss.story_id) AS n
       FROM sources so JOIN story_sources ss ON ss.source_id = so.id
       WHERE so.outlet_id = ANY($1::bigint[]) GROUP BY so.outlet_id""",
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
    rows, where, args = _where(story_filter, scope)
    found = await newest_first(pool, STORY_COLUMNS, rows, where, args, first=first, after=after)
    return [build(Story, row) for row in found]


async def story_feed_count(
    pool: Pool, story_filter: StoryFilter, scope: Scope = Scope.PUBLIC
) -> int:
    """How many stories the list holds: a stored list size when the list is all stories or
    one listed filter (constant time), else a count of the matches."""
    lead = _lead(story_filter, scope)
    given = [f.name for f in fields(story_filter) if getattr(story_filter, f.name) is not None]
    if scope is Scope.PUBLIC and given == ([lead] if lead else []):
        key = _LISTED_BY[lead].format(value="$1") if lead else f"'{listings.ALL_STORIES}'"
        args = [getattr(story_filter, lead)] if lead else []
        count: int = await pool.fetchval(
            f"SELECT {listings.visible_count('story_listings', key)}", *args
        )
        return count
    return await count_where(pool, *_where(story_filter, scope))


def _lead(story_filter: StoryFilter, scope: Scope) -> str | None:
    """The listed filter a public read pages through (the most selective kind first)."""
    if scope is not Scope.PUBLIC:
        return None
    return next(
        (
            f
            for f in ("topic", "outlet", "category", "blindspot")
            if getattr(story_filter, f) is not None
        ),
        None,
    )


def _where(story_filter: StoryFilter, scope: Scope) -> tuple[Rows, list[str], list[Any]]:
    lead = _lead(story_filter, scope)

    def condition(field: str, slot: str) -> str:
        if field == lead:
            return listings.story_entries(_LISTED_BY[field].format(value=slot))
        return story_condition(field, "s", slot)

    where, args = filter_conditions(story_filter, condition, visible("s", scope))
    return (_LISTED if lead else _ROWS[scope]), where, args


async def topic_story_pages(
    pool: Pool, keys: Sequence[PageKey[FeedCursor]], scope: Scope = Scope.PUBLIC
) -> list[list[Story]]:
    """Per key, up to first + 1 visible stories with the topic, newest first."""
    return await fetch_pages(keys, feed_window(pool, _TOPIC_WINDOW[scope], Story))


async def topic_story_counts(
    pool: Pool, topic_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[int]:
    return await counts_by_owner(pool, _TOPIC_COUNTS[scope], topic_ids)


async def outlet_story_pages(
    pool: Pool, keys: Sequence[PageKey[FeedCursor]], scope: Scope = Scope.PUBLIC
) -> list[list[Story]]:
    """Per key, up to first + 1 visible stories citing the outlet, newest first."""
    return await fetch_pages(keys, feed_window(pool, _OUTLET_WINDOW[scope], Story))


async def outlet_story_counts(
    pool: Pool, outlet_ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[int]:
    return await counts_by_owner(pool, _OUTLET_COUNTS[scope], outlet_ids)
