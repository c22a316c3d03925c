"""The root Query: entry points by slug, id, lists and search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from content.access import PreviewGrant
from db import deep_dives as db_deep_dives
from db import outlets as db_outlets
from db import stories as db_stories
from db import topics as db_topics
from db import vocabulary as db_vocabulary
from db.visibility import Scope
from schema import roots
from schema.access import preview_grant
from schema.compiled import compiles
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.enums import Blindspot, ContentStatus, Sentiment
from schema.inputs import (
    MAX_QUERY_LENGTH,
    aware,
    checked_query,
    optional_slug,
)
from schema.loaders import Loaders
from schema.outlets import Outlet
from schema.relay import (
    Connection,
    Node,
    connection,
    encode_cursor,
    feed_cursor_of,
)
from schema.search import (
    COMPILED_COMPLETIONS,
    CompiledSearch,
    SearchCompletion,
    SearchConnection,
    SearchFilter,
    search,
    search_completions,
    search_request,
)
from schema.sources import Source
from schema.stories import Story
from schema.topics import Topic


@strawberry.input(description="Narrows a story list; every field that is set must hold.")
class StoryFilter:
    category: str | None = strawberry.field(default=None, description="Category topic slug.")
    topic: str | None = strawberry.field(default=None, description="Topic slug.")
    outlet: str | None = strawberry.field(
        default=None, description="Outlet slug: stories with at least one source from it."
    )
    published_after: datetime | None = strawberry.field(
        default=None, description="Published at or after this time (with offset)."
    )
    published_before: datetime | None = strawberry.field(
        default=None, description="Published before this time (with offset)."
    )
    sentiment: Sentiment | None = strawberry.field(default=None, description="Overall tone.")
    blindspot: Blindspot | None = strawberry.field(
        default=None, description="Only stories with this blindspot."
    )
    query: str | None = strawberry.field(
        default=None,
        description="Full-text query (web search syntax) over the story's title, summary and "
        "topic names; the list stays newest first.",
    )
    status: list[ContentStatus] | None = strawberry.field(
        default=None,
        description="Only stories in these states; EDITOR or ADMIN only, and implies a preview.",
    )
    syndicatable: bool | None = strawberry.field(
        default=None, description="Only stories partners may (true) or may not (false) republish."
    )

    def to_db(self) -> db_stories.StoryFilter:
        return db_stories.StoryFilter(
            category=optional_slug(self.category, "filter.category"),
            topic=optional_slug(self.topic, "filter.topic"),
            outlet=optional_slug(self.outlet, "filter.outlet"),
            published_after=aware(self.published_after, "filter.publishedAfter"),
            published_before=aware(self.published_before, "filter.publishedBefore"),
            sentiment=self.sentiment.value if self.sentiment else None,
            blindspot=[self.blindspot.value] if self.blindspot else None,
            query=checked_query(self.query, "filter.query") if self.query is not None else None,
            statuses=[s.value for s in self.status] if self.status is not None else None,
            syndicatable=self.syndicatable,
        )


@strawberry.input(description="Narrows a deep-dive list; every field that is set must hold.")
class DeepDiveFilter:
    category: str | None = strawberry.field(
        default=None, description="Category topic slug of the story it analyses."
    )
    topic: str | None = strawberry.field(
        default=None, description="Topic slug: a key actor, or a topic of its story."
    )
    published_after: datetime | None = strawberry.field(
        default=None, description="Published at or after this time (with offset)."
    )
    published_before: datetime | None = strawberry.field(
        default=None, description="Published before this time (with offset)."
    )
    syndicatable: bool | None = strawberry.field(
        default=None,
        description="Only deep dives partners may (true) or may not (false) republish.",
    )

    def to_db(self) -> db_deep_dives.DeepDiveFilter:
        return db_deep_dives.DeepDiveFilter(
            category=optional_slug(self.category, "filter.category"),
            topic=optional_slug(self.topic, "filter.topic"),
            published_after=aware(self.published_after, "filter.publishedAfter"),
            published_before=aware(self.published_before, "filter.publishedBefore"),
            syndicatable=self.syndicatable,
        )


Preview = Annotated[
    bool,
    strawberry.argument(
        description="EDITOR and ADMIN keys only: also reach drafts, scheduled and archived items."
    ),
]
PreviewToken = Annotated[
    str | None,
    strawberry.argument(
        description="A token from `createPreviewToken`: lets any caller read that one item."
    ),
]


# Each Node type, and its loader by id in a scope (outlets and topics have no lifecycle).
_NODES: dict[str, tuple[type[Any], Callable[[Loaders, Scope], DataLoader[int, Any]]]] = {
    "Story": (Story, lambda loaders, scope: loaders.story_by_id[scope]),
    "DeepDive": (DeepDive, lambda loaders, scope: loaders.deep_dive_by_id[scope]),
    "Source": (Source, lambda loaders, scope: loaders.source_by_id[scope]),
    "Outlet": (Outlet, lambda loaders, scope: loaders.outlet_by_id),
    "Topic": (Topic, lambda loaders, scope: loaders.topic_by_id),
}


async def _find(
    type_name: str,
    fetch: Callable[[Scope], Awaitable[Any]],
    scope: Scope,
    grant: PreviewGrant | None,
) -> Any:
    """The record `fetch` finds in scope, or, failing that, the one item a preview token
    names (its fields then stay public: the token opens that item, nothing behind it)."""
    record = await fetch(scope)
    if record is None and grant is not None and grant.type_name == type_name:
        hidden = await fetch(Scope.PREVIEW)
        if hidden is not None and hidden.id == grant.item_id:
            return hidden
    return record


async def _by_slug(
    info: Info,
    node_type: type[Any],
    fetch: Callable[[Any, str, Scope], Awaitable[Any]],
    slug: str,
    preview: bool,
    preview_token: str | None,
) -> Any:
    """A Story or DeepDive by slug, in the caller's scope or through a preview token."""
    found = roots.lookup(info.context.viewer, slug, preview)
    scope, grant = found.scope, preview_grant(info, preview_token)
    pool = info.context.pool
    record = await _find(node_type.__name__, lambda s: fetch(pool, found.slug, s), scope, grant)
    return node_type(record=record, scope=scope) if record else None


