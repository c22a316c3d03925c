"""The REST surface (/v1): the same content, filters, cursors and key rules as GraphQL, as
plain JSON or, with `?format=ninjs` or `Accept: application/ninjs+json`, IPTC ninjs 3.1
(`?format=ninjs2` or `Accept: application/ninjs+json; version=2`: ninjs 2.1).

Lists answer {"items": [...], "pageInfo": {...}, "links": {"next": url}} and a Link header.
Unknown parameters and bad values are 400 with a message naming the parameter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.addresses import public_base, public_url
from api.errors import json_error
from api.formats import ninjs
from api.http_cache import cacheable
from api.reader import DEEP_DIVE_ITEM, STORY_ITEM, Item, Reader, ReadFailed, item_of
from api.settings import Settings
from content.access import may_read_full_text
from content.changes import LISTS, OUTLETS, topic_key
from content.images import LEAD_RATIOS
from content.web_metadata import Publisher, json_ld
from db.syndication import content_changed_at

MAX_FIRST = 100
_PAGE = "pageInfo { hasNextPage endCursor } edges { node { ...%s } }"
_OUTLET = "slug name domain country bias factuality owner ratingBasis ratedOn"
_LIST = {
    "stories": f"""
query RestStories($first: Int!, $after: String, $filter: StoryFilter) {{
  list: stories(first: $first, after: $after, filter: $filter) {{ {_PAGE % "StoryItem"} }}
}}
{STORY_ITEM}""",
    "deep-dives": f"""
