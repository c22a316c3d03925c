"""IPTC ninjs (News in JSON) documents of stories and deep dives: ninjs 3.1 by default, the
newest version whose schema IPTC publishes (camelCase properties, a picture as an associated
object with its own renditions), and ninjs 2.1 for partners that stay on 2.x.

Bias and sources ride in standard properties: the coverage as a `descriptions` entry with
role "coverage", the outlets as info sources. ninjs allows no extra properties.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from api.formats.feeds import item_id
from api.reader import Image, Item
from content.images import LEAD_RATIOS, SOURCE_TYPES_URI

MEDIA_TYPE = "application/ninjs+json"
LIST_MEDIA_TYPE = "application/vnd.newsgraph.ninjs-list+json"
"""A page of ninjs documents (`items`, `pageInfo`, `links`): not itself a ninjs document."""
VERSIONS = ("3.1", "2.1")
"""What we emit, the default first; a request names the major version (api.rest)."""
_SUBJECT_GROUPS = {
    "PERSON": "people",
    "ORGANIZATION": "organisations",
    "REGION": "places",
    "COUNTRY": "places",
}


def schema_uri(version: str) -> str:
    return f"http://www.iptc.org/std/ninjs/ninjs-schema_{version}.json#"


@functools.cache
def json_schema(version: str = "3.1") -> dict[str, Any]:
    """IPTC's official ninjs JSON Schema (2020-12) of `version`, as IPTC publishes it."""
    text = files("api.formats").joinpath("schemas", f"ninjs-schema_{version}.json").read_text()
    found: dict[str, Any] = json.loads(text)
    return found


def media_type(version: str, *, listing: bool = False) -> str:
    """The Content-Type of a document (or a page of them) of `version`."""
    return f"{LIST_MEDIA_TYPE if listing else MEDIA_TYPE}; version={version}"


def ninjs(
    item: Item,
    *,
    public_url: str,
    publisher: str,
    language: str,
    full_text: bool,
    version: str = "3.1",
) -> dict[str, Any]:
    """The item as a ninjs document of `version` (3.1 or 2.1); `full_text` adds the body
    (else it is partial)."""
    assert version in VERSIONS, version
    document: dict[str, Any] = {
        "uri": item_id(public_url, item),
        "standard": {"name": "ninjs", "version": "3.1", "schema": schema_uri("3.1")},
        "type": "text",
        "profile": f"newsgraph-{item.kind}",
        "representationType": "full" if full_text else "partial",
        "version": str(item.version),
        "firstCreated": item.published.isoformat(),
        "versionCreated": item.updated.isoformat(),
        "pubStatus": "usable",
        "language": language,
        "slugline": item.slug,
        "by": publisher,
        "copyrightHolder": publisher,
        "usageTerms": _usage_terms(item),
        "headlines": [{"role": "main", "value": item.title}],
        "descriptions": [
            {"role": "summary", "contentType": "text/plain", "value": item.summary},
            {"role": "coverage", "contentType": "text/plain", "value": _coverage(item)},
        ],
        "altIds": [
            {"role": "graphql-id", "value": item.node_id},
            {"role": "url", "value": item.url},
        ],
        "infoSources": _infosources(item),
    }
    if full_text:
        document["bodies"] = [
            {
                "role": "main",
                "contentType": "text/html",
                "value": item.full_html(),
                "wordCount": item.word_count,
            }
        ]
    if item.image:
        document["associations"] = [_picture(item, publisher, language)]
    document |= _subjects(item, public_url)
    return document if version == "3.1" else _as_2(document)


def _original(image: Image) -> dict[str, Any]:
    rendition: dict[str, Any] = {"name": "original", "href": image.url}
    if image.width and image.height:
        rendition |= {"width": image.width, "height": image.height}
    return rendition


def _picture(item: Item, publisher: str, language: str) -> dict[str, Any]:
    """The hero image as ninjs 3 wants a picture: an associated object of its own."""
    image = item.image
    assert image is not None
    picture: dict[str, Any] = {
        "name": "hero",
        "rel": "illustration",
        "uri": image.url,
        "type": "picture",
        "language": language,
        "renditions": [_original(image)]
        + [
            {"name": ratio, "href": href, "contentType": "image/jpeg"}
            for ratio, href in zip(LEAD_RATIOS, item.page.images, strict=False)
        ],
    }
    if image.digitalSourceType:
        uri = SOURCE_TYPES_URI + image.digitalSourceType
        picture["digitalSourceType"] = {"uri": uri, "literal": image.digitalSourceType}
    if image.alt:
        picture["descriptions"] = [{"role": "alt", "contentType": "text/plain", "value": image.alt}]
    if image.caption:
        picture["headlines"] = [{"role": "caption", "value": image.caption}]
    if image.credit:
        picture["by"] = image.credit
    return picture


# ninjs 2.x spells these in lower case; nothing else differs in what we send.
_LOWER_IN_2 = {
    name: name.lower()
    for name in (
        "representationType", "firstCreated", "versionCreated", "pubStatus", "copyrightHolder",
        "usageTerms", "altIds", "infoSources", "contentType", "wordCount",
    )
}  # fmt: skip


def _as_2(document: dict[str, Any]) -> dict[str, Any]:
    """A 3.1 document as ninjs 2.1 says it: lower-case properties, and the picture as the
    item's rendition (2.x has no associated pictures of their own)."""

    def lowered(node: Any) -> Any:
        if isinstance(node, list):
            return [lowered(n) for n in node]
        if isinstance(node, dict):
            return {_LOWER_IN_2.get(k, k): lowered(v) for k, v in node.items()}
        return node

    pictures = document.pop("associations", [])
    older: dict[str, Any] = lowered(document)
    older["standard"] = {"name": "ninjs", "version": "2.1", "schema": schema_uri("2.1")}
    for picture in pictures:
        rendition = {"name": picture["name"], "href": picture["uri"]}
        alt = next(
            (d["value"] for d in picture.get("descriptions", ()) if d["role"] == "alt"), None
        )
        if alt:
            rendition["title"] = alt
        older.setdefault("renditions", []).append(rendition)
    return older


def _usage_terms(item: Item) -> str:
    if item.syndicatable:
        return "Licensed partners may republish this item with attribution."
    return "Not for syndication: do not republish."


def _coverage(item: Item) -> str:
    bias = item.bias
    spread = (
        f"L {bias['leftPercent']}% · C {bias['centerPercent']}% · R {bias['rightPercent']}%"
        if bias["leftPercent"] is not None
        else "no rated sources"
    )
    sources = "1 source" if item.source_count == 1 else f"{item.source_count} sources"
    return f"{item.coverage_label}: {sources}, {spread}"


def _infosources(item: Item) -> list[dict[str, str]]:
    outlets = dict.fromkeys((s.outlet, s.outlet_domain) for s in item.sources)
    return [
        {"name": name, "uri": f"https://{domain}", "role": "source"}
        for name, domain in outlets
        if name
    ]


def _subjects(item: Item, public_url: str) -> dict[str, list[dict[str, str]]]:
    groups: dict[str, list[dict[str, str]]] = {}
    topics = ([item.category] if item.category else []) + item.topics
    for topic in dict.fromkeys(topics):
        group = _SUBJECT_GROUPS.get(topic.kind, "subjects")
        entry = {
            "name": topic.name,
            "uri": f"{public_url}/topics/{topic.slug}",
            "literal": topic.slug,
            "rel": "category" if topic is item.category else "about",
        }
        groups.setdefault(group, []).append(entry)
    return groups
