"""Sitemaps (sitemaps.org 0.9): an index, url sets, and a Google News url set."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from xml.etree import ElementTree as ET

from api.formats.feeds import clean_text

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
MEDIA_TYPE = "application/xml; charset=utf-8"


def index(sitemaps: Iterable[tuple[str, datetime | None]]) -> bytes:
    """<sitemapindex> of (location, last modified, when known)."""
    return _located("sitemapindex", "sitemap", sitemaps)


def url_set(urls: Iterable[tuple[str, datetime]]) -> bytes:
    """<urlset> of (page URL, last modified)."""
    return _located("urlset", "url", urls)


def _located(
    root_tag: str, entry_tag: str, entries: Iterable[tuple[str, datetime | None]]
) -> bytes:
    root = ET.Element(root_tag, {"xmlns": SITEMAP})
    for location, modified in entries:
        entry = ET.SubElement(root, entry_tag)
        _text(entry, "loc", location)
        if modified is not None:
            _text(entry, "lastmod", modified.isoformat())
    return _xml(root)


def news_set(
    articles: list[tuple[str, str, datetime]], publication: str, language: str, home: str
) -> bytes:
    """A Google News sitemap of (page URL, title, publication time). With no articles it lists
    the home page alone, without news tags: sitemaps.org's schema wants at least one <url>, and
    a crawler finds no news in it."""
    root = ET.Element("urlset", {"xmlns": SITEMAP, "xmlns:news": NEWS})
    if not articles:
        _text(ET.SubElement(root, "url"), "loc", home)
    for location, title, published in articles:
        entry = ET.SubElement(root, "url")
        _text(entry, "loc", location)
        news = ET.SubElement(entry, "news:news")
        source = ET.SubElement(news, "news:publication")
        _text(source, "news:name", publication)
        _text(source, "news:language", language)
        _text(news, "news:publication_date", published.isoformat())
        _text(news, "news:title", title)
    return _xml(root)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = clean_text(text)


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
