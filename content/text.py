"""Markdown to safe HTML or plain text, and URL slugs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "figcaption",
    "figure",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "h3": {"id"},
    "h4": {"id"},
    "h5": {"id"},
    "h6": {"id"},
    "td": {"align"},
    "th": {"align"},
}
_NON_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Heading:
    anchor: str
    title: str
    level: int


def slugify(text: str, fallback: str = "section") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-")[:80].strip("-") or fallback


class Anchors:
    """Hands out slugs that are unique within one document, in document order."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, title: str) -> str:
        base = slugify(title)
        anchor, n = base, 2
        while anchor in self._taken:
            anchor, n = f"{base}-{n}", n + 1
        self._taken.add(anchor)
        return anchor


def _demoted_headings(tokens: list[Token]) -> Iterable[tuple[Token, Token]]:
    """Headings inside a section body sit below the section's own h2."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            level = max(3, int(token.tag[1]))
            token.tag = f"h{level}"
            tokens[index + 2].tag = token.tag
            yield token, tokens[index + 1]


def render_markdown(markdown: str, anchors: Anchors) -> tuple[str, list[Heading]]:
    """Sanitised HTML, and the headings inside it (their ids claimed from `anchors`)."""
    tokens = _markdown.parse(markdown)
    headings = []
    for opening, inline in _demoted_headings(tokens):
        heading = Heading(anchors.claim(inline.content), inline.content, int(opening.tag[1]))
        opening.attrSet("id", heading.anchor)
        headings.append(heading)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return clean, headings


def markdown_to_text(markdown: str) -> str:
    """The words a reader sees, without markup; blocks separated by blank lines."""
    blocks: list[str] = []
    for token in _markdown.parse(markdown):
        if token.type == "inline":
            blocks.append("".join(_inline_text(token.children or [])))
        elif token.type in ("code_block", "fence"):
            blocks.append(token.content.rstrip("\n"))
    return "\n\n".join(block for block in blocks if block)


def _inline_text(children: list[Token]) -> Iterable[str]:
    for child in children:
        if child.type in ("text", "code_inline"):
            yield child.content
        elif child.type in ("softbreak", "hardbreak"):
            yield " "
        elif child.type == "image":
            yield from _inline_text(child.children or [])


@dataclass(frozen=True)
class RenderedSection:
    anchor: str
    heading: str
    markdown: str
    html: str
    text: str
    subheadings: list[Heading]


def render_sections(sections: Iterable[tuple[str, str]]) -> list[RenderedSection]:
    """(heading, Markdown body) pairs rendered with anchors unique across the whole document."""
    anchors = Anchors()
    rendered = []
    for heading, body in sections:
        anchor = anchors.claim(heading)
        html, subheadings = render_markdown(body, anchors)
        rendered.append(
            RenderedSection(anchor, heading, body, html, markdown_to_text(body), subheadings)
        )
    return rendered