query RestDeepDives($first: Int!, $after: String, $filter: DeepDiveFilter, $fullText: Boolean!) {{
  list: deepDives(first: $first, after: $after, filter: $filter) {{ {_PAGE % "DeepDiveItem"} }}
}}
{DEEP_DIVE_ITEM}""",
}
_STORY = f"""
query RestStory($slug: String!) {{ item: story(slug: $slug) {{ ...StoryItem }} }}
{STORY_ITEM}"""
_DEEP_DIVE = f"""
query RestDeepDive($slug: String!, $fullText: Boolean!) {{
  item: deepDive(slug: $slug) {{ ...DeepDiveItem }}
}}
{DEEP_DIVE_ITEM}"""
_TOPIC = f"""
query RestTopic($slug: String!, $first: Int!, $after: String) {{
  topic(slug: $slug) {{
    id slug name kind description
    list: stories(first: $first, after: $after) {{ {_PAGE % "StoryItem"} }}
  }}
}}
{STORY_ITEM}"""
_OUTLETS = f"""
query RestOutlets($first: Int!, $after: String) {{
  list: outlets(first: $first, after: $after) {{
    pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id {_OUTLET} }} }}
  }}
}}"""


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class Param:
    """A query parameter: its GraphQL filter field and how to read its value."""

    field: str
    parse: Callable[[str, str], Any] = lambda name, raw: raw


def _time(name: str, raw: str) -> str:
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise BadRequest(f"`{name}` must be an ISO-8601 time with offset, got {raw!r}.") from None
    if parsed.tzinfo is None:
        raise BadRequest(f"`{name}` needs a time zone offset, e.g. Z or +02:00.")
    return parsed.isoformat()


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw.upper() not in choices:
            raise BadRequest(f"`{name}` must be one of {', '.join(choices)}, got {raw!r}.")
        return raw.upper()

    return parse


def _flag(name: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise BadRequest(f"`{name}` must be true or false, got {raw!r}.")
    return raw == "true"


_COMMON = {
    "category": Param("category"),
    "topic": Param("topic"),
    "publishedAfter": Param("publishedAfter", _time),
    "publishedBefore": Param("publishedBefore", _time),
    "syndicatable": Param("syndicatable", _flag),
}
FILTERS: dict[str, dict[str, Param]] = {
    "stories": _COMMON
    | {
        "outlet": Param("outlet"),
        "sentiment": Param("sentiment", _choice("POSITIVE", "NEUTRAL", "NEGATIVE")),
        "blindspot": Param("blindspot", _choice("LEFT", "RIGHT")),
        "q": Param("query"),
    },
    "deep-dives": _COMMON,
    "topic": {},
    "outlets": {},
}
PAGING = ("first", "after", "format")


def _arguments(request: Request, kind: str) -> tuple[int, str | None, dict[str, Any]]:
    """first, after and the GraphQL filter from the query string."""
    known = FILTERS[kind]
    query = request.query_params
    only(request, [*PAGING, *known])
    raw_first = query.get("first", "20")
    if not raw_first.isdigit() or not 1 <= int(raw_first) <= MAX_FIRST:
        raise BadRequest(
            f"`first` must be a whole number from 1 to {MAX_FIRST}, got {raw_first!r}."
        )
    filters = {p.field: p.parse(name, query[name]) for name, p in known.items() if name in query}
    return int(raw_first), query.get("after"), filters


def only(request: Request, allowed: list[str]) -> None:
    """BadRequest naming the first query parameter that is not in `allowed`."""
    for name in request.query_params:
        if name not in allowed:
            takes = ", ".join(allowed)
            raise BadRequest(f"Unknown parameter `{name}`; this endpoint takes {takes}.")


_FORMATS = {"json": None, "ninjs": "3.1", "ninjs3": "3.1", "ninjs2": "2.1"}
_MAJOR = {"3": "3.1", "3.1": "3.1", "2": "2.1", "2.1": "2.1"}


def ninjs_version(request: Request) -> str | None:
    """The ninjs version the caller asked for (None: plain JSON): `format=ninjs` (3.1),
    `ninjs3` or `ninjs2`, else an Accept of application/ninjs+json (or the list type) whose
    `version` parameter names 2 or 3 (3 when it names none)."""
    chosen = request.query_params.get("format")
    if chosen is not None:
        if chosen not in _FORMATS:
            raise BadRequest(f"`format` must be one of {', '.join(_FORMATS)}, got {chosen!r}.")
        return _FORMATS[chosen]
    for offered in request.headers.get("accept", "").split(","):
        kind, *parameters = (part.strip() for part in offered.split(";"))
        if kind.lower() not in (ninjs.MEDIA_TYPE, ninjs.LIST_MEDIA_TYPE):
            continue
        named = dict(p.partition("=")[::2] for p in parameters)
        wanted = named.get("version", "3").strip('"')
        if wanted not in _MAJOR:
            raise BadRequest(f"ninjs `version` must be 2 or 3 (2.1 or 3.1), got {wanted!r}.")
        return _MAJOR[wanted]
    return None


_LIST_KEYS = {"stories": LISTS["story"], "deep-dives": LISTS["deep_dive"]}


class Rest:
    def __init__(self, reader: Reader, settings: Settings) -> None:
        self.reader, self.settings = reader, settings

    def routes(self) -> list[Route]:
        return [
            Route("/v1/stories", self._endpoint(self.stories), methods=["GET"]),
            Route("/v1/stories/{slug}", self._endpoint(self.story), methods=["GET"]),
            Route("/v1/deep-dives", self._endpoint(self.deep_dives), methods=["GET"]),
            Route("/v1/deep-dives/{slug}", self._endpoint(self.deep_dive), methods=["GET"]),
            Route("/v1/topics/{slug}", self._endpoint(self.topic), methods=["GET"]),
            Route("/v1/outlets", self._endpoint(self.outlets), methods=["GET"]),
        ]

    def _endpoint(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as bad:
                return json_error(400, str(bad), "BAD_USER_INPUT")
            except ReadFailed as failed:
                return failed.response()

        return serve

    async def stories(self, request: Request) -> Response:
        return await self._items(request, "stories")

    async def deep_dives(self, request: Request) -> Response:
        return await self._items(request, "deep-dives")

    async def _items(self, request: Request, kind: str) -> Response:
        ninjs_wanted = ninjs_version(request)
        first, after, filters = _arguments(request, kind)
        variables: dict[str, Any] = {"first": first, "after": after, "filter": filters or None}
        if kind == "deep-dives":
            variables["fullText"] = False  # lists carry summaries; read one item for its body
        data = await self.reader.read(request, _LIST[kind], **variables)
        return await self._page(request, data["list"], ninjs_wanted, [_LIST_KEYS[kind]])

    async def story(self, request: Request) -> Response:
        ninjs_wanted = ninjs_version(request)
        only(request, ["format"])
        data = await self.reader.read(request, _STORY, slug=request.path_params["slug"])
        return await self._one(request, data["item"], ninjs_wanted, "story")

    async def deep_dive(self, request: Request) -> Response:
        ninjs_wanted = ninjs_version(request)
        only(request, ["format"])
        slug = request.path_params["slug"]
        try:
            data = await self.reader.read(request, _DEEP_DIVE, slug=slug, fullText=True)
        except ReadFailed as failed:
            if failed.reason != "NOT_SYNDICATABLE":
                raise
            data = await self.reader.read(request, _DEEP_DIVE, slug=slug, fullText=False)
        return await self._one(request, data["item"], ninjs_wanted, "deep dive")

    async def topic(self, request: Request) -> Response:
        ninjs_wanted = ninjs_version(request)
        first, after, _ = _arguments(request, "topic")
        variables = {"slug": request.path_params["slug"], "first": first, "after": after}
        found = (await self.reader.read(request, _TOPIC, **variables))["topic"]
        if found is None:
            return json_error(404, "There is no topic with this slug.", "NOT_FOUND")
        stories = found.pop("list")
        topic = {"id": found["id"], "slug": found["slug"], "name": found["name"]}
        topic |= {"kind": found["kind"], "description": found["description"]}
        keys = [topic_key(found["slug"])]
        return await self._page(request, stories, ninjs_wanted, keys, {"topic": topic})

    async def outlets(self, request: Request) -> Response:
        if ninjs_version(request):
            raise BadRequest("ninjs describes news items; outlets come as JSON only.")
        first, after, _ = _arguments(request, "outlets")
        found = (await self.reader.read(request, _OUTLETS, first=first, after=after))["list"]
        outlets = [edge["node"] for edge in found["edges"]]
        body = self._listing(request, outlets, found["pageInfo"])
        return await self._respond(request, body, "application/json", [OUTLETS])

    async def _page(
        self,
        request: Request,
        found: dict[str, Any],
        ninjs_wanted: str | None,
        keys: list[str],
        extra: dict[str, Any] | None = None,
    ) -> Response:
        base, widths = public_base(request, self.settings.api_url), self.settings.images.widths
        items = [item_of(edge["node"], base, widths) for edge in found["edges"]]
        shown = [self._shape(request, item, ninjs_wanted, full_text=False) for item in items]
        body = (extra or {}) | self._listing(request, shown, found["pageInfo"])
        keys = keys + [item.purge_key for item in items]
        media_type = (
            ninjs.media_type(ninjs_wanted, listing=True) if ninjs_wanted else "application/json"
        )
        return await self._respond(request, body, media_type, keys)

    async def _one(
        self, request: Request, node: dict[str, Any] | None, ninjs_wanted: str | None, what: str
    ) -> Response:
        if node is None:
            return json_error(404, f"There is no published {what} with this slug.", "NOT_FOUND")
        item = item_of(
            node, public_base(request, self.settings.api_url), self.settings.images.widths
        )
        full_text = may_read_full_text(request.state.viewer, item.syndicatable)
        body = self._shape(request, item, ninjs_wanted, full_text=full_text)
        media_type = ninjs.media_type(ninjs_wanted) if ninjs_wanted else "application/json"
        return await self._respond(request, body, media_type, [item.purge_key])

    def _shape(
        self, request: Request, item: Item, ninjs_wanted: str | None, *, full_text: bool
    ) -> dict:
        if ninjs_wanted:
            settings = self.settings
            return ninjs.ninjs(
                item,
                public_url=settings.public_url,
                publisher=settings.publisher_name,
                language=settings.language,
                full_text=full_text and (item.kind == "story" or item.sections is not None),
                version=ninjs_wanted,
            )
        settings = self.settings
        publisher = Publisher(settings.publisher_name, settings.public_url, settings.language)
        return item_json(item, full_text=full_text, publisher=publisher)

    def _listing(self, request: Request, items: list[Any], info: dict[str, Any]) -> dict[str, Any]:
        following = None
        if info["hasNextPage"]:
            url = public_url(request, self.settings.api_url)
            following = str(url.include_query_params(after=info["endCursor"]))
        return {"items": items, "pageInfo": info, "links": {"next": following}}

    async def _respond(
        self, request: Request, body: dict[str, Any], media_type: str, keys: list[str]
    ) -> Response:
        response = cacheable(
            request,
            orjson.dumps(body),
            media_type,
            viewer=request.state.viewer,
            max_age=self.settings.feed_max_age,
            last_modified=await content_changed_at(request.state.pool),
            surrogate_keys=keys,
        )
        following = body.get("links", {}).get("next")
        if following:
            response.headers["Link"] = f'<{following}>; rel="next"'
        return response


def _image(item: Item) -> dict[str, Any]:
    """The item's image and its lead renditions (content.images.lead_images), by shape."""
    assert item.image is not None
    shapes = zip(LEAD_RATIOS, item.page.images, strict=False)
    return vars(item.image) | {"renditions": [{"ratio": r, "url": u} for r, u in shapes]}


