"""jsonLd and openGraph of story and deep-dive pages: the facts come through the loaders, the
shapes from content.web_metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast

import strawberry
from strawberry.scalars import JSON

from content.web_metadata import Cited, Page, Publisher, json_ld, open_graph
from db.paging import PageKey
from db.sources import Source as SourceRecord
from schema.context import Info

CITED_SOURCES = 100
"""At most this many of a story's sources are cited in its JSON-LD."""


@strawberry.type(description='One OpenGraph tag: <meta property="…" content="…">.')
class MetaTag:
    property: str = strawberry.field(description="e.g. og:title, article:published_time.")
    content: str = strawberry.field(description="The tag's value, not HTML-escaped.")


def publisher(info: Info) -> Publisher:
    context = info.context
    return Publisher(context.publisher_name, context.public_url, context.language)


async def topic_names(info: Info, topic_ids: Sequence[int]) -> list[str]:
    records = await info.context.loaders.topic_by_id.load_many(list(topic_ids))
    return [record.name for record in records if record is not None]


async def section_name(info: Info, category_id: int | None) -> str | None:
    names = await topic_names(info, [category_id] if category_id is not None else [])
    return names[0] if names else None


async def story_sources(info: Info, story_id: int) -> list[SourceRecord]:
    page = await info.context.loaders.source_page_by_story.load(
        PageKey(story_id, CITED_SOURCES, None)
    )
    return [row.source for row in page[:CITED_SOURCES]]


async def cited(info: Info, sources: Sequence[SourceRecord]) -> list[Cited]:
    outlets = await info.context.loaders.outlet_by_id.load_many([s.outlet_id for s in sources])
    return [
        Cited(source.title, source.url, outlet.name if outlet else "", source.published_at)
        for source, outlet in zip(sources, outlets, strict=True)
    ]


@strawberry.interface(
    description="A page readers open: what search engines and link previews read."
)
class WebPage:
    @strawberry.field(
        description='schema.org JSON-LD for the page\'s <script type="application/ld+json">: '
        "a NewsArticle (stories) or AnalysisNewsArticle (deep dives) with headline, description, "
        "image, dates, author and publisher, and `citation` listing the sources it rests on."
    )
    async def json_ld(self, info: Info) -> JSON:
        return JSON(json_ld(await _page(self, info), publisher(info)))

    @strawberry.field(
        description="OpenGraph tags for link previews: og:title, og:description, og:image, "
        "og:url, article:published_time and more."
    )
    async def open_graph(self, info: Info) -> list[MetaTag]:
        page = await _page(self, info)
        return [MetaTag(property=p, content=c) for p, c in open_graph(page, publisher(info))]


class HasPage(Protocol):
    """What a WebPage type provides: the facts of its page, gathered through the loaders."""

    async def page(self, info: Info) -> Page: ...


async def _page(item: WebPage, info: Info) -> Page:
    # Story and DeepDive implement WebPage and define page(); the interface itself holds no
    # method of that name, so GraphQL never sees it.
    return await cast(HasPage, item).page(info)
