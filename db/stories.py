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
    share_text: str


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
    # Uncorrelated, so the planner can start from the topic's or outlet's stories (a few
    # hundred of a million) instead of testing every story it walks.
    "topic": """{s}.id IN (SELECT ft.story_id FROM story_topics ft
                WHERE ft.topic_id = (SELECT id FROM topics WHERE slug = {value}))""",
    "outlet": """{s}.id IN (SELECT fs.story_id FROM story_sources fs
                JOIN sources so ON so.id = fs.source_id
                WHERE so.outlet_id = (SELECT id FROM outlets WHERE slug = {value}))""",
    "published_after": "{s}.published_at >= {value}",
    "published_before": "{s}.published_at < {value}",
    "sentiment": "{sentiment} = {value}",
    "blindspot": "{s}.blindspot = ANY({value}::text[])",
    "query": f"{{s}}.search_vector @@ {tsquery('{value}')}",
    "statuses": f"{lifecycle_status('{s}')} = ANY({{value}}::text[])",
    "syndicatable": "{s}.syndicatable = {value}",
}


def story_condition(field: str, alias: str, slot: str) -> str:
    """SQL for one StoryFilter field on the stories row `alias`, its value in parameter slot
    `slot` (e.g. "$3")."""
    return _FILTER_SQL[field].format(s=alias, value=slot, sentiment=effective_sentiment(alias))


# Filters that name a list of db.listings: a public read pages through its entries.
_LISTED_BY = {
    "category": "'stories/category/' || (SELECT id FROM topics WHERE slug = {value})",
    "topic": "'stories/topic/' || (SELECT id FROM topics WHERE slug = {value})",
    "outlet": "'stories/outlet/' || (SELECT id FROM outlets WHERE slug = {value})",
    "blindspot": """'stories/blindspot' || CASE WHEN cardinality({value}::text[]) = 1
        THEN '/' || ({value}::text[])[1] ELSE '' END""",
}


def outlet_list(slot: str) -> str:
    """SQL for the key of the db.listings list of the published stories of the outlet whose
    slug is in parameter slot `slot`."""
    return _LISTED_BY["outlet"].format(value=slot)


def topic_list(slot: str) -> str:
    """SQL for the key of the db.listings list of the topic whose slug is in slot `slot`."""
    return _LISTED_BY["topic"].format(value=slot)


def topic_stories(slot: str) -> str:
    """SQL for the ids of the stories of the topic whose slug is in parameter slot `slot`."""
    return (
        "SELECT ft.story_id FROM story_topics ft "
        f"WHERE ft.topic_id = (SELECT id FROM topics WHERE slug = {slot})"
    )


STORY_COLUMNS = columns(Story, "s", status=lifecycle_status("s"))
_ROWS = per_scope(lambda scope: Rows("stories s", feed_time("s", scope), "s.id"))
_LISTED = Rows(listings.STORY_ENTRY, "e.published_at", "e.story_id")


def story_rows(where: str, scope: Scope) -> str:
    """SQL for the record columns of the stories visible in `scope` that meet `where` (on
    `s`)."""
    return f"SELECT {STORY_COLUMNS} FROM stories s WHERE {where} AND {visible('s', scope)}"


def story_rows_by(column: str, value: str, scope: Scope) -> str:
    """SQL for the visible stories whose `column` is the SQL `value`."""
    return story_rows(f"s.{column} = {value}", scope)


_BY_IDS = per_scope(lambda scope: story_rows("s.id = ANY($1::bigint[])", scope))
_BY_SLUG = per_scope(lambda scope: story_rows("s.slug = $1", scope))
# What a topic's or an outlet's page lists in a preview: every story with it, any status.
_PREVIEW_OWNED = {
    "topic": "s.id IN (SELECT st.story_id FROM story_topics st WHERE st.topic_id = {owner})",
    "outlet": """s.id IN (SELECT ss.story_id FROM story_sources ss
        JOIN sources so ON so.id = ss.source_id WHERE so.outlet_id = {owner})""",
}
_PREVIEW_OWNED_COUNT = {
    "topic": "(SELECT count(*) FROM story_topics st WHERE st.topic_id = {owner})",
    "outlet": """(SELECT count(DISTINCT ss.story_id) FROM sources so
        JOIN story_sources ss ON ss.source_id = so.id WHERE so.outlet_id = {owner})""",
}


def owned_stories(kind: str, owner: str, scope: Scope) -> tuple[Rows, str]:
    """What the stories page of a topic or an outlet (`kind`) whose id is the SQL `owner`
    walks, and the condition that selects its stories: the listing for readers, every story
    in a preview."""
    if scope is Scope.PUBLIC:
        return _LISTED, listings.story_entries(f"'stories/{kind}/' || {owner}")
    return _ROWS[Scope.PREVIEW], _PREVIEW_OWNED[kind].format(owner=owner)


