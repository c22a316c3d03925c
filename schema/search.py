from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry

from content import clock
from content.access import Viewer
from db import deep_dives as db_deep_dives
from db import json_sql
from db import search as db_search
from db import stories as db_stories
from db import vocabulary as db_vocabulary
from db.visibility import Scope
from schema.access import scope_of
from schema.compiled import JsonKey, JsonList, Many, column, compiles
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


@strawberry.type(description="A word of a search query and the word suggested in its place.")
class SpellingCorrection:
    word: str = strawberry.field(description="The word as it was typed.")
    suggestion: str = strawberry.field(
        description="The vocabulary word suggested instead, in the typed word's case."
    )


_CORRECTIONS = JsonList(
    "corrections", {"word": JsonKey("word"), "suggestion": JsonKey("suggestion")}
)


@strawberry.type(description='A query to offer as "Did you mean …?"')
class SearchSuggestion:
    query: str = strawberry.field(
        description="The query with its misspelt words replaced; everything else (quotes, "
        "OR, -exclusions, spacing) as typed.",
        metadata=column("query"),
    )
    corrections: list[SpellingCorrection] = strawberry.field(
        description="The words replaced, in the order they appear.",
        metadata=compiles(_CORRECTIONS),
    )


@strawberry.type(description="A completion of the word being typed in a search box.")
class SearchCompletion:
    query: str = strawberry.field(
        description="The text typed, its last word completed: what to search for when the "
        "reader picks this.",
        metadata=column("query"),
    )
    word: str = strawberry.field(description="The completed word.", metadata=column("word"))
    story_count: int = strawberry.field(
        description="How many published stories hold the word in their title, summary or "
        "topic names.",
        metadata=column("story_count"),
    )


@strawberry.type(description="A page of search hits, best first.")
class SearchConnection:
    edges: list[SearchEdge] = strawberry.field(description="The hits of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    count: strawberry.Private[Callable[[], Awaitable[db_search.Count]]]
    request: strawberry.Private[SearchRequest]

    @strawberry.field(
        description='"Did you mean": at most one query with the misspelt words replaced, when '
        f"a word of the query is found in fewer than {db_vocabulary.RARE_BELOW} stories and "
        "a similar word of the published vocabulary in many more; else empty. Works on the "
        "words of stories' titles, summaries and topic names; with asYouType, the word being "
        "typed is left as it is."
    )
    async def suggestions(self, info: Info) -> list[SearchSuggestion]:
        r = self.request
        found = await db_vocabulary.suggestions(info.context.pool, r.query, r.typing)
        return [
            SearchSuggestion(
                query=s.query,
                corrections=[
                    SpellingCorrection(word=c.word, suggestion=c.suggestion) for c in s.corrections
                ],
            )
            for s in found
        ]

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
    typing: str = ""
    """The word being typed (asYouType), as typed, when `query` ends before it."""


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
    typing = ""
    last = _word_being_typed(checked, _LAST_WORD) if as_you_type else None
    if last:
        checked, typing = checked[: last.start()], checked[last.start() :]
        found = replace(found, prefix=last.group(1).lower())
    return SearchRequest(checked, found, scope, first, _position(after), typing)


@dataclass(frozen=True)
class CompletionsRequest:
    """searchCompletions()'s arguments, checked: the text before the word being typed, that
    word in lower case (None when the query does not end in one) and how many."""

    head: str
    prefix: str | None
    first: int


def completions_request(query: str, first: int) -> CompletionsRequest:
    checked = checked_query(query)
    if not 1 <= first <= db_vocabulary.MAX_COMPLETIONS:
        raise BadUserInput(
            f"`first` must be between 1 and {db_vocabulary.MAX_COMPLETIONS}.", field="first"
        )
    last = _word_being_typed(checked, _TYPING)
    if last:
        return CompletionsRequest(checked[: last.start()], last.group(1).lower(), first)
    return CompletionsRequest(checked, None, first)


async def search_completions(info: Info, query: str, first: int) -> list[SearchCompletion]:
    r = completions_request(query, first)
    found = await db_vocabulary.completions(info.context.pool, r.head, r.prefix, r.first)
    return [SearchCompletion(query=c.query, word=c.word, story_count=c.story_count) for c in found]


_LAST_WORD = re.compile(r"([^\W_]+)\s*$")
"""The word a query being typed ends with."""
_TYPING = re.compile(r"([^\W_]+)$")
"""The word a search box's text ends with, still being typed (no space after it)."""


def _word_being_typed(text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """The match of `pattern` (group 1: a word) at the end of `text`, when it is a word of
    its own being typed."""
    last = pattern.search(text)
    return last if last and _being_typed(text[: last.start()]) else None


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
        request=request,
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


_EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)
_CLOCK_SKEW = timedelta(days=1)
"""A search cursor's time is when its first page was asked for: one before 1970 or later
than a day from now is not from this service (and at the ends of what a cursor can name,
asyncpg sends infinity, which the ranking cannot subtract)."""


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
    if (
        cursor is None
        or cursor.kind not in db_search.KINDS
        or cursor.as_of.tzinfo is None
        or not _EARLIEST_AS_OF <= cursor.as_of <= clock.now() + _CLOCK_SKEW
    ):
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
                    r.scope,
                    slots,
                    r.query,
                    r.filter,
                    as_of=time,
                    after=r.after,
                    limit=r.first + 1,
                    define_hits=False,
                ),
            )

        def hits() -> str:  # the page's ranked candidates, which its count reads too
            time = as_of()
            bound["hits"] = at.bind(
                _search,
                lambda slots, r: db_search.hits_sql(r.scope, slots, r.query, r.filter, as_of=time),
            )
            return bound["hits"]

        def count() -> str:
            with_page = "hits" in bound  # connection() builds `defined` before the count
            return at.bind(
                _search,
                lambda slots, r: db_search.count_sql(
                    r.scope, slots, r.query, r.filter, from_hits=with_page
                ),
            )

        def first() -> str:
            return at.bind(_search, lambda slots, r: slots.add(r.first, "int"))

        def suggestions(place: Place) -> str:
            rows = at.bind(
                _search, lambda slots, r: db_vocabulary.suggestions_sql(slots, r.query, r.typing)
            )
            return Many(lambda _: rows).compile(place)

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
            defined=hits,
            count=count,
            counted={"totalCount": db_search.total, "totalCountIsExact": db_search.is_exact},
            scope=scope,
            edge={
                "highlight": lambda place, row: json_sql.string(f"{row}.highlight"),
                "node": node,
            },
            fields={"suggestions": suggestions},
        )


def _completions(kwargs: dict[str, Any], caller: Any) -> CompletionsRequest:
    return completions_request(kwargs["query"], kwargs["first"])


COMPILED_COMPLETIONS = Many(
    lambda at: at.bind(
        _completions,
        lambda slots, r: db_vocabulary.completions_sql(slots, r.head, r.prefix, r.first),
    )
)
"""searchCompletions(): the resolver's statement, each row an object."""
