"""Editing an image's own metadata (EDITOR and ADMIN): focal point, rights and how it was
made. Alt text, captions and credits belong to where an image is used (a story's heroImage,
a source's image) and are edited there."""

from __future__ import annotations

from typing import Any

import strawberry

from content.access import Permission
from db import images as db_images
from schema.access import require
from schema.common import DigitalSourceType, Image
from schema.context import Info
from schema.errors import BadUserInput


@strawberry.input(description="A point of an image, from 0 to 1 across (x) and down (y).")
class FocalPointInput:
    x: float
    y: float


@strawberry.input(description="Changes to an image; fields left out stay as they are.")
class UpdateImageInput:
    focal_point: FocalPointInput | None = strawberry.UNSET
    copyright_holder: str | None = strawberry.UNSET
    license: str | None = strawberry.UNSET
    license_url: str | None = strawberry.UNSET
    digital_source_type: DigitalSourceType | None = strawberry.UNSET


@strawberry.type
class ImageMutation:
    @strawberry.mutation(
        description="Change an image's focal point, rights or digital source type, by the URL "
        "stories and sources name it by (EDITOR and ADMIN); null when no image has that URL. "
        "Its renditions are cut again and the pages showing it purged."
    )
    async def update_image(self, info: Info, url: str, input: UpdateImageInput) -> Image | None:
        require(info, Permission.EDIT)
        changes: dict[str, Any] = {}
        point = input.focal_point
        if point is not strawberry.UNSET:
            if point is None or not (0 <= point.x <= 1 and 0 <= point.y <= 1):
                raise BadUserInput("focalPoint needs x and y from 0 to 1", field="input.focalPoint")
            changes |= {"focal_x": point.x, "focal_y": point.y}
        for name in ("copyright_holder", "license", "license_url"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                if value is not None and len(value) > 2_000:
                    raise BadUserInput(f"{name} is at most 2,000 characters", field=name)
                changes[name] = value or None
        if input.digital_source_type is not strawberry.UNSET:
            kind = input.digital_source_type
            changes["digital_source_type"] = kind.value if kind else None
        if not changes:
            raise BadUserInput("input names nothing to change", field="input")
        [found] = await db_images.by_urls(info.context.pool, [url])
        if found is None:
            return None
        await db_images.update(info.context.pool, found.id, changes)
        info.context.loaders.forget()
        return Image(original=url, alt=None, caption=None, credit=None)
