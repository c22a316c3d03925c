"""The root fields' argument checks, shared by their resolvers (schema.query) and their
compiled forms (below), so that both engines accept and refuse exactly the same arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from content.access import Permission, Viewer
from db import deep_dives as db_deep_dives
from db import json_sql
from db import outlets as db_outlets
from db import sources as db_sources
from db import stories as db_stories
from db import topics as db_topics
from db.paging import feed_cursor_sql
from db.visibility import Scope
from schema.access import permit, scope_of
from schema.compiled import Page
from schema.inputs import checked_slug, checked_text
from schema.relay import check_first, decode_cursor, feed_page, from_global_id

if TYPE_CHECKING:
    from schema.planner import Place


@dataclass(frozen=True)
class Lookup:
    slug: str
    scope: Scope


def lookup(viewer: Viewer, slug: str, preview: bool) -> Lookup:
    return Lookup(checked_slug(slug), scope_of(viewer, preview))


@dataclass(frozen=True)
class NodeLookup:
    type_name: str
    pk: int
    scope: Scope


def node_lookup(viewer: Viewer, global_id: str, preview: bool) -> NodeLookup:
    checked_text(global_id, "id", max_length=200)
    scope = scope_of(viewer, preview)
    type_name, pk = from_global_id(global_id)
    return NodeLookup(type_name, pk, scope)


@dataclass(frozen=True)
class StoryList:
    filter: db_stories.StoryFilter
    scope: Scope
    first: int
    after: tuple[datetime, int] | None


def story_list(
    viewer: Viewer, first: int, after: str | None, story_filter: Any, preview: bool
) -> StoryList:
    """stories(first, after, filter, preview): a status filter asks for a preview."""
    found = story_filter.to_db() if story_filter else db_stories.StoryFilter()
    if found.statuses is not None:
        permit(viewer, Permission.PREVIEW)
        preview = True
    scope = scope_of(viewer, preview)
    page = feed_page(first, after)
    return StoryList(found, scope, page.first, page.after)


def blindspot_list(first: int, after: str | None, side: Any) -> StoryList:
    sides = [side.value] if side else ["LEFT", "RIGHT"]
    page = feed_page(first, after)
    return StoryList(db_stories.StoryFilter(blindspot=sides), Scope.PUBLIC, page.first, page.after)


@dataclass(frozen=True)
class DeepDiveList:
    filter: db_deep_dives.DeepDiveFilter
    scope: Scope
    first: int
    after: tuple[datetime, int] | None


def deep_dive_list(
    viewer: Viewer, first: int, after: str | None, dive_filter: Any, preview: bool
) -> DeepDiveList:
    check_first(first)
    scope = scope_of(viewer, preview)
    found = dive_filter.to_db() if dive_filter else db_deep_dives.DeepDiveFilter()
    page = feed_page(first, after)
    return DeepDiveList(found, scope, page.first, page.after)


@dataclass(frozen=True)
class OutletList:
    first: int
    after: str | None


def outlet_list(first: int, after: str | None) -> OutletList:
    check_first(first)
    cursor = decode_cursor(after, "outlet", 1)
    return OutletList(first, str(cursor[0]) if cursor else None)


# --- compiled forms -------------------------------------------------------------------------


def _viewer(caller: Any) -> Viewer:
    viewer: Viewer = caller.viewer
    return viewer


def _lookup(kwargs: dict[str, Any], caller: Any) -> Lookup:
    return lookup(_viewer(caller), kwargs["slug"], kwargs.get("preview", False))


def _one_row(at: Place, sql: str, scope: Scope) -> str:
    row = at.new_alias()
    return json_sql.nullable(json_sql.over(at.child(alias=row, scope=scope), sql, row))


@dataclass(frozen=True)
class BySlug:
    """story(slug), deepDive(slug), topic(slug), outlet(slug): the visible row with the slug.
    A preview token opens an item for one caller: that stays with Strawberry."""

    rows: Callable[[str, Scope], str]

    def compile(self, at: Place) -> str:
        from schema.planner import NotCompiled

        if at.prepare(lambda kwargs, caller: kwargs.get("preview_token")) is not None:
            raise NotCompiled("a preview token's item is read through Strawberry")
        found = at.prepare(_lookup)
        rows = self.rows
        sql = at.bind(
            _lookup, lambda slots, request: rows(slots.add(request.slug, "text"), request.scope)
        )
        return _one_row(at, sql, found.scope)


STORY = BySlug(lambda slug, scope: db_stories.story_rows_by("slug", slug, scope))
DEEP_DIVE = BySlug(lambda slug, scope: db_deep_dives.deep_dive_rows_by("slug", slug, scope))
TOPIC = BySlug(lambda slug, scope: db_topics.topic_rows_by("slug", slug))
OUTLET = BySlug(lambda slug, scope: db_outlets.outlet_rows_by("slug", slug))

_NODE_ROWS: dict[str, Callable[[str, Scope], str]] = {
    "Story": lambda pk, scope: db_stories.story_rows_by("id", pk, scope),
    "DeepDive": lambda pk, scope: db_deep_dives.deep_dive_rows_by("id", pk, scope),
    "Source": lambda pk, scope: db_sources.source_rows_by("id", pk, scope),
    "Outlet": lambda pk, scope: db_outlets.outlet_rows_by("id", pk),
    "Topic": lambda pk, scope: db_topics.topic_rows_by("id", pk),
}


def _node(kwargs: dict[str, Any], caller: Any) -> NodeLookup:
    return node_lookup(_viewer(caller), kwargs["id"], kwargs.get("preview", False))


@dataclass(frozen=True)
class ByNode:
    """node(id): the visible row of the id's type, whichever it is."""

    def compile(self, at: Place) -> str:
        from schema.planner import NotCompiled

        if at.prepare(lambda kwargs, caller: kwargs.get("preview_token")) is not None:
            raise NotCompiled("a preview token's item is read through Strawberry")
        found = at.prepare(_node)
        type_name = at.bind(_node, lambda slots, node: slots.add(node.type_name, "text"))
        pk = at.bind(_node, lambda slots, node: slots.add(node.pk, "bigint"))
        branches = []
        for type_ in at.concrete_types():
            if type_.name not in _NODE_ROWS:
                raise NotCompiled(f"node() of a {type_.name}")
            row = at.new_alias()
            built = at.child(alias=row, scope=found.scope, type_=type_)
            sql = _NODE_ROWS[type_.name](pk, found.scope)
            branches.append((json_sql.quote(type_.name), json_sql.over(built, sql, row)))
        return json_sql.nullable(json_sql.case(type_name, branches))


