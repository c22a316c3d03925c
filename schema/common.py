from __future__ import annotations

from enum import Enum
from functools import partial
from typing import Any

import strawberry

from content import images as rules
from db import images as db_images
from db.images import ImageRecord
from schema.compiled import Column, Embedded, Expression, PageUrl, Plain
from schema.errors import BadUserInput


@strawberry.enum(description="The encodings renditions come in.")
class ImageFormat(Enum):
    WEBP = "webp"
    AVIF = "avif"
    JPG = "jpg"


@strawberry.enum(
    description="The shapes renditions come in; all but ORIGINAL are cropped around the "
    "focal point."
)
class ImageRatio(Enum):
    ORIGINAL = "original"
    WIDE = "16x9"
    STANDARD = "4x3"
    SQUARE = "1x1"


@strawberry.enum(
    description="How an image was made: IPTC's Digital Source Type vocabulary "
    "(http://cv.iptc.org/newscodes/digitalsourcetype/)."
)
class DigitalSourceType(Enum):
    DIGITAL_CAPTURE = "digitalCapture"
    NEGATIVE_FILM = "negativeFilm"
    POSITIVE_FILM = "positiveFilm"
    PRINT = "print"
    MINOR_HUMAN_EDITS = "minorHumanEdits"
    HUMAN_EDITS = "humanEdits"
    COMPOSITE_CAPTURE = "compositeCapture"
    ALGORITHMICALLY_ENHANCED = "algorithmicallyEnhanced"
    DATA_DRIVEN_MEDIA = "dataDrivenMedia"
    DIGITAL_ART = "digitalArt"
    VIRTUAL_RECORDING = "virtualRecording"
    COMPOSITE_SYNTHETIC = "compositeSynthetic"
    TRAINED_ALGORITHMIC_MEDIA = "trainedAlgorithmicMedia"
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = "compositeWithTrainedAlgorithmicMedia"
    ALGORITHMIC_MEDIA = "algorithmicMedia"
    SCREEN_CAPTURE = "screenCapture"


@strawberry.type(
    description="The point of an image that crops keep in view, from 0 to 1 across and down."
)
class FocalPoint:
    x: float
    y: float


@strawberry.type(description="Who holds an image's rights and on what terms it may be used.")
class ImageRights:
    copyright_holder: str | None = strawberry.field(description="Who claims the copyright.")
    license: str | None = strawberry.field(description="The terms of use, in words.")
    license_url: str | None = strawberry.field(description="Where the licence is stated.")


