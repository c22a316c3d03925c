from __future__ import annotations

import strawberry


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
    short = text if len(text) <= 200 else text[:199].rsplit(" ", 1)[0] + "…"
    return Share(url=url, title=title, text=short)
