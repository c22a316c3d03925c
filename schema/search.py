from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import strawberry

from db import search as db_search
from db.visibility import Scope
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.enums import SearchType
from schema.errors import BadUserInput
from schema.inputs import aware, optional_slug
from schema.relay import PageInfo, check_first, decode_cursor, encode_cursor, page_info
from schema.stories import Story

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
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many stories and deep dives match in all.")
    async def total_count(self) -> int:
        return await self.count()


def highlight(headline: str) -> str:
    escaped = html.escape(headline, quote=False)
    return escaped.replace(db_search.MATCH_START, "<mark>").replace(db_search.MATCH_END, "</mark>")


async def search(
    info: Info,
    query: str,
    first: int,
    after: str | None,
    search_filter: db_search.SearchFilter,
    scope: Scope,
) -> SearchConnection:
    check_first(first)
    pool = info.context.pool
    found = await db_search.search(pool, query, first, _position(after), search_filter, scope)
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
            cursor=encode_cursor("search", as_of, h.score, h.kind, h.id),
            highlight=highlight(h.headline),
            node=nodes[(h.kind, h.id)],
            score=h.score,
        )
        for h in page
        if (h.kind, h.id) in nodes
    ]
    has_next = len(found.hits) > first
    return SearchConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], has_next, after is not None),
        count=lambda: db_search.search_count(pool, query, search_filter, scope),
    )


def _position(after: str | None) -> db_search.SearchCursor | None:
    values = decode_cursor(after, "search", 4)
    if values is None:
        return None
    try:
        as_of, score, kind, hit_id = values
        cursor = db_search.SearchCursor(
            datetime.fromisoformat(as_of), float(score), str(kind), int(hit_id)
        )
    except (TypeError, ValueError):
        cursor = None
    if cursor is None or cursor.kind not in db_search.KINDS or cursor.as_of.tzinfo is None:
        raise BadUserInput(
            "`after` is not a cursor from this search; pass an endCursor or edge cursor.",
            field="after",
        )
    return cursor