def owned_story_count(kind: str, owner: str, scope: Scope) -> str:
    """SQL for how many stories that page lists (a stored size for readers)."""
    if scope is Scope.PUBLIC:
        return listings.visible_count("story_listings", f"'stories/{kind}/' || {owner}")
    return _PREVIEW_OWNED_COUNT[kind].format(owner=owner)


def _owned_windows(kind: str) -> dict[Scope, dict[bool, str]]:
    return {
        scope: {
            after: owned_window(
                STORY_COLUMNS, *owned_stories(kind, "k.owner_id", scope), after=after
            )
            for after in (False, True)
        }
        for scope in Scope
    }


def _owned_counts(kind: str) -> dict[Scope, str]:
    return per_scope(
        lambda scope: (
            f"""SELECT k.owner, {owned_story_count(kind, "k.owner", scope)} AS n
            FROM unnest($1::bigint[]) AS k(owner)"""
        )
    )


_TOPIC_WINDOW, _TOPIC_COUNTS = _owned_windows("topic"), _owned_counts("topic")
_OUTLET_WINDOW, _OUTLET_COUNTS = _owned_windows("outlet"), _owned_counts("outlet")


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
    slots = Slots()
    sql = feed_page(story_filter, scope, slots, limit=first + 1, after=after)
    return [build(Story, row) for row in await pool.fetch(sql, *slots.values)]


def feed_page(
    story_filter: StoryFilter, scope: Scope, slots: Slots, *, limit: int, after: FeedCursor | None
) -> str:
    """SQL for up to `limit` of a story list's stories, newest first, after the cursor."""
    rows, where = feed(story_filter, scope, slots)
    return window(STORY_COLUMNS, rows, where, slots, limit=limit, after=after)


def owned_page(
    kind: str, owner: str, scope: Scope, slots: Slots, *, limit: int, after: FeedCursor | None
) -> str:
    """SQL for up to `limit` stories of a topic's or outlet's page (owner: the SQL id)."""
    rows, condition = owned_stories(kind, owner, scope)
    return window(STORY_COLUMNS, rows, [condition], slots, limit=limit, after=after)


def effective_sentiment(alias: str) -> str:
    """The sentiment a story shows: the editor's, else the inferred one."""
    return f"coalesce({alias}.sentiment, {alias}.sentiment_inferred)"


def sentiment_source(alias: str) -> str:
    return f"(CASE WHEN {alias}.sentiment IS NULL THEN 'INFERRED' ELSE 'SET' END)"


async def story_feed_count(
    pool: Pool, story_filter: StoryFilter, scope: Scope = Scope.PUBLIC
) -> int:
    slots = Slots()
    count: int = await pool.fetchval(
        f"SELECT {feed_count(story_filter, scope, slots)}", *slots.values
    )
    return count


def feed_count(story_filter: StoryFilter, scope: Scope, slots: Slots) -> str:
    """SQL for how many stories the list holds: a stored list size when the list is all
    stories or one listed filter (constant time), else a count of the matches."""
    lead = _lead(story_filter, scope)
    given = [f.name for f in fields(story_filter) if getattr(story_filter, f.name) is not None]
    if scope is Scope.PUBLIC and given == ([lead] if lead else []):
        if lead is None:
            return listings.visible_count("story_listings", f"'{listings.ALL_STORIES}'")
        key = _LISTED_BY[lead].format(value=slots.add(getattr(story_filter, lead)))
        return listings.visible_count("story_listings", key)
    return count_sql(*feed(story_filter, scope, slots))


def _lead(story_filter: StoryFilter, scope: Scope) -> str | None:
    """The listed filter a public read pages through (the most selective kind first)."""
    if scope is not Scope.PUBLIC:
        return None
    order = ("topic", "outlet", "category", "blindspot")
    return next((f for f in order if getattr(story_filter, f) is not None), None)


def feed(story_filter: StoryFilter, scope: Scope, slots: Slots) -> tuple[Rows, list[str]]:
    """What a story list walks, and the conditions that select its stories (values go to
    `slots`)."""
    lead = _lead(story_filter, scope)

    def condition(field: str, slot: str) -> str:
        if field == lead:
            return listings.story_entries(_LISTED_BY[field].format(value=slot))
        return story_condition(field, "s", slot)

    where = filter_conditions(story_filter, condition, visible("s", scope), slots)
    return (_LISTED if lead else _ROWS[scope]), where


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