def item_json(item: Item, *, full_text: bool, publisher: Publisher) -> dict[str, Any]:
    """The plain-JSON shape of a story or deep dive (described in /v1/openapi.json)."""
    found: dict[str, Any] = {
        "id": item.node_id,
        "type": item.kind,
        "slug": item.slug,
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "publishedAt": item.published.isoformat(),
        "updatedAt": item.updated.isoformat(),
        "version": item.version,
        "syndicatable": item.syndicatable,
        "category": _topic(item.category) if item.category else None,
        "topics": [_topic(topic) for topic in item.topics],
        "image": _image(item) if item.image else None,
        "sourceCount": item.source_count,
        "bias": item.bias,
        "coverageLabel": item.coverage_label,
        "blindspot": item.blindspot,
        "wordCount": item.word_count,
        "readTimeMinutes": item.read_time_minutes,
        "sources": [_source(source) for source in item.sources],
        "related": item.related_url,
        "jsonLd": json_ld(item.page, publisher),
    }
    if item.kind == "story":
        found["sentiment"] = item.sentiment
    else:
        readable = full_text and item.sections is not None
        found["sections"] = (
            [{"heading": h, "html": body} for h, body in item.sections or []] if readable else None
        )
    return found


def _topic(topic: Any) -> dict[str, str]:
    return {"slug": topic.slug, "name": topic.name, "kind": topic.kind}


def _source(source: Any) -> dict[str, Any]:
    return {
        "title": source.title,
        "url": source.url,
        "author": source.author,
        "publishedAt": source.published.isoformat() if source.published else None,
        "outlet": {
            "name": source.outlet,
            "domain": source.outlet_domain,
            "bias": source.outlet_bias,
        },
        "note": source.note,
    }
