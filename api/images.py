"""Images over HTTP: renditions made on first request and kept, originals fetched once
(through api.outbound, so a private address is never fetched) or uploaded by editors.

- GET /images/{key}/{ratio}/{width}.{format}: a rendition (key: content.images.url_key of
  the original's URL). ratio is original, 16x9, 4x3 or
  1x1 (cropped around the image's focal point), width one of NEWSGRAPH_IMAGE_WIDTHS (never
  enlarged past the original), format webp, avif or jpg. Anything else is a 400 naming what
  is allowed: nobody can make the service resize to sizes of their choosing.
- GET /images/{key}/original: the stored original.
- POST /v1/images: an editor's upload (the body is the image); answers its id and addresses.

Readers see an image only once a published story leads with it or a source shows it; editors
see every image. Pillow does the decoding and encoding, in a worker thread, at most two at a
time a process."""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError, features
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.addresses import public_base
from api.errors import json_error
from api.http_cache import cacheable
from api.outbound import Refused, pinned
from api.settings import Settings
from content import images as rules
from content.access import Permission
from db import images as db_images

DAY = 24 * 3600
"""How long caches may keep a rendition: its address stays when an editor moves the focal point."""
_DECODED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
_DECODED["AVIF"] = "image/avif"
_ENCODERS = {"webp": "WEBP", "avif": "AVIF", "jpg": "JPEG"}
_ORIENTATION = 0x0112
"""EXIF's orientation tag: 5 to 8 show the image turned a quarter."""


