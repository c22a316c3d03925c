"""The OpenAPI 3.1 description of the REST surface, served at /v1/openapi.json.

Built from the same parameter table the handlers read (rest.FILTERS), so a filter cannot be
added to one without the other; tests validate the document and every response against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.addresses import public_base
from api.formats import ninjs
from api.rest import FILTERS, MAX_FIRST
from schema.inputs import MAX_QUERY_LENGTH, MAX_SLUG_LENGTH, SLUG_PATTERN

_STRING = {"type": "string"}
_SLUG = {"type": "string", "pattern": f"^{SLUG_PATTERN}$", "maxLength": MAX_SLUG_LENGTH}
_CURSOR = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]+$",
    "description": "pageInfo.endCursor of the previous page of the same list (opaque).",
}
_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_PERCENT = {"type": ["integer", "null"], "minimum": 0, "maximum": 100}
_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "category": {**_SLUG, "description": "Category topic slug."},
    "topic": {**_SLUG, "description": "Topic slug."},
    "outlet": {**_SLUG, "description": "Outlet slug: stories citing it."},
    "publishedAfter": {**_TIME, "description": "Published at or after this time."},
    "publishedBefore": {**_TIME, "description": "Published before this time."},
    "syndicatable": {"type": "boolean", "description": "Whether partners may republish."},
    "sentiment": {"enum": ["POSITIVE", "NEUTRAL", "NEGATIVE"]},
    "blindspot": {"enum": ["LEFT", "RIGHT"], "description": "The side missing the story."},
    "q": {
        "type": "string",
        "pattern": "^[^\\u0000]*\\S[^\\u0000]*$",
        "maxLength": MAX_QUERY_LENGTH,
        "description": "Full-text query (web search syntax): at least one word, no NUL.",
    },
}


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict[str, Any]:
    return {"oneOf": [_ref(name), {"type": "null"}]}


_TOPIC = _object({"slug": _STRING, "name": _STRING, "kind": _STRING})
_IMAGE = _object(
    {
        "url": _STRING,
        "alt": _NULLABLE_STRING,
        "caption": _NULLABLE_STRING,
        "credit": _NULLABLE_STRING,
        "width": {"type": ["integer", "null"], "description": "The original's, once fetched."},
        "height": {"type": ["integer", "null"]},
        "digitalSourceType": {
            **_NULLABLE_STRING,
            "description": "IPTC's Digital Source Type term (digitalCapture, …).",
        },
        "renditions": {
            "type": "array",
            "description": "JPEG renditions in the shapes search engines ask for, at the first "
            "allowed width of 1,200 or more (never wider than the original).",
            "items": _object({"ratio": {"enum": ["16x9", "4x3", "1x1"]}, "url": _STRING}),
        },
    }
)
_BIAS = _object(
    {
        "left": {"type": "integer"},
        "center": {"type": "integer"},
        "right": {"type": "integer"},
        "unrated": {"type": "integer"},
        "leftPercent": _PERCENT,
        "centerPercent": _PERCENT,
        "rightPercent": _PERCENT,
    }
)
_SOURCE = _object(
    {
        "title": _STRING,
        "url": _STRING,
        "author": _NULLABLE_STRING,
        "publishedAt": {"type": ["string", "null"], "format": "date-time"},
        "outlet": _object({"name": _STRING, "domain": _STRING, "bias": _NULLABLE_STRING}),
        "note": {**_NULLABLE_STRING, "description": "Deep dives: what the source supports."},
    }
)
_ITEM_FIELDS: dict[str, Any] = {
    "id": {**_STRING, "description": "GraphQL global id (node(id:))."},
    "type": {"enum": ["story", "deep-dive"]},
    "slug": _STRING,
    "url": {**_STRING, "description": "Public page."},
    "title": _STRING,
    "summary": {**_STRING, "description": "A story's summary or a deep dive's dek."},
    "publishedAt": _TIME,
    "updatedAt": _TIME,
    "version": {"type": "integer"},
    "syndicatable": {"type": "boolean"},
    "category": _nullable("Topic"),
    "topics": {"type": "array", "items": _ref("Topic")},
    "image": _nullable("Image"),
    "sourceCount": {"type": "integer"},
    "bias": _ref("Bias"),
    "coverageLabel": _STRING,
    "blindspot": {"enum": ["LEFT", "RIGHT", None]},
    "wordCount": {"type": "integer"},
    "readTimeMinutes": {"type": "integer"},
    "sources": {"type": "array", "items": _ref("Source")},
    "related": {**_NULLABLE_STRING, "description": "Story: its deep dive. Deep dive: its story."},
    "jsonLd": {"type": "object", "description": "schema.org NewsArticle/AnalysisNewsArticle."},
}
_STORY = _object(_ITEM_FIELDS | {"sentiment": {"enum": ["POSITIVE", "NEUTRAL", "NEGATIVE"]}})
_SECTION = _object({"heading": _STRING, "html": {**_STRING, "description": "Sanitised HTML."}})
_DEEP_DIVE = _object(
    _ITEM_FIELDS
    | {
        "sections": {
            "description": "The body; null in lists and for PARTNER keys on items that are not "
            "syndicatable.",
            "oneOf": [{"type": "array", "items": _ref("Section")}, {"type": "null"}],
        }
    }
)
_OUTLET = _object(
    {
        "id": _STRING,
        "slug": _STRING,
        "name": _STRING,
        "domain": _STRING,
        "country": _NULLABLE_STRING,
        "bias": _NULLABLE_STRING,
        "factuality": _NULLABLE_STRING,
        "owner": _NULLABLE_STRING,
        "ratingBasis": _NULLABLE_STRING,
        "ratedOn": {"type": ["string", "null"], "format": "date"},
    }
)
_PAGE_INFO = _object({"hasNextPage": {"type": "boolean"}, "endCursor": _NULLABLE_STRING})
_GEOJSON = {
    "type": "object",
    "description": "A GeoJSON object (https://geojson.org/schema/GeoJSON.json).",
}


def _ninjs_schemas() -> dict[str, Any]:
    """IPTC's ninjs schemas as components: 3.1 as `Ninjs` with its $defs as `Ninjs_<name>`,
    2.1 as `Ninjs2` and `Ninjs2_<name>`, the references rewritten to them (and GeoJSON's,
    outside the document, to an object)."""
    found: dict[str, Any] = {}
    for version, prefix in (("3.1", "Ninjs"), ("2.1", "Ninjs2")):
        official = ninjs.json_schema(version)

        def rewritten(node: Any, prefix: str = prefix) -> Any:
            if isinstance(node, list):
                return [rewritten(n) for n in node]
            if not isinstance(node, dict):
                return node
            target = node.get("$ref")
            if isinstance(target, str) and target.startswith("https://geojson.org/"):
                return _GEOJSON
            if isinstance(target, str) and target.startswith("#/$defs/"):
                name = target.removeprefix("#/$defs/")
                return {**node, "$ref": f"#/components/schemas/{prefix}_{name}"}
            return {k: rewritten(v) for k, v in node.items()}

        kept = {k: v for k, v in official.items() if k not in ("$schema", "$id", "$defs")}
        found[prefix] = rewritten(kept)
        for name, definition in official.get("$defs", {}).items():
            found[f"{prefix}_{name}"] = rewritten(definition)
    return found


_ERROR = _object(
    {
        "data": {"type": "null"},
        "errors": {
            "type": "array",
            "items": _object({"message": _STRING, "extensions": _object({"code": _STRING})}),
        },
    }
)


def _listing(item: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    links = _object({"next": {**_NULLABLE_STRING, "description": "URL of the next page."}})
    items = {"type": "array", "items": item}
    return _object((extra or {}) | {"items": items, "pageInfo": _ref("PageInfo"), "links": links})


def _parameters(
    kind: str | None, *, paged: bool = True, formats: bool = True
) -> list[dict[str, Any]]:
    """The query parameters of a path: paging, format, and the filters of FILTERS[kind]."""
    found: list[dict[str, Any]] = []
    if paged:
        first = {"type": "integer", "minimum": 1, "maximum": MAX_FIRST, "default": 20}
        found += [
            {"name": "first", "in": "query", "schema": first, "description": "Page size."},
            {"name": "after", "in": "query", "schema": _CURSOR},
        ]
    if formats:
        found.append(
            {
                "name": "format",
                "in": "query",
                "schema": {"enum": ["json", "ninjs", "ninjs3", "ninjs2"]},
                "description": "ninjs (or ninjs3): IPTC ninjs 3.1 documents (or send Accept: "
                f"{ninjs.MEDIA_TYPE}); ninjs2: ninjs 2.1 (Accept: {ninjs.MEDIA_TYPE}; "
                "version=2). A list is then "
                f"{ninjs.LIST_MEDIA_TYPE} with the same version parameter.",
            }
        )
    for name in FILTERS[kind] if kind else ():
        found.append({"name": name, "in": "query", "schema": _PARAMETER_SCHEMAS[name]})
    return found


def _slug() -> dict[str, Any]:
    return {"name": "slug", "in": "path", "required": True, "schema": _SLUG}


def _responses(ok: dict[str, Any], *, found: bool = False) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    responses: dict[str, Any] = {
        "200": ok,
        "304": {"description": "Not modified (If-None-Match or If-Modified-Since matched)."},
        "400": error | {"description": "A parameter is unknown or has a bad value."},
        "401": error | {"description": "The API key is not valid."},
        "429": error | {"description": "Rate limit reached; see Retry-After."},
    }
    if found:
        responses["404"] = error | {"description": "No such published item."}
    return responses


def _ok(
    description: str,
    json_schema: dict[str, Any],
    ninjs_schemas: dict[str, Any] | None = None,
    *,
    listing: bool = False,
) -> Any:
    """A 200 answer: plain JSON, and ninjs of each version when given. Both versions share
    one media type (the `version` parameter tells them apart; tools match media types without
    their parameters), so its schema is either of theirs (a document of one version fails
    the other's schema; an empty page fits both)."""
    content: dict[str, Any] = {"application/json": {"schema": json_schema}}
    if ninjs_schemas:
        versions = ", ".join(f"version={v}" for v in ninjs_schemas)
        kind = ninjs.LIST_MEDIA_TYPE if listing else ninjs.MEDIA_TYPE
        content[kind] = {
            "schema": {
                "anyOf": list(ninjs_schemas.values()),
                "description": f"By the Content-Type's parameter: {versions}.",
            }
        }
    return {"description": description, "content": content}


_NINJS_ONE = {"3.1": _ref("Ninjs"), "2.1": _ref("Ninjs2")}


def _ninjs_items(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pages of ninjs documents of each version."""
    return {"3.1": _listing(_ref("Ninjs"), extra), "2.1": _listing(_ref("Ninjs2"), extra)}


def _get(summary: str, parameters: list[Any], responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters, "responses": responses}}


def document(server_url: str) -> dict[str, Any]:
    story_list = _ok(
        "A page of stories, newest first.",
        _listing(_ref("Story")),
        _ninjs_items(),
        listing=True,
    )
    dive_list = _ok(
        "A page of deep dives, newest first.",
        _listing(_ref("DeepDive")),
        _ninjs_items(),
        listing=True,
    )
    topic = {"topic": _ref("TopicProfile")}
    topic_page = _ok(
        "The topic and its stories.",
        _listing(_ref("Story"), topic),
        _ninjs_items(topic),
        listing=True,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Newsgraph REST API",
            "version": "1",
            "description": "Stories, deep dives, topics and outlets with the visibility, "
            "filters, cursors and key rules of the GraphQL API. Send `Authorization: Bearer "
            "<key>`; anonymous reads get public content at a lower rate. With `format=ninjs` "
            f"(or Accept: {ninjs.MEDIA_TYPE}) one item is an IPTC ninjs 3.1 document "
            f"({ninjs.media_type('3.1')}) and a list holds ninjs documents inside the same "
            f"envelope ({ninjs.media_type('3.1', listing=True)}); `format=ninjs2` (or Accept: "
            f"{ninjs.MEDIA_TYPE}; version=2) gives ninjs 2.1 the same way.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": {
                "Topic": _TOPIC,
                "TopicProfile": _object(
                    {
                        "id": _STRING,
                        "slug": _STRING,
                        "name": _STRING,
                        "kind": _STRING,
                        "description": _NULLABLE_STRING,
                    }
                ),
                "Image": _IMAGE,
                "Bias": _BIAS,
                "Source": _SOURCE,
                "Section": _SECTION,
                "Story": _STORY,
                "DeepDive": _DEEP_DIVE,
                "Outlet": _OUTLET,
                "PageInfo": _PAGE_INFO,
                **_ninjs_schemas(),
                "Error": _ERROR,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": {
            "/v1/stories": _get("Stories", _parameters("stories"), _responses(story_list)),
            "/v1/stories/{slug}": _get(
                "One story",
                [_slug(), *_parameters(None, paged=False)],
                _responses(_ok("The story.", _ref("Story"), _NINJS_ONE), found=True),
            ),
            "/v1/deep-dives": _get("Deep dives", _parameters("deep-dives"), _responses(dive_list)),
            "/v1/deep-dives/{slug}": _get(
                "One deep dive with its body",
                [_slug(), *_parameters(None, paged=False)],
                _responses(_ok("The deep dive.", _ref("DeepDive"), _NINJS_ONE), found=True),
            ),
            "/v1/topics/{slug}": _get(
                "A topic and a page of its stories",
                [_slug(), *_parameters("topic")],
                _responses(topic_page, found=True),
            ),
            "/v1/outlets": _get(
                "Outlets and their ratings, by slug",
                _parameters("outlets", formats=False),
                _responses(_ok("A page of outlets.", _listing(_ref("Outlet")))),
            ),
            "/v1/images": {"post": _UPLOAD},
        },
    }


_UPLOADED = _object(
    {
        "id": {"type": "integer"},
        "url": {**_STRING, "description": "Name the image by this URL (a story's heroImage)."},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "contentType": _STRING,
        "original": _STRING,
        "srcset": _STRING,
    }
)
_UPLOAD_ERROR = {"content": {"application/json": {"schema": _ref("Error")}}}
_UPLOAD = {
    "summary": "Upload an image (EDITOR or ADMIN keys)",
    "requestBody": {
        "required": True,
        "description": "The image itself: JPEG, PNG, WebP, AVIF or GIF.",
        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    "responses": {
        "201": {
            "description": "Stored (the same bytes again answer the same image).",
            "content": {"application/json": {"schema": _UPLOADED}},
        },
        "400": _UPLOAD_ERROR | {"description": "The body is empty."},
        "401": _UPLOAD_ERROR | {"description": "No key was sent."},
        "403": _UPLOAD_ERROR | {"description": "The key may not upload."},
        "413": _UPLOAD_ERROR
        | {"description": "Over NEWSGRAPH_IMAGE_MAX_BYTES or the pixel limit."},
        "415": _UPLOAD_ERROR | {"description": "Not an image the service reads."},
    },
}


def endpoint(api_url: str | None) -> Callable[[Request], Awaitable[Response]]:
    """GET /v1/openapi.json, naming the service where partners reach it."""

    async def serve(request: Request) -> Response:
        return JSONResponse(document(public_base(request, api_url)))

    return serve
