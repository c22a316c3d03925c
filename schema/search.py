from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from db import search as db_search
from db.visibility import Scope
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.relay import PageInfo, check_first, decode_cursor, encode_cursor, page_info
from schema.stories import Story

SearchResult = Annotated[Story | DeepDive, strawberry.union("SearchResult")]


@strawberry.type(description="A search hit with its highlighted snippet.")
class SearchEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this hit.")
    highlight: str = strawberry.field(
        description="A snippet with matched words wrapped in <mark>; all other text is "
        "HTML-escaped, so it is safe to insert as HTML."
    )
    node: SearchResult = strawberry.field(description="The story or deep dive that matched.")


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
    info: Info, query: str, first: int, after: str | None, scope: Scope
) -> SearchConnection:
    check_first(first)
    cursor = decode_cursor(after, "search", 3)
    position = (float(cursor[0]), str(cursor[1]), int(cursor[2])) if cursor else None
    hits = await db_search.search(info.context.pool, query, first, position, scope)
    page = hits[:first]
    loaders = info.context.loaders
    stories = await loaders.story_by_id[scope].load_many([h.id for h in page if h.kind == "story"])
    dives = await loaders.deep_dive_by_id[scope].load_many(
        [h.id for h in page if h.kind != "story"]
    )
    nodes: dict[tuple[str, int], Story | DeepDive] = {}
    nodes.update({("story", r.id): Story(record=r, scope=scope) for r in stories if r})
    nodes.update({("deep_dive", r.id): DeepDive(record=r, scope=scope) for r in dives if r})
    edges = [
        SearchEdge(
            cursor=encode_cursor("search", h.rank, h.kind, h.id),
            highlight=highlight(h.headline),
            node=nodes[(h.kind, h.id)],
        )
        for h in page
        if (h.kind, h.id) in nodes
    ]
    pool = info.context.pool
    return SearchConnection(
        edges=edges,
        page_info=page_info([edge.cursor for edge in edges], len(hits) > first, after is not None),
        count=lambda: db_search.search_count(pool, query, scope),
    )
