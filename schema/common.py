from __future__ import annotations

import strawberry

from schema.compiled import Column, Embedded, PageUrl


@strawberry.type(description="An image with its accessibility text and attribution.")
class Image:
    url: str = strawberry.field(description="Absolute URL of the image.")
    alt: str | None = strawberry.field(description="Alternative text for screen readers.")
    caption: str | None = strawberry.field(description="Caption shown under the image.")
    credit: str | None = strawberry.field(description="Photographer or agency credit.")


@strawberry.type(description="What a share button needs: link, title and a short text.")
class Share:
    url: str = strawberry.field(description="Canonical public URL of the page.")
    title: str = strawberry.field(description="Title for the shared link.")
    text: str = strawberry.field(description="A short description, at most 200 characters.")


def image(
    url: str | None, alt: str | None, caption: str | None, credit: str | None
) -> Image | None:
    return Image(url=url, alt=alt, caption=caption, credit=credit) if url else None


def share(url: str, title: str, text: str) -> Share:
    """text: the page's stored share text (content.figures.share_text)."""
    return Share(url=url, title=title, text=text)


def image_of(prefix: str) -> Embedded:
    """The compiled form of an Image kept in the columns url, alt, caption and credit after
    `prefix` (null without a url)."""
    parts = ("url", "alt", "caption", "credit")
    return Embedded({part: Column(prefix + part) for part in parts}, present=prefix + "url")


def share_of(path: str) -> Embedded:
    """The compiled form of a page's Share (its stored share text)."""
    return Embedded({"url": PageUrl(path), "title": Column("title"), "text": Column("share_text")})