class Store(Protocol):
    """Where originals and renditions are kept: a bucket's shape (keys to bytes), so a
    deployment can put them in object storage instead of on disk."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...

    def usage(self) -> tuple[int, int]:
        """(objects, bytes) held."""
        ...


class DiskStore:
    """A folder: each key a file under it, written whole (a temporary file renamed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        assert ".." not in key and not key.startswith("/"), key
        return self.root / key

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        partial.replace(path)

    def usage(self) -> tuple[int, int]:
        files = [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []
        return len(files), sum(p.stat().st_size for p in files)


class Unusable(Exception):
    """The original cannot be had or used: the code and the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class Images:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings, self.limits = settings, settings.images
        self.store = store or DiskStore(self.limits.directory or settings.data_dir / "images")
        self.working = asyncio.Semaphore(2)
        Image.MAX_IMAGE_PIXELS = self.limits.max_pixels
        self.formats = [f for f in rules.FORMATS if f != "avif" or features.check("avif")]
        self.client = httpx.AsyncClient(
            timeout=self.limits.fetch_timeout_seconds, follow_redirects=False
        )
        self.made = {"renditions": 0, "originals_fetched": 0}

    def routes(self) -> list[Route]:
        return [
            Route("/images/{key}/original", self._guarded(self.original), methods=["GET"]),
            Route("/images/uploads/{sha256}", self._guarded(self.original), methods=["GET"]),
            Route(
                "/images/{key}/{ratio}/{width:int}.{format}",
                self._guarded(self.rendition),
                methods=["GET"],
            ),
            Route("/v1/images", self._guarded(self.upload), methods=["POST"]),
        ]

    def _guarded(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            try:
                return await handler(request)
            except Unusable as unusable:
                return json_error(unusable.status, str(unusable), unusable.code)

        return serve

    async def rendition(self, request: Request) -> Response:
        params = request.path_params
        ratio, width, format = params["ratio"], params["width"], params["format"]
        if ratio not in rules.RATIOS:
            raise Unusable(400, "BAD_USER_INPUT", f"ratio must be one of {', '.join(rules.RATIOS)}")
        if width not in self.limits.widths:
            widths = ", ".join(map(str, self.limits.widths))
            raise Unusable(400, "BAD_USER_INPUT", f"width must be one of {widths}")
        if format not in self.formats:
            raise Unusable(
                400, "BAD_USER_INPUT", f"format must be one of {', '.join(self.formats)}"
            )
        image = await self._visible(request)
        made = self.store.get(_rendition_key(image, ratio, width, format)) if image.sha256 else None
        if made is None:  # made once: the original is read (or fetched) only then
            image, original = await self._original(request, image)
            assert image.width is not None and image.height is not None
            focal = (image.focal_x, image.focal_y)
            cut = rules.cut(image.width, image.height, ratio, width, focal)
            async with self.working:
                made = await asyncio.to_thread(_render, original, cut, _ENCODERS[format])
            self.store.put(_rendition_key(image, ratio, width, format), made)
            self.made["renditions"] += 1
        return self._respond(request, made, rules.FORMATS[format], image.id)

    async def original(self, request: Request) -> Response:
        image, data = await self._original(request, await self._visible(request))
        return self._respond(
            request, data, image.content_type or "application/octet-stream", image.id
        )

    def _respond(self, request: Request, body: bytes, media_type: str, image_id: int) -> Response:
        response = cacheable(
            request,
            body,
            media_type,
            viewer=request.state.viewer,
            max_age=DAY if request.state.viewer.key_id is None else 3600,
            surrogate_keys=[db_images.purge_key(image_id), *request.state.image_pages],
        )
        response.headers["Cache-Control"] += ", stale-while-revalidate=86400"
        return response

    async def _visible(self, request: Request) -> db_images.ImageRecord:
        pool, params = request.state.pool, request.path_params
        if "sha256" in params:  # an upload, by the address it was given
            image = await db_images.upload_by_digest(pool, params["sha256"])
        else:
            image = await db_images.by_key(pool, params["key"])
        if image is None:
            raise Unusable(404, "NOT_FOUND", "There is no published image at this address.")
        # The pages showing it are the answer's keys too: taking one down purges its images.
        request.state.image_pages = await db_images.shown_publicly(pool, image.original_url)
        if not (request.state.image_pages or request.state.viewer.can(Permission.PREVIEW)):
            raise Unusable(404, "NOT_FOUND", "There is no published image at this address.")
        return image

    async def _original(
        self, request: Request, image: db_images.ImageRecord
    ) -> tuple[db_images.ImageRecord, bytes]:
        """The image's original, fetched and recorded the first time it is needed."""
        if image.sha256:
            stored = self.store.get(f"originals/{image.sha256}")
            if stored is not None:
                return image, stored
        if image.uploaded:
            raise Unusable(410, "GONE", "The uploaded original is no longer stored.")
        try:
            data = await self._fetch(image.original_url)
            kind, width, height = await asyncio.to_thread(self._inspect, data)
        except Unusable as unusable:
            await db_images.record_failure(request.state.primary, image.id, str(unusable))
            raise
        sha256 = hashlib.sha256(data).hexdigest()
        self.store.put(f"originals/{sha256}", data)
        self.made["originals_fetched"] += 1
        recorded = await db_images.record_original(
            request.state.primary,
            image.id,
            sha256=sha256,
            content_type=kind,
            width=width,
            height=height,
            size=len(data),
        )
        return recorded, data

    async def _fetch(self, url: str) -> bytes:
        """The original's bytes: only from a public address, at most max_bytes, in time."""
        if not url.startswith(("https://", "http://")):
            raise Unusable(502, "ORIGINAL_UNAVAILABLE", "The original's address is not http(s).")
        try:
            target, host, sni = await pinned(url, allow_private=self.limits.allow_private)
            async with self.client.stream(
                "GET", target, headers={"Host": host}, extensions=sni
            ) as got:
                if got.status_code != 200:
                    raise Unusable(
                        502,
                        "ORIGINAL_UNAVAILABLE",
                        f"The original answered HTTP {got.status_code}.",
                    )
                data = bytearray()
                async for chunk in got.aiter_bytes():
                    data += chunk
                    if len(data) > self.limits.max_bytes:
                        raise Unusable(
                            502,
                            "ORIGINAL_TOO_LARGE",
                            f"The original is over {self.limits.max_bytes} bytes.",
                        )
        except Refused as refused:
            raise Unusable(
                502, "ORIGINAL_UNAVAILABLE", f"The original was not fetched: {refused}."
            ) from None
        except httpx.HTTPError as failure:
            raise Unusable(
                502,
                "ORIGINAL_UNAVAILABLE",
                f"The original could not be fetched ({type(failure).__name__}).",
            ) from None
        return bytes(data)

    def _inspect(self, data: bytes) -> tuple[str, int, int]:
        """(media type, width, height as shown) of image bytes; Unusable if they are no image
        we read or have more pixels than allowed. Only the header is decoded."""
        too_large = Unusable(
            413, "IMAGE_TOO_LARGE", f"The image has over {self.limits.max_pixels} pixels."
        )
        try:
            with warnings.catch_warnings():
                # Pillow warns past MAX_IMAGE_PIXELS: the size is refused below instead.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                opened = Image.open(io.BytesIO(data))
            with opened:
                kind = _DECODED.get(opened.format or "")
                width, height = opened.size
                if kind is None:
                    raise Unusable(
                        415, "UNSUPPORTED_IMAGE", "Images must be JPEG, PNG, WebP, AVIF or GIF."
                    )
                if width * height > self.limits.max_pixels:
                    raise too_large
                opened.verify()  # (before anything else reads the file)
            with Image.open(io.BytesIO(data)) as again:
                turned = again.getexif().get(_ORIENTATION) in (5, 6, 7, 8)
        except Image.DecompressionBombError:
            raise too_large from None
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise Unusable(
                415, "UNSUPPORTED_IMAGE", "The bytes are not an image we can read."
            ) from None
        return (kind, height, width) if turned else (kind, width, height)

    async def upload(self, request: Request) -> Response:
        viewer = request.state.viewer
        if viewer.key_id is None:
            return json_error(401, "Uploading needs an EDITOR or ADMIN key.", "UNAUTHENTICATED")
        if not viewer.can(Permission.PREVIEW):
            return json_error(403, "Uploading needs an EDITOR or ADMIN key.", "FORBIDDEN")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self.limits.max_bytes:
                raise Unusable(
                    413, "PAYLOAD_TOO_LARGE", f"Images are at most {self.limits.max_bytes} bytes."
                )
        if not data:
            raise Unusable(400, "BAD_REQUEST", "The request body must be the image.")
        kind, width, height = await asyncio.to_thread(self._inspect, bytes(data))
        sha256 = hashlib.sha256(data).hexdigest()
        self.store.put(f"originals/{sha256}", bytes(data))
        base = public_base(request, self.settings.api_url)
        record = await db_images.uploaded(
            request.state.primary,
            f"{base}/images/uploads/{sha256}",
            sha256=sha256,
            content_type=kind,
            width=width,
            height=height,
            size=len(data),
        )
        return JSONResponse(self.described(record, base), status_code=201)

    def described(self, image: db_images.ImageRecord, base: str) -> dict[str, object]:
        """What an upload answers: the id, the URL to name it by, and its renditions."""
        sizes = rules.offered(self.limits.widths, image.width)
        return {
            "id": image.id,
            "url": image.original_url,
            "width": image.width,
            "height": image.height,
            "contentType": image.content_type,
            "original": f"{base}/images/{rules.url_key(image.original_url)}/original",
            "srcset": rules.srcset(base, image.original_url, "original", "webp", sizes),
        }


def _rendition_key(image: db_images.ImageRecord, ratio: str, width: int, format: str) -> str:
    """Where a rendition is kept: by the original's bytes and everything that shapes it."""
    focal = f"{image.focal_x:.4f}-{image.focal_y:.4f}"
    return f"renditions/{image.sha256}/{ratio}-{width}-{focal}.{format}"


def _render(original: bytes, cut: rules.Cut, encoder: str) -> bytes:
    """The rendition's bytes: turned as EXIF says, cropped, resized, encoded."""
    with Image.open(io.BytesIO(original)) as opened:
        full_width = opened.size[0]
        box_width, box_height = cut.box[2] - cut.box[0], cut.box[3] - cut.box[1]
        shrink = min(box_width / cut.width, box_height / cut.height)
        if opened.format == "JPEG" and shrink >= 2:
            # Decode at 1/2, 1/4 or 1/8 scale (JPEG's DCT scaling): still at least the
            # rendition's size, at a fraction of the cost of decoding every pixel.
            size = (math.ceil(opened.size[0] / shrink), math.ceil(opened.size[1] / shrink))
            opened.draft("RGB", size)
        scale = opened.size[0] / full_width  # the same both ways; the box is in full pixels
        picture = ImageOps.exif_transpose(opened)
        left, top, right, bottom = (round(edge * scale) for edge in cut.box)
        picture = picture.crop((left, top, right, bottom)).resize(
            (cut.width, cut.height), Image.Resampling.LANCZOS
        )
        if encoder == "JPEG" or picture.mode not in ("RGB", "RGBA"):
            picture = picture.convert(
                "RGB" if encoder == "JPEG" or "A" not in picture.mode else "RGBA"
            )
        out = io.BytesIO()
        options = {"JPEG": {"quality": 82, "progressive": True, "optimize": True}}
        options["WEBP"] = {"quality": 80, "method": 4}
        options["AVIF"] = {"quality": 60, "speed": 8}
        picture.save(out, format=encoder, **options[encoder])
        return out.getvalue()
