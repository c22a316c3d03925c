"""What search engines and link previews read about a page: schema.org JSON-LD and OpenGraph
(no I/O; schema/ gathers the facts, these functions only shape them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Cited:
    """A source a page rests on."""

    title: str
    url: str
    outlet: str
    published: datetime | None


@dataclass(frozen=True)
class Page:
    """A story or deep-dive page, as metadata describes it."""

    kind: str
    """schema.org type: NewsArticle for stories, AnalysisNewsArticle for deep dives."""
    url: str
    headline: str
    description: str
    image: str | None
    published: datetime | None
    modified: datetime
    section: str | None
    keywords: list[str]
    word_count: int
    citations: list[Cited]
    about: str | None = None
    """For a deep dive: the URL of the story page it analyses."""
    image_alt: str | None = None
    images: tuple[str, ...] = ()
    """The image's renditions for search engines and previews (content.images.lead_images:
    16:9, 4:3 and 1:1); empty: only the original is known."""
    image_size: tuple[int, int] | None = None
    """The first rendition's pixel size, when the original's is known."""


def last_modified(updated: datetime, published: datetime | None) -> datetime:
    """When readers last saw the page change: its last editorial write, or its publish time
    if that came later (a scheduled page changes for readers when it comes due, with no write).
    Only editorial writes move updated_at: recomputed figures do not, and an imported item that
    was already published counts as unedited since its publish time (db.editorial)."""
    return updated if published is None else max(updated, published)


@dataclass(frozen=True)
class Publisher:
    name: str
    url: str
    language: str


def json_ld(page: Page, publisher: Publisher) -> dict[str, Any]:
    """A schema.org document for a <script type="application/ld+json"> tag."""
    organisation = {"@type": "NewsMediaOrganization", "name": publisher.name, "url": publisher.url}
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": page.kind,
        "@id": page.url,
        "url": page.url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
        "headline": page.headline,
        "description": page.description,
        "inLanguage": publisher.language,
        "dateModified": last_modified(page.modified, page.published).isoformat(),
        "author": organisation,
        "publisher": organisation,
        "wordCount": page.word_count,
        "isAccessibleForFree": True,
        # A deep dive may cite one source at several places: schema.org lists it once.
        "citation": [_citation(cited) for cited in {c.url: c for c in page.citations}.values()],
    }
    optional = {
        "image": list(page.images or ([page.image] if page.image else [])) or None,
        "datePublished": page.published.isoformat() if page.published else None,
        "articleSection": page.section,
        "keywords": page.keywords or None,
        "about": {"@type": "NewsArticle", "url": page.about} if page.about else None,
    }
    return document | {name: value for name, value in optional.items() if value is not None}


def open_graph(page: Page, publisher: Publisher) -> list[tuple[str, str]]:
    """OpenGraph <meta property content> pairs, in the order pages usually list them."""
    tags = [
        ("og:type", "article"),
        ("og:site_name", publisher.name),
        ("og:title", page.headline),
        ("og:description", page.description),
        ("og:url", page.url),
        ("og:locale", og_locale(publisher.language)),
    ]
    if page.image:
        tags.append(("og:image", page.images[0] if page.images else page.image))
        if page.images:
            tags.append(("og:image:type", "image/jpeg"))
        if page.image_size:
            tags += [("og:image:width", str(page.image_size[0]))]
            tags += [("og:image:height", str(page.image_size[1]))]
        if page.image_alt:
            tags.append(("og:image:alt", page.image_alt))
    if page.published:
        tags.append(("article:published_time", page.published.isoformat()))
    tags.append(("article:modified_time", last_modified(page.modified, page.published).isoformat()))
    if page.section:
        tags.append(("article:section", page.section))
    tags += [("article:tag", keyword) for keyword in page.keywords]
    # X (Twitter) reads og:* for the rest; the card type is its own.
    tags.append(("twitter:card", "summary_large_image" if page.image else "summary"))
    if page.image and page.image_alt:
        tags.append(("twitter:image:alt", page.image_alt))
    return tags


# The region a bare language is most likely written for (CLDR's likely subtags, for the
# languages a news site is most often in); any other bare language doubles its code.
_LIKELY_REGION = {
    "en": "US", "es": "ES", "pt": "BR", "fr": "FR", "de": "DE", "it": "IT", "nl": "NL",
    "ja": "JP", "ko": "KR", "zh": "CN", "ar": "EG", "hi": "IN", "sv": "SE", "da": "DK",
    "nb": "NO", "uk": "UA", "el": "GR", "he": "IL", "fa": "IR", "cs": "CZ", "vi": "VN",
}  # fmt: skip


def og_locale(language: str) -> str:
    """OpenGraph's locale (language_TERRITORY, as `en_US`) of a BCP 47 tag: its region when
    it names one (`pt-BR` → `pt_BR`), else the region the language is most likely for."""
    parts = language.replace("_", "-").split("-")
    base = parts[0].lower()
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    return f"{base}_{region or _LIKELY_REGION.get(base, base.upper())}"


def _citation(cited: Cited) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@type": "NewsArticle",
        "headline": cited.title,
        "url": cited.url,
        "publisher": {"@type": "Organization", "name": cited.outlet},
    }
    if cited.published:
        found["datePublished"] = cited.published.isoformat()
    return found
