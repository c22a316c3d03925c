"""Content documents: the one shape in which content is written, imported and exported.

A document is a plain dict, one per outlet, topic, source, story or deep dive, that refers to
other content by slug or URL (never by database id). `parse` checks one against its kind's
rules and returns it normalised, so the same input always yields the same document: that is
what makes imports idempotent and export -> import round-trip exactly. Mutations build
documents too, so every write path enforces the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from content.images import SOURCE_TYPES

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
TRACKING_PARAMETERS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_hsenc|_hsmi|yclid)$", re.I
)

BIASES = ("LEFT", "LEAN_LEFT", "CENTER", "LEAN_RIGHT", "RIGHT")
FACTUALITIES = ("VERY_HIGH", "HIGH", "MIXED", "LOW", "VERY_LOW")
TOPIC_KINDS = ("CATEGORY", "REGION", "COUNTRY", "ORGANIZATION", "PERSON", "PROGRAM", "TOPIC")
SENTIMENTS = ("POSITIVE", "NEUTRAL", "NEGATIVE")
STATUSES = ("DRAFT", "PUBLISHED", "ARCHIVED")
"""Stored statuses: SCHEDULED is accepted on input and stored as PUBLISHED with its future
publish time (visibility is decided at read time)."""

KINDS = ("outlet", "topic", "source", "story", "deep_dive")
"""The editorial kinds (db.editorial); NDJSON also carries `image` lines (FILE_KINDS)."""
FILE_KINDS = ("image", *KINDS)
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a document."""

    path: Path
    code: str
    message: str


class Invalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{_dotted(p.path)}: {p.message}" for p in problems))
        self.problems = problems


def _dotted(path: Path) -> str:
    return ".".join(str(part) for part in path) or "(document)"


