"""What renditions of an image exist, and how each is cut (no I/O: api.images makes them).

A rendition is named by its aspect ratio, width and format, each from an allow-list, so the
service never resizes to a size a caller made up (ten widths, four ratios and three formats
are all there will ever be of one original). Crops keep the focal point in view; nothing is
enlarged past the original."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

RATIOS: dict[str, tuple[int, int] | None] = {
    "original": None,
    "16x9": (16, 9),
    "4x3": (4, 3),
    "1x1": (1, 1),
}
FORMATS = {"webp": "image/webp", "avif": "image/avif", "jpg": "image/jpeg"}
DEFAULT_WIDTHS = (320, 640, 960, 1280, 1920)
SOURCE_TYPES_URI = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPES = (
    "digitalCapture", "negativeFilm", "positiveFilm", "print", "minorHumanEdits", "humanEdits",
    "compositeCapture", "algorithmicallyEnhanced", "dataDrivenMedia", "digitalArt",
    "virtualRecording", "compositeSynthetic", "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "screenCapture",
)  # fmt: skip
"""IPTC's Digital Source Type vocabulary (migration 0015 allows the same)."""


@dataclass(frozen=True)
class Cut:
    """A rendition's crop of the original (left, top, right, bottom) and its output size."""

    box: tuple[int, int, int, int]
    width: int
    height: int


def crop_box(
    width: int, height: int, ratio: str, focal: tuple[float, float]
) -> tuple[int, int, int, int]:
    """The largest box of `ratio` inside a width by height image, centred on the focal point
    (x and y from 0 to 1) as far as the edges allow."""
    wanted = RATIOS[ratio]
    if wanted is None:
        return 0, 0, width, height
    across, down = wanted
    box_w, box_h = width, width * down // across
    if box_h > height:
        box_w, box_h = height * across // down, height
    left = _centred(focal[0] * width, box_w, width)
    top = _centred(focal[1] * height, box_h, height)
    return left, top, left + box_w, top + box_h


def _centred(at: float, size: int, limit: int) -> int:
    return int(min(max(round(at - size / 2), 0), limit - size))


def cut(width: int, height: int, ratio: str, wanted: int, focal: tuple[float, float]) -> Cut:
    """How to make the rendition `wanted` pixels wide (or the crop's own width, if smaller:
    never enlarged)."""
    box = crop_box(width, height, ratio, focal)
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    out_w = min(wanted, box_w)
    return Cut(box, out_w, max(1, round(out_w * box_h / box_w)))


def url_key(original_url: str) -> str:
    """What rendition addresses name an image by: the start of its URL's SHA-256 (migration
    0015 stores the same as images.url_key)."""
    return hashlib.sha256(original_url.encode()).hexdigest()[:32]


def rendition_path(original_url: str, ratio: str, width: int, format: str) -> str:
    """Where the rendition is served, under the service's address."""
    return f"/images/{url_key(original_url)}/{ratio}/{width}.{format}"


def offered(widths: tuple[int, ...], original_width: int | None) -> list[tuple[int, int]]:
    """(width asked for, width delivered) of the renditions worth offering: each allowed
    width the original can fill, and the next one up, which comes out at the original's own
    width. All of them while the original's size is not known yet."""
    if original_width is None:
        return [(w, w) for w in widths]
    found = [(w, w) for w in widths if w <= original_width]
    larger = [w for w in widths if w > original_width]
    if larger and original_width not in widths:
        found.append((larger[0], original_width))
    return found


def srcset(
    base: str, original_url: str, ratio: str, format: str, sizes: list[tuple[int, int]]
) -> str:
    """An HTML srcset of the renditions `offered` gives (each with the width it delivers)."""
    return ", ".join(
        f"{base}{rendition_path(original_url, ratio, asked, format)} {delivered}w"
        for asked, delivered in sizes
    )


LEAD_RATIOS = ("16x9", "4x3", "1x1")
"""The shapes search engines ask a page's image in (Google's article guidelines)."""


def lead_width(widths: tuple[int, ...]) -> int:
    """The width lead images are offered at: the first allowed one of at least 1200 pixels
    (what Google asks of article images), else the largest allowed."""
    return next((w for w in widths if w >= 1200), max(widths))


def lead_images(base: str, original_url: str, widths: tuple[int, ...]) -> tuple[str, ...]:
    """A page image's JPEG renditions in each of LEAD_RATIOS, widest shape first."""
    width = lead_width(widths)
    return tuple(base + rendition_path(original_url, r, width, "jpg") for r in LEAD_RATIOS)
