"""Feed routes: every story, a category, a topic, deep dives; as RSS, Atom or JSON Feed.

Newest first, FEED_SIZE items a page, `?after=<cursor>` for the next page (linked from each
page). Items that are not syndicatable never appear. PARTNER keys get full text, everyone
else summaries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.addresses import public_base, public_url
from api.errors import json_error
from api.formats.feeds import MEDIA_TYPES, Feed, render, tag_uri
from api.http_cache import cacheable
from api.reader import DEEP_DIVE_ITEM, STORY_ITEM, Reader, ReadFailed, item_of
from api.settings import Settings
from content.access import Role
from content.changes import FEEDS
from db.syndication import content_changed_at

FEED_SIZE = 50
_PAGE = "pageInfo { hasNextPage endCursor } edges { node { ...%s } }"
_ALL_STORIES = f"""
query StoryFeed($after: String) {{
  list: stories(first: {FEED_SIZE}, after: $after, filter: {{syndicatable: true}}) {{
    {_PAGE % "StoryItem"}
  }}
}}
{STORY_ITEM}"""
_TOPIC_STORIES = f"""
query TopicFeed($after: String, $filter: StoryFilter!, $slug: String!) {{
  topic(slug: $slug) {{ name kind description }}
  list: stories(first: {FEED_SIZE}, after: $after, filter: $filter) {{ {_PAGE % "StoryItem"} }}
}}
{STORY_ITEM}"""
_DEEP_DIVES = f"""
query DeepDiveFeed($after: String, $fullText: Boolean!) {{
  list: deepDives(first: {FEED_SIZE}, after: $after, filter: {{syndicatable: true}}) {{
    {_PAGE % "DeepDiveItem"}
  }}
}}
{DEEP_DIVE_ITEM}"""


@dataclass(frozen=True)
class Page:
    title: str
    description: str
    path: str
    nodes: list[dict[str, Any]]
    """StoryItem or DeepDiveItem selections (api.reader.item_of makes Items of them)."""
    end_cursor: str | None


Load = Callable[[Request, Reader, bool], Awaitable[Page | None]]


async def _all_stories(request: Request, reader: Reader, full_text: bool) -> Page:
    after = request.query_params.get("after")
    data = await reader.read(request, _ALL_STORIES, after=after)
    return _page(data["list"], "All stories", "Every story, newest first.", "stories")


async def _category(request: Request, reader: Reader, full_text: bool) -> Page | None:
    return await _about(request, reader, "category")


async def _topic(request: Request, reader: Reader, full_text: bool) -> Page | None:
    return await _about(request, reader, "topic")


async def _about(request: Request, reader: Reader, narrow: str) -> Page | None:
    """Stories of a category (a CATEGORY topic) or any topic; None if there is no such one."""
    slug = request.path_params["slug"]
    data = await reader.read(
        request,
        _TOPIC_STORIES,
        after=request.query_params.get("after"),
        filter={narrow: slug, "syndicatable": True},
        slug=slug,
    )
    topic = data["topic"]
    if topic is None or (narrow == "category") != (topic["kind"] == "CATEGORY"):
        return None
    description = topic["description"] or f"Stories about {topic['name']}, newest first."
    plural = "categories" if narrow == "category" else "topics"
    return _page(data["list"], topic["name"], description, f"{plural}/{slug}")


async def _deep_dives(request: Request, reader: Reader, full_text: bool) -> Page:
    after = request.query_params.get("after")
    data = await reader.read(request, _DEEP_DIVES, after=after, fullText=full_text)
    return _page(data["list"], "Deep dives", "Long-form analysis, newest first.", "deep-dives")


def _page(found: dict[str, Any], title: str, description: str, path: str) -> Page:
    info = found["pageInfo"]
    nodes = [edge["node"] for edge in found["edges"]]
    return Page(title, description, path, nodes, info["endCursor"] if info["hasNextPage"] else None)


def routes(reader: Reader, settings: Settings) -> list[Route]:
    def endpoint(load: Load) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return await _serve(request, reader, settings, load)

        return serve

    return [
        Route("/feeds/stories.{format}", endpoint(_all_stories), methods=["GET"]),
        Route("/feeds/categories/{slug}.{format}", endpoint(_category), methods=["GET"]),
        Route("/feeds/topics/{slug}.{format}", endpoint(_topic), methods=["GET"]),
        Route("/feeds/deep-dives.{format}", endpoint(_deep_dives), methods=["GET"]),
    ]


async def _serve(request: Request, reader: Reader, settings: Settings, load: Load) -> Response:
    format_name = request.path_params["format"]
    if format_name not in MEDIA_TYPES:
        return json_error(404, "Feeds come as .rss, .atom or .json.", "NOT_FOUND")
    viewer = request.state.viewer
    full_text = viewer.role is Role.PARTNER
    try:
        page = await load(request, reader, full_text)
    except ReadFailed as failed:
        return failed.response()
    if page is None:
        return json_error(404, "There is no such category or topic.", "NOT_FOUND")
    changed = await content_changed_at(request.state.pool)
    outside = public_url(request, settings.api_url)
    base = public_base(request, settings.api_url)
    items = [item_of(node, base, settings.images.widths) for node in page.nodes]
    feed = Feed(
        title=f"{settings.publisher_name}: {page.title}",
        description=page.description,
        home_url=settings.public_url,
        self_url=str(outside),
        next_url=str(outside.include_query_params(after=page.end_cursor))
        if page.end_cursor
        else None,
        feed_id=tag_uri(settings.public_url, f"feed:{page.path}"),
        updated=changed or datetime.now(UTC),
        language=settings.language,
        publisher=settings.publisher_name,
        items=items,
        full_text=full_text,
    )
    body = render(feed, format_name, settings.public_url)
    keys = [FEEDS, *(item.purge_key for item in items)]
    return cacheable(
        request,
        body,
        MEDIA_TYPES[format_name],
        viewer=viewer,
        max_age=settings.feed_max_age,
        last_modified=changed,
        surrogate_keys=keys,
    )