def _stories(kwargs: dict[str, Any], caller: Any) -> StoryList:
    return story_list(
        _viewer(caller), kwargs["first"], kwargs["after"], kwargs["filter"], kwargs["preview"]
    )


def _blindspots(kwargs: dict[str, Any], caller: Any) -> StoryList:
    return blindspot_list(kwargs["first"], kwargs["after"], kwargs["side"])


def _story_page(alias: str, scope: Scope, request: StoryList, slots: json_sql.Slots) -> str:
    return db_stories.feed_page(
        request.filter, request.scope, slots, limit=request.first + 1, after=request.after
    )


def _story_count(alias: str, scope: Scope, request: StoryList, slots: json_sql.Slots) -> str:
    return db_stories.feed_count(request.filter, request.scope, slots)


STORIES = Page(
    prepare=_stories,
    window=_story_page,
    cursor=feed_cursor_sql,
    count=_story_count,
    scope=lambda request, scope: request.scope,
)
BLINDSPOTS = Page(
    prepare=_blindspots,
    window=_story_page,
    cursor=feed_cursor_sql,
    count=_story_count,
    scope=lambda request, scope: request.scope,
)


def _deep_dives(kwargs: dict[str, Any], caller: Any) -> DeepDiveList:
    return deep_dive_list(
        _viewer(caller), kwargs["first"], kwargs["after"], kwargs["filter"], kwargs["preview"]
    )


DEEP_DIVES = Page(
    prepare=_deep_dives,
    window=lambda alias, scope, request, slots: db_deep_dives.feed_page(
        request.filter, request.scope, slots, limit=request.first + 1, after=request.after
    ),
    cursor=feed_cursor_sql,
    count=lambda alias, scope, request, slots: db_deep_dives.feed_count(
        request.filter, request.scope, slots
    ),
    scope=lambda request, scope: request.scope,
)
OUTLETS = Page(
    prepare=lambda kwargs, caller: outlet_list(kwargs["first"], kwargs["after"]),
    window=lambda alias, scope, request, slots: db_outlets.outlet_window(
        slots, limit=request.first + 1, after_slug=request.after
    ),
    cursor=db_outlets.outlet_cursor,
    count=lambda alias, scope, request, slots: db_outlets.OUTLET_COUNT,
)
