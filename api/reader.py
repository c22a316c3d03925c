"""The read model behind REST, feeds and sitemaps: GraphQL operations run in-process.

Every syndication format reads through the same schema, loaders and visibility rules as
GraphQL callers, with the caller's own key; this module turns the results into `Item`s that
the formats render.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse

from api.errors import json_error, status_for
from api.http_cache import read_keys
from content import web_metadata
from content.changes import item_key
from content.images import cut, lead_images, lead_width
from content.web_metadata import Page, last_modified
from schema.cache_keys import collecting
from schema.common import DigitalSourceType
from schema.errors import coded
from schema.relay import from_global_id

_IMAGE = "url alt caption credit width height digitalSourceType"
_SOURCE = "title url author publishedAt outlet { slug name domain bias }"
_BIAS = "left center right unrated leftPercent centerPercent rightPercent"
STORY_ITEM = f"""
fragment StoryItem on Story {{
  id slug title summary url publishedAt updatedAt version syndicatable
  category {{ slug name kind }} topics {{ slug name kind }} heroImage {{ {_IMAGE} }}
  sentiment sourceCount coverageLabel blindspot wordCount readTimeMinutes bias {{ {_BIAS} }}
  sources(first: 100) {{ edges {{ node {{ {_SOURCE} }} }} }}
  deepDive {{ url }}
}}
"""
DEEP_DIVE_ITEM = f"""
fragment DeepDiveItem on DeepDive {{
  id slug title dek url publishedAt updatedAt version syndicatable
  category {{ slug name kind }} topics {{ slug name kind }} keyActors {{ slug name kind }}
  wordCount readTimeMinutes heroImage {{ {_IMAGE} }}
  story {{ url heroImage {{ {_IMAGE} }} sourceCount coverageLabel blindspot bias {{ {_BIAS} }} }}
  citations {{ number note source {{ {_SOURCE} }} }}
  sections @include(if: $fullText) {{ heading body }}
}}
"""
"""Spread into an operation that declares `$fullText: Boolean!` (whether to read sections)."""


class ReadFailed(Exception):
    """A GraphQL error from a syndication read, coded as GraphQL callers would see it."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        extensions = error.extensions or {}
        self.code = str(extensions.get("code", "INTERNAL_SERVER_ERROR"))
        self.reason = extensions.get("reason")
        self.message = error.message

    def response(self) -> JSONResponse:
        return json_error(status_for(self.code), self.message, self.code)


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    kind: str


@dataclass(frozen=True)
class Image:
    url: str
    alt: str | None
    caption: str | None
    credit: str | None
    width: int | None
    """The original's, once fetched."""
    height: int | None
    digitalSourceType: str | None
    """IPTC's term (the GraphQL enum's value: digitalCapture, …)."""


@dataclass(frozen=True)
class Cited:
    title: str
    url: str
    author: str | None
    published: datetime | None
    outlet: str
    outlet_domain: str
    outlet_bias: str | None
    note: str | None = None


@dataclass(frozen=True)
class Item:
    """A story or deep dive as every syndication format sees it."""

    kind: str
    """"story" or "deep-dive"."""
    pk: int
    node_id: str
    slug: str
    url: str
    title: str
    summary: str
    published: datetime
    updated: datetime
    version: int
    syndicatable: bool
    category: Topic | None
    topics: list[Topic]
    image: Image | None
    sources: list[Cited]
    source_count: int
    bias: dict[str, int | None]
    coverage_label: str
    blindspot: str | None
    word_count: int
    read_time_minutes: int
    page: Page
    """The facts its JSON-LD and OpenGraph tell (content.web_metadata)."""
    sections: list[tuple[str, str]] | None
    """(heading, sanitised HTML) of a deep dive's body; None when not read or withheld."""
    related_url: str | None
    """A story's deep dive, or the story a deep dive analyses."""
    sentiment: str | None = None

    @property
    def purge_key(self) -> str:
        return item_key(self.kind, self.pk)

    def full_html(self) -> str:
        """The full text as HTML: a deep dive's sections, or a story's summary with the list of
        sources it is built from."""
        if self.sections is not None:
            return "".join(f"<h2>{html.escape(h)}</h2>{body}" for h, body in self.sections)
        links = "".join(
            f'<li><a href="{html.escape(s.url)}">{html.escape(s.title)}</a> '
            f"({html.escape(s.outlet)})</li>"
            for s in self.sources
        )
        sources = f"<h2>Sources</h2><ul>{links}</ul>" if links else ""
        return f"<p>{html.escape(self.summary)}</p>{sources}"