async def _node(
    info: Info, id: strawberry.ID, preview: bool, preview_token: str | None
) -> Node | None:
    found = roots.node_lookup(info.context.viewer, id, preview)
    scope, grant = found.scope, preview_grant(info, preview_token)
    type_name, pk = found.type_name, found.pk
    if type_name not in _NODES:
        return None
    node_type, loader = _NODES[type_name]
    loaders = info.context.loaders
    record = await _find(type_name, lambda s: loader(loaders, s).load(pk), scope, grant)
    node: Node | None = node_type(record=record, scope=scope) if record else None
    return node


@strawberry.type
class ContentQuery:
    @strawberry.field(
        description="Any object by its global id; null if missing or not visible. Exactly "
        "the Global Object Identification spec's `node(id:)`, which Relay refetches through; "
        "`previewNode` is the same with previews.",
        metadata=compiles(roots.ByNode()),
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _node(info, id, False, None)

    @strawberry.field(
        description="`node` with previews: drafts, scheduled and archived items for EDITOR "
        "and ADMIN keys (`preview`), or the one item of a preview token.",
        metadata=compiles(roots.ByNode()),
    )
    async def preview_node(
        self,
        info: Info,
        id: strawberry.ID,
        preview: Preview = False,
        preview_token: PreviewToken = None,
    ) -> Node | None:
        return await _node(info, id, preview, preview_token)

    @strawberry.field(
        description="A published story by slug; null if missing or not visible.",
        metadata=compiles(roots.STORY),
    )
    async def story(
        self,
        info: Info,
        slug: str,
        preview: Preview = False,
        preview_token: PreviewToken = None,
    ) -> Story | None:
        found: Story | None = await _by_slug(
            info, Story, db_stories.story_by_slug, slug, preview, preview_token
        )
        return found

    @strawberry.field(
        description="A published deep dive by slug; null if missing or not visible.",
        metadata=compiles(roots.DEEP_DIVE),
    )
    async def deep_dive(
        self,
        info: Info,
        slug: str,
        preview: Preview = False,
        preview_token: PreviewToken = None,
    ) -> DeepDive | None:
        found: DeepDive | None = await _by_slug(
            info, DeepDive, db_deep_dives.deep_dive_by_slug, slug, preview, preview_token
        )
        return found

    @strawberry.field(
        description="A topic by slug; null if there is none.", metadata=compiles(roots.TOPIC)
    )
    async def topic(
        self,
        info: Info,
        slug: str,
        preview: Preview = False,
    ) -> Topic | None:
        found = roots.lookup(info.context.viewer, slug, preview)
        record = await db_topics.topic_by_slug(info.context.pool, found.slug)
        return Topic(record=record, scope=found.scope) if record else None

    @strawberry.field(
        description="An outlet's profile by slug: its ratings, their basis and date, and its "
        "recent stories; null if there is none.",
        metadata=compiles(roots.OUTLET),
    )
    async def outlet(self, info: Info, slug: str) -> Outlet | None:
        found = roots.lookup(info.context.viewer, slug, False)
        record = await db_outlets.outlet_by_slug(info.context.pool, found.slug)
        return Outlet(record=record) if record else None

    @strawberry.field(
        description="Stories one side is not covering (see Story.blindspot), newest first; "
        "`side` is the side that misses them, both when omitted.",
        metadata=compiles(roots.BLINDSPOTS),
    )
    async def blindspots(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        side: Blindspot | None = None,
    ) -> Connection[Story]:
        return await _feed(info, after, roots.blindspot_list(first, after, side))

    @strawberry.field(
        description="Published stories, newest first; at most 100 a page.",
        metadata=compiles(roots.STORIES),
    )
    async def stories(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: StoryFilter | None = None,
        preview: Preview = False,
    ) -> Connection[Story]:
        request = roots.story_list(info.context.viewer, first, after, filter, preview)
        return await _feed(info, after, request)

    @strawberry.field(
        description="Published deep dives, newest first; at most 100 a page.",
        metadata=compiles(roots.DEEP_DIVES),
    )
    async def deep_dives(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: DeepDiveFilter | None = None,
        preview: Preview = False,
    ) -> Connection[DeepDive]:
        request = roots.deep_dive_list(info.context.viewer, first, after, filter, preview)
        scope, dive_filter = request.scope, request.filter
        pool = info.context.pool
        rows = await db_deep_dives.deep_dive_feed(pool, dive_filter, first, request.after, scope)
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda record: DeepDive(record=record, scope=scope),
            cursor=feed_cursor_of,
            count=lambda: db_deep_dives.deep_dive_feed_count(pool, dive_filter, scope),
        )

    @strawberry.field(
        description="Every outlet we rate, by slug; at most 100 a page.",
        metadata=compiles(roots.OUTLETS),
    )
    async def outlets(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Outlet]:
        request = roots.outlet_list(first, after)
        pool = info.context.pool
        rows = await db_outlets.outlet_page(pool, first, request.after)
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda record: Outlet(record=record),
            cursor=lambda record: encode_cursor("outlet", record.slug),
            count=lambda: db_outlets.outlet_count(pool),
        )

    @strawberry.field(
        description=f"Full-text search over published stories and deep dives, best first: "
        f"relevance (title above summary or dek above topics, key actors and headings above "
        f"section bodies) times freshness. `query` uses web search syntax "
        f'("quoted phrase", OR, -exclude), 1 to {MAX_QUERY_LENGTH} characters; a query of '
        f"only stop words (the, and, ...) matches nothing.",
        metadata=compiles(CompiledSearch()),
    )
    async def search(
        self,
        info: Info,
        query: str,
        first: int = 10,
        after: str | None = None,
        filter: SearchFilter | None = None,
        preview: Preview = False,
        as_you_type: Annotated[
            bool,
            strawberry.argument(
                description="Search as you type: the query's last word also matches every "
                "word it begins (`ukrai` finds Ukraine). For an autocomplete box."
            ),
        ] = False,
    ) -> SearchConnection:
        request = search_request(
            info.context.viewer, query, first, after, filter, preview, as_you_type
        )
        return await search(info, request)

    @strawberry.field(
        description="Completions of the word being typed in a search box (`ukrai` → "
        "ukraine), from the words of published stories' titles, summaries and topic names, "
        "those in most stories first; empty when `query` does not end in a word being typed "
        f"(after a space, inside a quoted phrase or an -exclusion). 1 to "
        f"{db_vocabulary.MAX_COMPLETIONS}.",
        metadata=compiles(COMPILED_COMPLETIONS),
    )
    async def search_completions(
        self, info: Info, query: str, first: int = 8
    ) -> list[SearchCompletion]:
        return await search_completions(info, query, first)


async def _feed(info: Info, after: str | None, request: roots.StoryList) -> Connection[Story]:
    pool, scope, first = info.context.pool, request.scope, request.first
    rows = await db_stories.story_feed(pool, request.filter, first, request.after, scope)
    return connection(
        rows,
        first,
        has_previous=after is not None,
        node=lambda record: Story(record=record, scope=scope),
        cursor=feed_cursor_of,
        count=lambda: db_stories.story_feed_count(pool, request.filter, scope),
    )
