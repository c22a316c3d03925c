from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry

from content.access import Viewer
from db import deep_dives as db_deep_dives
from db import json_sql
from db import search as db_search
from db import stories as db_stories
from db.visibility import Scope
from schema.access import scope_of
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.enums import SearchType
from schema.errors import BadUserInput
from schema.inputs import aware, checked_query, optional_slug
from schema.relay import PageInfo, check_first, decode_cursor, encode_cursor, page_info
from schema.stories import Story

if TYPE_CHECKING:
    from schema.planner import Place

SearchResult = Annotated[Story | DeepDive, strawberry.union("SearchResult")]


@strawberry.input(
    description="Narrows search hits; every field that is set must hold. Category, topic and "
    "outlet apply to a deep dive through the story it analyses."
)
class SearchFilter:
    category: str | None = strawberry.field(default=None, description="Category topic slug.")
    topic: str | None = strawberry.field(default=None, description="Topic slug.")
    outlet: str | None = strawberry.field(
        default=None, description="Outlet slug: items whose story has a source from it."
    )
    published_after: datetime | None = strawberry.field(
        default=None, description="Published at or after this time (with offset)."
    )
    published_before: datetime | None = strawberry.field(
        default=None, description="Published before this time (with offset)."
    )
    types: list[SearchType] | None = strawberry.field(
        default=None, description="Only these kinds of item; default both."
    )

    def to_db(self) -> db_search.SearchFilter:
        if self.types is not None and not self.types:
            raise BadUserInput("`filter.types` must name at least one type.", field="filter.types")
        kinds = {SearchType.STORY: "story", SearchType.DEEP_DIVE: "deep_dive"}
        return db_search.SearchFilter(
            category=optional_slug(self.category, "filter.category"),
            topic=optional_slug(self.topic, "filter.topic"),
            outlet=optional_slug(self.outlet, "filter.outlet"),
            published_after=aware(self.published_after, "filter.publishedAfter"),
            published_before=aware(self.published_before, "filter.publishedBefore"),
            kinds=tuple(kinds[t] for t in self.types) if self.types else db_search.KINDS,
        )


@strawberry.type(description="A search hit with its highlighted snippet.")
class SearchEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this hit.")
    highlight: str = strawberry.field(
        description="A snippet with matched words wrapped in <mark>; all other text is "
        "HTML-escaped, so it is safe to insert as HTML."
    )
    node: SearchResult = strawberry.field(description="The story or deep dive that matched.")
    score: float = strawberry.field(
        description="Relevance times freshness, as ranked (higher is better); comparable "
        "only within one search."
    )


@strawberry.type(description="A page of search hits, best first.")
class SearchConnection:
    edges: list[SearchEdge] = strawberry.field(description="The hits of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    count: strawberry.Private[Callable[[], Awaitable[db_search.Count]]]

    @strawberry.field(
        description="How many stories and deep dives match in all: exact up to "
        f"{db_search.COUNT_EXACT_UP_TO:,}; beyond, {db_search.COUNT_EXACT_UP_TO:,}, a lower "
        "bound (see totalCountIsExact)."
    )
    async def total_count(self) -> int:
        return (await self.count()).total

    @strawberry.field(
        description="Whether totalCount is the exact number of matches (false when more than "
        f"{db_search.COUNT_EXACT_UP_TO:,} match)."
    )
    async def total_count_is_exact(self) -> bool:
        return (await self.count()).exact


@dataclass(frozen=True)
class SearchRequest:
    """search()'s arguments, checked, as both engines read them."""

    query: str
    filter: db_search.SearchFilter
    scope: Scope
    first: int
    after: db_search.SearchCursor | None


def search_request(
    viewer: Viewer,
    query: str,
    first: int,
    after: str | None,
    search_filter: SearchFilter | None,
    preview: bool,
    as_you_type: bool = False,
) -> SearchRequest:
    found = search_filter.to_db() if search_filter else SearchFilter().to_db()
    scope = scope_of(viewer, preview)
    checked = checked_query(query)
    check_first(first)
    last = _LAST_WORD.search(checked) if as_you_type else None
    if last and _being_typed(checked[: last.start()]):
        checked, found = checked[: last.start()], replace(found, prefix=last.group(1).lower())
    return SearchRequest(checked, found, scope, first, _position(after))


_LAST_WORD = re.compile(r"([^\W_]+)\s*$")
"""The word a query being typed ends with."""


def _being_typed(before: str) -> bool:
    """Whether the last word, after `before`, is a word of its own: not an -exclusion, not
    inside a "quoted phrase" (those keep their meaning)."""
    return (not before or before[-1].isspace()) and before.count('"') % 2 == 0


async def search(info: Info, request: SearchRequest) -> SearchConnection:
    pool, first, scope = info.context.pool, request.first, request.scope
    query, search_filter = request.query, request.filter
    found = await db_search.search(pool, query, first, request.after, search_filter, scope)
    page = found.hits[:first]
    loaders = info.context.loaders
    stories = await loaders.story_by_id[scope].load_many([h.id for h in page if h.kind == "story"])
    dives = await loaders.deep_dive_by_id[scope].load_many(
        [h.id for h in page if h.kind != "story"]
    )
    nodes: dict[tuple[str, int], Story | DeepDive] = {}
    nodes.update({("story", r.id): Story(record=r, scope=scope) for r in stories if r})
    nodes.update({("deep_dive", r.id): DeepDive(record=r, scope=scope) for r in dives if r})
    as_of = found.as_of.isoformat()
    edges = [
        SearchEdge(
            # The score as the database wrote it, so both engines' cursors are alike.
            cursor=encode_cursor("search", as_of, orjson.Fragment(h.score_text), h.kind, h.id),
            highlight=h.highlight,
            node=nodes[(h.kind, h.id)],
            score=h.score,
        )
        for h in page
        if (h.kind, h.id) in nodes
    ]
    has_next = len(found.hits) > first
    has_previous = request.after is not None
    return SearchConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], has_next, has_previous),
        count=_once(lambda: db_search.search_count(pool, query, search_filter, scope)),
    )


