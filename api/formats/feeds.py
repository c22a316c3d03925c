"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 from one Feed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import orjson

from api.reader import Item

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
ET.register_namespace("atom", ATOM)
ET.register_namespace("content", CONTENT)
MEDIA = "http://search.yahoo.com/mrss/"
"""Media RSS: an item's image, in RSS and Atom (an <enclosure> would need its byte length)."""
ET.register_namespace("media", MEDIA)

MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
TAG_YEAR = 2026
"""The year in every tag: URI we mint (RFC 4151); it never changes, so ids never change."""


@dataclass(frozen=True)
class Feed:
    title: str
    description: str
    home_url: str
    self_url: str
    next_url: str | None
    feed_id: str
    updated: datetime
    language: str
    publisher: str
    items: list[Item]
    full_text: bool
    """Whether items carry their full text (PARTNER keys) or their summaries only."""


def tag_uri(public_url: str, specific: str) -> str:
    """A permanent id (RFC 4151 tag: URI) for something we publish, e.g. "story:42"."""
    return f"tag:{urlsplit(public_url).hostname},{TAG_YEAR}:{specific}"


def item_id(public_url: str, item: Item) -> str:
    return tag_uri(public_url, f"{item.kind}:{item.pk}")


def render(feed: Feed, format_name: str, public_url: str) -> bytes:
    return _RENDERERS[format_name](feed, public_url)


def rss(feed: Feed, public_url: str) -> bytes:
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _text(channel, "title", feed.title)
    _text(channel, "link", feed.home_url)
    _text(channel, "description", feed.description)
    _text(channel, "language", feed.language)
    _text(channel, "lastBuildDate", format_datetime(feed.updated, usegmt=True))
    _text(channel, "generator", "Newsgraph")
    _links(channel, feed, "application/rss+xml")
    for item in feed.items:
        entry = _sub(channel, "item")
        _text(entry, "title", item.title)
        _text(entry, "link", item.url)
        _text(entry, "guid", item_id(public_url, item)).set("isPermaLink", "false")
        _text(entry, "pubDate", format_datetime(item.published, usegmt=True))
        _text(entry, "description", item.summary)
        for topic in _categories(item):
            _text(entry, "category", topic)
        if feed.full_text:
            _text(entry, f"{{{CONTENT}}}encoded", item.full_html())
        _media(entry, item)
    return _xml(root)


def atom(feed: Feed, public_url: str) -> bytes:
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": feed.language})
    _text(root, "id", feed.feed_id)
    _text(root, "title", feed.title)
    _text(root, "subtitle", feed.description)
    _text(root, "updated", feed.updated.isoformat())
    author = _sub(root, "author")
    _text(author, "name", feed.publisher)
    _sub(root, "link", rel="alternate", type="text/html", href=feed.home_url)
    _links(root, feed, "application/atom+xml", tag="link")
    for item in feed.items:
        entry = _sub(root, "entry")
        _text(entry, "id", item_id(public_url, item))
        _text(entry, "title", item.title)
        _sub(entry, "link", rel="alternate", type="text/html", href=item.url)
        _text(entry, "published", item.published.isoformat())
        _text(entry, "updated", item.updated.isoformat())
        _text(entry, "summary", item.summary).set("type", "text")
        for topic in _categories(item):
            _sub(entry, "category", term=topic)
        if feed.full_text:
            _text(entry, "content", item.full_html()).set("type", "html")
        _media(entry, item)
    return _xml(root)


def _media(entry: ET.Element, item: Item) -> None:
    """The item's image as <media:content> (its 16:9 rendition when the service makes them),
    with the alt text as the description and the credit."""
    if item.image is None:
        return
    rendition = item.page.images[0] if item.page.images else None
    content = _sub(entry, f"{{{MEDIA}}}content", url=rendition or item.image.url, medium="image")
    if rendition:
        content.set("type", "image/jpeg")
    if item.image.alt:
        _text(content, f"{{{MEDIA}}}description", item.image.alt)
    if item.image.credit:
        _text(content, f"{{{MEDIA}}}credit", item.image.credit)


def json_feed(feed: Feed, public_url: str) -> bytes:
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home_url,
        "feed_url": feed.self_url,
        "description": feed.description,
        "language": feed.language,
        "authors": [{"name": feed.publisher, "url": public_url}],
        "items": [_json_item(item, feed.full_text, public_url) for item in feed.items],
    }
    if feed.next_url:
        document["next_url"] = feed.next_url
    return orjson.dumps(document)


def _json_item(item: Item, full_text: bool, public_url: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": item_id(public_url, item),
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "date_published": item.published.isoformat(),
        "date_modified": item.updated.isoformat(),
        "tags": _categories(item),
        "_newsgraph": {
            "kind": item.kind,
            "id": item.node_id,
            "sourceCount": item.source_count,
            "bias": item.bias,
            "coverageLabel": item.coverage_label,
            "blindspot": item.blindspot,
            "readTimeMinutes": item.read_time_minutes,
        },
    }
    if full_text:
        found["content_html"] = item.full_html()
    else:
        found["content_text"] = item.summary
    if item.image:
        found["image"] = item.page.images[0] if item.page.images else item.image.url
    return found


def _categories(item: Item) -> list[str]:
    names = [item.category.name] if item.category else []
    return list(dict.fromkeys(names + [topic.name for topic in item.topics]))


def _links(parent: ET.Element, feed: Feed, media_type: str, tag: str = f"{{{ATOM}}}link") -> None:
    """rel=self and, where another page follows, rel=next (RFC 5005 paging)."""
    _sub(parent, tag, rel="self", type=media_type, href=feed.self_url)
    if feed.next_url:
        _sub(parent, tag, rel="next", type=media_type, href=feed.next_url)


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, attributes)


# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: str) -> str:
    """The text without the control characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = clean_text(text)
    return element


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


_RENDERERS = {"rss": rss, "atom": atom, "json": json_feed}