def http_url(url: str) -> SplitResult:
    """The parts of an absolute http(s) URL with a host, no credentials and a valid port
    (article URLs, webhook endpoints). Raises ValueError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return parts


def canonical_url(url: str) -> str:
    """The one spelling of an article's URL: lower-case scheme and host, no default port, no
    fragment, no tracking parameters (utm_*, fbclid, gclid, ...). Raises ValueError."""
    parts = http_url(url)
    scheme, host, port = parts.scheme.lower(), str(parts.hostname).lower(), parts.port
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMETERS.match(name)
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


class _Checker:
    """Collects every problem of a document instead of stopping at the first."""

    def __init__(self, raw: dict[str, Any], known: set[str]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []
        for name in sorted(set(raw) - known - {"type"}):
            self.problem((name,), "UNKNOWN_FIELD", "is not a field of this kind of document")

    def problem(self, path: Path, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def text(
        self,
        value: Any,
        path: Path,
        *,
        required: bool = True,
        max_length: int = 300,
        empty: bool = False,
    ) -> str | None:
        if value is None:
            if required:
                self.problem(path, "REQUIRED", "is required")
            return None
        if not isinstance(value, str):
            self.problem(path, "INVALID", "must be a string")
            return None
        if "\x00" in value:
            self.problem(path, "INVALID", "must not contain NUL characters")
            return None
        if len(value) > max_length:
            self.problem(path, "TOO_LONG", f"must be at most {max_length} characters")
            return None
        if not value.strip() and not empty:
            if required:
                self.problem(path, "REQUIRED", "must not be blank")
            return None
        return value

    def field(self, name: str, **options: Any) -> str | None:
        return self.text(self.raw.get(name), (name,), **options)

    def slug(self, value: Any, path: Path, *, required: bool = True) -> str | None:
        text = self.text(value, path, required=required, max_length=120)
        if text is not None and not SLUG.match(text):
            self.problem(
                path, "INVALID", "must be lower-case letters and digits joined by single hyphens"
            )
            return None
        return text

    def url(self, value: Any, path: Path, *, required: bool = True) -> str | None:
        text = self.text(value, path, required=required, max_length=2048)
        if text is None:
            return None
        try:
            return canonical_url(text)
        except ValueError as error:
            self.problem(path, "INVALID", str(error))
            return None

    def choice(
        self, name: str, choices: tuple[str, ...], *, required: bool = True, default: Any = None
    ) -> str | None:
        value = self.raw.get(name, default)
        if value is None:
            if required:
                self.problem((name,), "REQUIRED", "is required")
            return None
        if value not in choices:
            self.problem((name,), "INVALID", f"must be one of {', '.join(choices)}")
            return None
        return str(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            self.problem((name,), "INVALID", "must be true or false")
            return default
        return value

    def pattern(self, name: str, regex: re.Pattern[str], hint: str) -> str | None:
        text = self.field(name, required=False, max_length=20)
        if text is not None and not regex.match(text):
            self.problem((name,), "INVALID", f"must be {hint}")
            return None
        return text

    def time(self, name: str) -> datetime | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                self.problem((name,), "INVALID", "must be an ISO-8601 time")
                return None
        if not isinstance(value, datetime):
            self.problem((name,), "INVALID", "must be an ISO-8601 time")
            return None
        if value.tzinfo is None:
            self.problem((name,), "INVALID", "needs a time zone offset, e.g. Z or +02:00")
            return None
        return value

    def date(self, name: str) -> date | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, datetime) or not isinstance(value, str | date):
            self.problem((name,), "INVALID", "must be an ISO-8601 date, e.g. 2026-03-01")
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problem((name,), "INVALID", "must be an ISO-8601 date, e.g. 2026-03-01")
            return None

    def items(self, name: str, max_items: int) -> list[Any]:
        value = self.raw.get(name, [])
        if not isinstance(value, list):
            self.problem((name,), "INVALID", "must be a list")
            return []
        if len(value) > max_items:
            self.problem((name,), "TOO_LONG", f"must have at most {max_items} entries")
            return []
        return value

    def unique(self, name: str, values: list[Any]) -> None:
        seen: set[Any] = set()
        for index, value in enumerate(values):
            if value in seen:
                self.problem((name, index), "DUPLICATE", f"{value} is listed twice")
            seen.add(value)

    def refs(
        self, name: str, check: Callable[[Any, Path], str | None], max_items: int
    ) -> list[str]:
        found = [check(v, (name, i)) for i, v in enumerate(self.items(name, max_items))]
        values = [v for v in found if v is not None]
        self.unique(name, values)
        return values

    def done(self, document: dict[str, Any]) -> dict[str, Any]:
        if self.problems:
            raise Invalid(self.problems)
        return document


def _outlet(c: _Checker) -> dict[str, Any]:
    domain = c.field("domain", max_length=253)
    if domain is not None and not re.match(r"^[a-z0-9.-]+\.[a-z]{2,}$", domain):
        c.problem(("domain",), "INVALID", "must be a lower-case host name, e.g. example.com")
    return {
        "slug": c.slug(c.raw.get("slug"), ("slug",)),
        "name": c.field("name", max_length=200),
        "domain": domain,
        "country": c.pattern("country", COUNTRY, "an ISO 3166 alpha-2 code, e.g. GB"),
        "bias": c.choice("bias", BIASES, required=False),
        "factuality": c.choice("factuality", FACTUALITIES, required=False),
        "owner": c.field("owner", required=False, max_length=200),
        "rating_basis": c.field("rating_basis", required=False, max_length=2000),
        "rated_on": c.date("rated_on"),
    }


def _topic(c: _Checker) -> dict[str, Any]:
    return {
        "slug": c.slug(c.raw.get("slug"), ("slug",)),
        "name": c.field("name", max_length=200),
        "kind": c.choice("kind", TOPIC_KINDS),
        "description": c.field("description", required=False, max_length=2000),
    }


def _source(c: _Checker) -> dict[str, Any]:
    language = c.pattern("language", LANGUAGE, "a language tag, e.g. en or pt-BR") or "en"
    return {
        "url": c.url(c.raw.get("url"), ("url",)),
        "outlet": c.slug(c.raw.get("outlet"), ("outlet",)),
        "title": c.field("title", max_length=500),
        "author": c.field("author", required=False, max_length=200),
        "published_at": c.time("published_at"),
        "language": language,
        "excerpt": c.field("excerpt", required=False, max_length=5000),
        "image_url": c.url(c.raw.get("image_url"), ("image_url",), required=False),
        "image_alt": c.field("image_alt", required=False, max_length=500),
        "image_caption": c.field("image_caption", required=False, max_length=1000),
        "image_credit": c.field("image_credit", required=False, max_length=200),
    }


def _lifecycle(c: _Checker) -> tuple[str | None, datetime | None]:
    status = c.raw.get("status", "DRAFT")
    if status == "SCHEDULED":
        status = "PUBLISHED"  # a publish time in the future is what makes it scheduled
    elif status not in STATUSES:
        c.problem(("status",), "INVALID", "must be one of DRAFT, SCHEDULED, PUBLISHED, ARCHIVED")
        status = None
    published_at = c.time("published_at")  # reports a value that is not a time
    if status == "PUBLISHED" and c.raw.get("published_at") is None:
        c.problem(("published_at",), "REQUIRED", "is required to publish or schedule")
    return status, published_at


def _image(c: _Checker) -> dict[str, Any] | None:
    raw = c.raw.get("hero_image")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        c.problem(("hero_image",), "INVALID", "must be an object with url, alt, caption, credit")
        return None
    for name in sorted(set(raw) - {"url", "alt", "caption", "credit"}):
        c.problem(("hero_image", name), "UNKNOWN_FIELD", "is not a field of an image")
    return {
        "url": c.url(raw.get("url"), ("hero_image", "url")),
        "alt": c.text(raw.get("alt"), ("hero_image", "alt"), required=False, max_length=500),
        "caption": c.text(
            raw.get("caption"), ("hero_image", "caption"), required=False, max_length=1000
        ),
        "credit": c.text(raw.get("credit"), ("hero_image", "credit"), required=False),
    }


def _story(c: _Checker) -> dict[str, Any]:
    status, published_at = _lifecycle(c)
    return {
        "slug": c.slug(c.raw.get("slug"), ("slug",)),
        "title": c.field("title", max_length=300),
        "summary": c.field("summary", required=False, max_length=5000, empty=True) or "",
        "category": c.slug(c.raw.get("category"), ("category",), required=False),
        "topics": c.refs("topics", c.slug, 50),
        "sources": c.refs("sources", c.url, 500),
        "sentiment": c.choice("sentiment", SENTIMENTS, required=False),
        "hero_image": _image(c),
        "status": status,
        "published_at": published_at,
        "syndicatable": c.flag("syndicatable", True),
    }


def _sections(c: _Checker) -> list[dict[str, str]]:
    sections = []
    for index, raw in enumerate(c.items("sections", 100)):
        path: Path = ("sections", index)
        if not isinstance(raw, dict):
            c.problem(path, "INVALID", "must be an object with heading and body")
            continue
        for name in sorted(set(raw) - {"heading", "body"}):
            c.problem((*path, name), "UNKNOWN_FIELD", "is not a field of a section")
        heading = c.text(raw.get("heading"), (*path, "heading"))
        body = c.text(raw.get("body"), (*path, "body"), max_length=100_000)
        if heading is not None and body is not None:
            sections.append({"heading": heading, "body": body})
    return sections


def _citations(c: _Checker) -> list[dict[str, str]]:
    citations = []
    for index, raw in enumerate(c.items("citations", 200)):
        path: Path = ("citations", index)
        if not isinstance(raw, dict):
            c.problem(path, "INVALID", "must be an object with source (a URL) and note")
            continue
        for name in sorted(set(raw) - {"source", "note"}):
            c.problem((*path, name), "UNKNOWN_FIELD", "is not a field of a citation")
        source = c.url(raw.get("source"), (*path, "source"))
        note = c.text(raw.get("note", ""), (*path, "note"), max_length=2000, empty=True)
        if source is not None and note is not None:
            citations.append({"source": source, "note": note})
    return citations


def _deep_dive(c: _Checker) -> dict[str, Any]:
    status, published_at = _lifecycle(c)
    return {
        "slug": c.slug(c.raw.get("slug"), ("slug",)),
        "story": c.slug(c.raw.get("story"), ("story",)),
        "title": c.field("title", max_length=300),
        "dek": c.field("dek", required=False, max_length=1000, empty=True) or "",
        "status": status,
        "published_at": published_at,
        "sections": _sections(c),
        "key_actors": c.refs("key_actors", c.slug, 50),
        "citations": _citations(c),
        "syndicatable": c.flag("syndicatable", True),
        "hero_image": _image(c),
    }


def _image_facts(c: _Checker) -> dict[str, Any]:
    """An image's own metadata (NDJSON `type: image`), by its original's URL."""
    point = c.raw.get("focal_point")
    focal = None
    if point is not None:
        valid = isinstance(point, dict) and set(point) == {"x", "y"}
        if not valid or not all(
            isinstance(point[k], int | float)
            and not isinstance(point[k], bool)
            and 0 <= point[k] <= 1
            for k in ("x", "y")
        ):
            c.problem(("focal_point",), "INVALID", "must be {x, y} with each from 0 to 1")
        else:
            focal = {"x": float(point["x"]), "y": float(point["y"])}
    return {
        "url": c.url(c.raw.get("url"), ("url",)),
        "focal_point": focal,
        "copyright_holder": c.field("copyright_holder", required=False, max_length=300),
        "license": c.field("license", required=False, max_length=2000),
        "license_url": c.url(c.raw.get("license_url"), ("license_url",), required=False),
        "digital_source_type": c.choice("digital_source_type", SOURCE_TYPES, required=False),
    }


_BUILDERS: dict[str, tuple[Callable[[_Checker], dict[str, Any]], set[str]]] = {
    "image": (
        _image_facts,
        {"url", "focal_point", "copyright_holder", "license", "license_url"}
        | {"digital_source_type"},
    ),
    "outlet": (
        _outlet,
        {"slug", "name", "domain", "country", "bias", "factuality", "owner"}
        | {"rating_basis", "rated_on"},
    ),
    "topic": (_topic, {"slug", "name", "kind", "description"}),
    "source": (
        _source,
        {"url", "outlet", "title", "author", "published_at", "language", "excerpt"}
        | {"image_url", "image_alt", "image_caption", "image_credit"},
    ),
    "story": (
        _story,
        {"slug", "title", "summary", "category", "topics", "sources", "sentiment"}
        | {"hero_image", "status", "published_at", "syndicatable"},
    ),
    "deep_dive": (
        _deep_dive,
        {"slug", "story", "title", "dek", "status", "published_at", "sections"}
        | {"key_actors", "citations", "syndicatable", "hero_image"},
    ),
}


def parse(kind: str, raw: Any) -> dict[str, Any]:
    """The normalised document of this kind, or Invalid listing every problem."""
    if kind not in _BUILDERS:
        raise Invalid([Problem(("type",), "INVALID", f"must be one of {', '.join(KINDS)}")])
    if not isinstance(raw, dict):
        raise Invalid([Problem((), "INVALID", "must be a JSON object")])
    build, known = _BUILDERS[kind]
    checker = _Checker(raw, known)
    return checker.done(build(checker))


def natural_key(kind: str, document: dict[str, Any]) -> str:
    """What identifies the document: its URL for sources and images, its slug for the rest."""
    return str(document["url"] if kind in ("source", "image") else document["slug"])
