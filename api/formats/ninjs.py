"""IPTC ninjs 2.1 (News in JSON) documents of stories and deep dives.

Bias and sources ride in standard properties: the coverage as a `descriptions` entry with
role "coverage", the outlets as `infosources`. ninjs allows no extra properties.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

from api.formats.feeds import item_id
from api.reader import Item

MEDIA_TYPE = "application/ninjs+json"
LIST_MEDIA_TYPE = "application/vnd.newsgraph.ninjs-list+json"
"""A page of ninjs documents (`items`, `pageInfo`, `links`): not itself a ninjs document."""
VERSION = "2.1"
SCHEMA = "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json#"
_SUBJECT_GROUPS = {
    "PERSON": "people",
    "ORGANIZATION": "organisations",
    "REGION": "places",
    "COUNTRY": "places",
}


@functools.cache
def json_schema() -> dict[str, Any]:
    """IPTC's official ninjs 2.1 JSON Schema (2020-12), as IPTC publishes it."""
    text = files("api.formats").joinpath("schemas", "ninjs-schema_2.1.json").read_text()
    found: dict[str, Any] = json.loads(text)
    return found


def ninjs(item: Item, *, public_url: str, publisher: str, language: str, full_text: bool) -> dict:
    """The item as a ninjs 2.1 document; `full_text` adds the body (else it is partial)."""
    document: dict[str, Any] = {
        "uri": item_id(public_url, item),
        "standard": {"name": "ninjs", "version": VERSION, "schema": SCHEMA},
        "type": "text",
        "profile": f"newsgraph-{item.kind}",
        "representationtype": "full" if full_text else "partial",
        "version": str(item.version),
        "firstcreated": item.published.isoformat(),
        "versioncreated": item.updated.isoformat(),
        "pubstatus": "usable",
        "language": language,
        "slugline": item.slug,
        "by": publisher,
        "copyrightholder": publisher,
        "usageterms": _usage_terms(item),
        "headlines": [{"role": "main", "value": item.title}],
        "descriptions": [
            {"role": "summary", "contenttype": "text/plain", "value": item.summary},
            {"role": "coverage", "contenttype": "text/plain", "value": _coverage(item)},
        ],
        "altids": [
            {"role": "graphql-id", "value": item.node_id},
            {"role": "url", "value": item.url},
        ],
        "infosources": _infosources(item),
    }
    if full_text:
        document["bodies"] = [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": item.full_html(),
                "wordcount": item.word_count,
            }
        ]
    if item.image:
        rendition: dict[str, Any] = {"name": "hero", "href": item.image.url}
        if item.image.alt:
            rendition["title"] = item.image.alt
        document["renditions"] = [rendition]
    document |= _subjects(item, public_url)
    return document


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