class Reader:
    """Runs read-only GraphQL operations for one request, as that request's caller."""

    def __init__(self, graphql: Any) -> None:
        self.graphql = graphql

    async def read(self, request: Request, document: str, **variables: Any) -> dict[str, Any]:
        """The data of the operation; the cache keys of what it read are noted on the
        request (api.http_cache.read_keys), for the response the endpoint builds."""
        # The service's own documents: the callers' depth, alias and token limits are for
        # what callers send (they still pass the key check and rate limit: api.auth).
        answer = await self.graphql.compiled_data(
            request, document, None, variables, keys=True, internal=True
        )
        if answer is not None:
            read_keys(request, answer.collected.keys)
            found: dict[str, Any] = orjson.loads(answer.data)
            return found
        context = await self.graphql.get_context(request)
        with collecting() as collected:
            result = await self.graphql.internal.execute(
                document, variable_values=variables, context_value=context
            )
        read_keys(request, collected.keys)
        if result.errors:
            raise ReadFailed(coded(result.errors[0]))
        data: dict[str, Any] = result.data or {}
        return data


def item_of(node: dict[str, Any], image_base: str, widths: tuple[int, ...]) -> Item:
    """An Item from a StoryItem or DeepDiveItem selection; its image's renditions are
    addressed under `image_base` (content.images)."""
    type_name, pk = from_global_id(node["id"])
    is_dive = type_name == "DeepDive"
    story = node["story"] if is_dive else node  # where the coverage lives
    shown = node["heroImage"] or story["heroImage"]  # a deep dive's own image, else its story's
    common: dict[str, Any] = {
        "pk": pk,
        "node_id": node["id"],
        "slug": node["slug"],
        "url": node["url"],
        "title": node["title"],
        "published": _time(node["publishedAt"]),
        "updated": last_modified(_time(node["updatedAt"]), _time(node["publishedAt"])),
        "version": node["version"],
        "syndicatable": node["syndicatable"],
        "category": _topic(node["category"]),
        "image": _image(shown),
        "source_count": story["sourceCount"],
        "bias": story["bias"],
        "coverage_label": story["coverageLabel"],
        "blindspot": story["blindspot"],
        "word_count": node["wordCount"],
        "read_time_minutes": node["readTimeMinutes"],
    }
    original = (shown or {}).get("url")
    page = Page(
        kind="AnalysisNewsArticle" if is_dive else "NewsArticle",
        url=node["url"],
        headline=node["title"],
        description=node["dek"] if is_dive else node["summary"],
        image=original,
        image_alt=(shown or {}).get("alt"),
        images=lead_images(image_base, original, widths) if original else (),
        image_size=_lead_size(common["image"], widths),
        published=_time(node["publishedAt"]),
        modified=_time(node["updatedAt"]),
        section=(node["category"] or {}).get("name"),
        keywords=[topic["name"] for topic in node["topics"]],
        word_count=node["wordCount"],
        citations=[],
        about=story["url"] if is_dive else None,
    )
    if is_dive:
        sections = node.get("sections")
        cited = [_cited(c["source"], c["note"]) for c in node["citations"]]
        return Item(
            kind="deep-dive",
            page=replace(page, citations=[_page_citation(c) for c in cited]),
            summary=node["dek"],
            topics=list(
                dict.fromkeys(filter(None, map(_topic, node["keyActors"] + node["topics"])))
            ),
            sources=cited,
            sections=[(s["heading"], s["body"]) for s in sections]
            if sections is not None
            else None,
            related_url=story["url"],
            **common,
        )
    sources = [_cited(edge["node"]) for edge in node["sources"]["edges"]]
    return Item(
        kind="story",
        page=replace(page, citations=[_page_citation(c) for c in sources]),
        summary=node["summary"],
        topics=list(filter(None, map(_topic, node["topics"]))),
        sources=sources,
        sections=None,
        related_url=(node["deepDive"] or {}).get("url"),
        sentiment=node["sentiment"],
        **common,
    )


def _page_citation(source: Cited) -> web_metadata.Cited:
    return web_metadata.Cited(source.title, source.url, source.outlet, source.published)


def _time(value: str | None) -> datetime:
    assert value is not None, "published items have a publish time"
    return datetime.fromisoformat(value)


def _topic(found: dict[str, Any] | None) -> Topic | None:
    return Topic(found["slug"], found["name"], found["kind"]) if found else None


def _image(found: dict[str, Any] | None) -> Image | None:
    if not found:
        return None
    kind = found["digitalSourceType"]
    return Image(
        found["url"],
        found["alt"],
        found["caption"],
        found["credit"],
        found["width"],
        found["height"],
        DigitalSourceType[kind].value if kind else None,
    )


def _lead_size(image: Image | None, widths: tuple[int, ...]) -> tuple[int, int] | None:
    """The 16:9 lead rendition's size, once the original's is known (the focal point moves
    the crop, never its size)."""
    if image is None or not image.width or not image.height:
        return None
    made = cut(image.width, image.height, "16x9", lead_width(widths), (0.5, 0.5))
    return made.width, made.height


def _cited(source: dict[str, Any], note: str | None = None) -> Cited:
    outlet = source["outlet"]
    published = source["publishedAt"]
    return Cited(
        title=source["title"],
        url=source["url"],
        author=source["author"],
        published=datetime.fromisoformat(published) if published else None,
        outlet=outlet["name"],
        outlet_domain=outlet["domain"],
        outlet_bias=outlet["bias"],
        note=note,
    )