def _once(
    count: Callable[[], Awaitable[db_search.Count]],
) -> Callable[[], Awaitable[db_search.Count]]:
    """The count, made on first use and shared by totalCount and totalCountIsExact."""
    made: list[asyncio.Task[db_search.Count]] = []

    def shared() -> Awaitable[db_search.Count]:
        if not made:
            made.append(asyncio.ensure_future(count()))
        return asyncio.shield(made[0])

    return shared


def _position(after: str | None) -> db_search.SearchCursor | None:
    values = decode_cursor(after, "search", 4)
    if values is None:
        return None
    try:
        as_of, score, kind, hit_id = values
        at = datetime.fromisoformat(as_of)
        cursor = db_search.SearchCursor(
            at.astimezone(UTC) if at.tzinfo else at, float(score), str(kind), int(hit_id)
        )
    except (TypeError, ValueError):
        cursor = None
    if cursor is None or cursor.kind not in db_search.KINDS or cursor.as_of.tzinfo is None:
        raise BadUserInput(
            "`after` is not a cursor from this search; pass an endCursor or edge cursor.",
            field="after",
        )
    return cursor


# --- compiled ------------------------------------------------------------------------------


def _search(kwargs: dict[str, Any], caller: Any) -> SearchRequest:
    return search_request(
        caller.viewer,
        kwargs["query"],
        kwargs["first"],
        kwargs["after"],
        kwargs["filter"],
        kwargs["preview"],
        kwargs["as_you_type"],
    )


_ROWS: dict[str, tuple[str, Callable[[str, Scope], str]]] = {
    "Story": ("story", lambda row, scope: db_stories.story_rows_by("id", f"{row}.id", scope)),
    "DeepDive": (
        "deep_dive",
        lambda row, scope: db_deep_dives.deep_dive_rows_by("id", f"{row}.id", scope),
    ),
}


@dataclass(frozen=True)
class CompiledSearch:
    """search(): the hits page from the same statement as the resolver's, each node the
    story or deep dive its kind says. A hit's score is a float, which Python writes."""

    def compile(self, at: Place) -> str:
        request = at.prepare(_search)
        scope, bound = request.scope, {}
        at.plan_each_time()

        def as_of() -> str:
            if "as_of" not in bound:  # the page's and its cursors' time, bound once
                bound["as_of"] = at.bind(
                    _search, lambda slots, r: slots.add(db_search.as_of_for(r.after), "timestamptz")
                )
            return bound["as_of"]

        def page() -> str:
            time = as_of()
            return at.bind(
                _search,
                lambda slots, r: db_search.page_sql(
                    r.scope, slots, r.query, r.filter, as_of=time, after=r.after, limit=r.first + 1
                ),
            )

        def first() -> str:
            return at.bind(_search, lambda slots, r: slots.add(r.first, "int"))

        def node(place: Place, row: str) -> str:
            branches = []
            for type_ in place.concrete_types():
                kind, rows = _ROWS[type_.name]
                child = place.new_alias()
                built = place.child(alias=child, scope=scope, type_=type_)
                sql = json_sql.over(built, rows(row, scope), child)
                branches.append((json_sql.quote(kind), sql))
            return json_sql.nullable(json_sql.case(f"{row}.kind", branches))

        return at.connection(
            window=page,
            cursor=lambda row: db_search.search_cursor(row, as_of()),
            first=first,
            after_given=request.after is not None,
            count=lambda: at.bind(
                _search, lambda slots, r: db_search.count_sql(r.scope, slots, r.query, r.filter)
            ),
            counted={"totalCount": db_search.total, "totalCountIsExact": db_search.is_exact},
            scope=scope,
            edge={
                "highlight": lambda place, row: json_sql.string(f"{row}.highlight"),
                "node": node,
            },
        )