@strawberry.type(description="An image with its accessibility text and attribution.")
class Image:
    original: strawberry.Private[str]
    alt: str | None = strawberry.field(description="Alternative text for screen readers.")
    caption: str | None = strawberry.field(description="Caption shown under the image.")
    credit: str | None = strawberry.field(description="Photographer or agency credit.")

    @strawberry.field(
        description="Absolute URL of the original; with `width` (one of the service's "
        "rendition widths), `format` or `ratio`, of that rendition instead, made by the "
        "service (never wider than the original)."
    )
    async def url(
        self,
        info: strawberry.Info[Any, None],
        width: int | None = None,
        format: ImageFormat | None = None,
        ratio: ImageRatio = ImageRatio.ORIGINAL,
    ) -> str:
        if width is None and format is None and ratio is ImageRatio.ORIGINAL:
            return self.original
        widths = info.context.image_widths
        if width is not None and width not in widths:
            allowed = ", ".join(map(str, widths))
            raise BadUserInput(f"width must be one of {allowed}", field="width")
        if width is None:  # the largest the original fills
            width = max(w for w, _ in rules.offered(widths, (await self._record(info)).width))
        encoding = (format or ImageFormat.WEBP).value
        path = rules.rendition_path(self.original, ratio.value, width, encoding)
        return info.context.image_base + path

    @strawberry.field(
        description="An HTML srcset of the renditions of `format` and `ratio`, each with the "
        "width it delivers."
    )
    async def srcset(
        self,
        info: strawberry.Info[Any, None],
        format: ImageFormat = ImageFormat.WEBP,
        ratio: ImageRatio = ImageRatio.ORIGINAL,
    ) -> str:
        record = await self._record(info)
        sizes = rules.offered(info.context.image_widths, record.width)
        base = info.context.image_base
        return rules.srcset(base, self.original, ratio.value, format.value, sizes)

    @strawberry.field(description="Pixel width of the original; null until it has been fetched.")
    async def width(self, info: strawberry.Info[Any, None]) -> int | None:
        return (await self._record(info)).width

    @strawberry.field(description="Pixel height of the original; null until it has been fetched.")
    async def height(self, info: strawberry.Info[Any, None]) -> int | None:
        return (await self._record(info)).height

    @strawberry.field(description="What crops keep in view (the centre unless an editor set it).")
    async def focal_point(self, info: strawberry.Info[Any, None]) -> FocalPoint:
        record = await self._record(info)
        return FocalPoint(x=record.focal_x, y=record.focal_y)

    @strawberry.field(description="Copyright holder and licence.")
    async def rights(self, info: strawberry.Info[Any, None]) -> ImageRights:
        r = await self._record(info)
        return ImageRights(
            copyright_holder=r.copyright_holder, license=r.license, license_url=r.license_url
        )

    @strawberry.field(description="How the image was made; null when not recorded.")
    async def digital_source_type(
        self, info: strawberry.Info[Any, None]
    ) -> DigitalSourceType | None:
        found = (await self._record(info)).digital_source_type
        return DigitalSourceType(found) if found else None

    async def _record(self, info: strawberry.Info[Any, None]) -> ImageRecord:
        found = await info.context.loaders.image_by_url.load(self.original)
        assert found is not None, "every image URL is registered (migration 0015's trigger)"
        return found


@strawberry.type(description="What a share button needs: link, title and a short text.")
class Share:
    url: str = strawberry.field(description="Canonical public URL of the page.")
    title: str = strawberry.field(description="Title for the shared link.")
    text: str = strawberry.field(description="A short description, at most 200 characters.")


def image(
    url: str | None, alt: str | None, caption: str | None, credit: str | None
) -> Image | None:
    return Image(original=url, alt=alt, caption=caption, credit=credit) if url else None


def share(url: str, title: str, text: str) -> Share:
    """text: the page's stored share text (content.figures.share_text)."""
    return Share(url=url, title=title, text=text)


def _stored(at: str, *, url: str, column: str) -> str:
    return db_images.stored(f"{at}.{url}", column)


def image_of(prefix: str) -> Embedded:
    """The compiled form of an Image kept in the columns url, alt, caption and credit after
    `prefix` (null without a url), with its width, height and digital source type looked up
    in images by that url."""
    url = prefix + "url"
    parts: dict[str, Any] = {part: Column(prefix + part) for part in ("alt", "caption", "credit")}
    for size in ("width", "height"):
        parts[size] = Expression(partial(_stored, url=url, column=size))
    names = {kind.value: kind.name for kind in DigitalSourceType}
    parts["digital_source_type"] = Expression(
        lambda at: db_images.named(f"{at}.{url}", "digital_source_type", names)
    )
    return Embedded({"url": Plain(Column(url)), **parts}, present=url)


def share_of(path: str) -> Embedded:
    """The compiled form of a page's Share (its stored share text)."""
    return Embedded({"url": PageUrl(path), "title": Column("title"), "text": Column("share_text")})


async def lead_image(info: strawberry.Info[Any, None], url: str | None) -> dict[str, Any]:
    """Page fields (content.web_metadata.Page) of a page's image: its renditions for search
    engines and previews, and the first one's size once the original's is known."""
    if url is None:
        return {}
    widths = info.context.image_widths
    found = await info.context.loaders.image_by_url.load(url)
    size = None
    if found is not None and found.width and found.height:
        focal = (found.focal_x, found.focal_y)
        made = rules.cut(found.width, found.height, "16x9", rules.lead_width(widths), focal)
        size = (made.width, made.height)
    return {"images": rules.lead_images(info.context.image_base, url, widths), "image_size": size}
