"""Images (migration 0015): looked up by id or by the URL of their original, their stored
original recorded once fetched or uploaded, and their editorial metadata changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content.changes import item_key
from db import purge
from db.pool import Connection, Pool
from db.records import build, columns, in_key_order
from db.visibility import visible, visible_deep_dive, visible_source


@dataclass(frozen=True)
class ImageRecord:
    id: int
    original_url: str
    uploaded: bool
    sha256: str | None
    """Of the stored original; None until it has been fetched."""
    content_type: str | None
    width: int | None
    height: int | None
    bytes: int | None
    focal_x: float
    focal_y: float
    copyright_holder: str | None
    license: str | None
    license_url: str | None
    digital_source_type: str | None
    fetch_error: str | None
    updated_at: datetime


_COLUMNS = columns(ImageRecord, "i")


def purge_key(image_id: int) -> str:
    return f"image-{image_id}"


async def by_key(pool: Pool, url_key: str) -> ImageRecord | None:
    """The image a rendition address names (content.images.url_key)."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM images i WHERE i.url_key = $1", url_key)
    return build(ImageRecord, row) if row else None


async def by_urls(pool: Pool, urls: Sequence[str]) -> list[ImageRecord | None]:
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM images i WHERE i.original_url = ANY($1::text[])", list(urls)
    )
    found = [build(ImageRecord, row) for row in rows]
    return in_key_order(urls, found, lambda image: image.original_url)


async def record_original(
    pool: Pool, image_id: int, *, sha256: str, content_type: str, width: int, height: int, size: int
) -> ImageRecord:
    """The original is stored: its digest, type, pixel size and bytes."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE images i SET sha256 = $2, content_type = $3, width = $4, height = $5,
                       bytes = $6, fetch_error = NULL, fetched_at = now(), updated_at = now()
                WHERE i.id = $1 RETURNING {_COLUMNS}""",
            image_id,
            sha256,
            content_type,
            width,
            height,
            size,
        )
        await purge.announce(conn, [purge_key(image_id)])
    return build(ImageRecord, row)


async def record_failure(pool: Pool, image_id: int, error: str) -> None:
    await pool.execute(
        "UPDATE images SET fetch_error = $2, fetched_at = now() WHERE id = $1", image_id, error
    )


async def uploaded(
    pool: Pool, url: str, *, sha256: str, content_type: str, width: int, height: int, size: int
) -> ImageRecord:
    """An editor's upload (or a demo photograph), known by `url`: the same bytes uploaded
    again are one image, and an image already named by a story takes the bytes."""
    row = await pool.fetchrow(
        f"""INSERT INTO images AS i (original_url, uploaded, sha256, content_type, width, height,
                                    bytes, fetched_at)
            VALUES ($1, true, $2, $3, $4, $5, $6, now())
            ON CONFLICT (original_url) DO UPDATE SET uploaded = true, sha256 = EXCLUDED.sha256,
                content_type = EXCLUDED.content_type, width = EXCLUDED.width,
                height = EXCLUDED.height, bytes = EXCLUDED.bytes, fetch_error = NULL,
                fetched_at = now()
            RETURNING {_COLUMNS}""",
        url,
        sha256,
        content_type,
        width,
        height,
        size,
    )
    return build(ImageRecord, row)


# The pages an image appears on: stories that lead with it, and deep dives that lead with it
# or whose story does.
_SHOWN_ON = """
SELECT 'story' AS kind, s.id FROM stories s WHERE s.hero_image_url = $1
UNION ALL
SELECT 'deep_dive', d.id FROM deep_dives d JOIN stories s ON s.id = d.story_id
WHERE s.hero_image_url = $1 OR d.hero_image_url = $1
"""

EDITABLE = (
    "focal_x",
    "focal_y",
    "copyright_holder",
    "license",
    "license_url",
    "digital_source_type",
)


async def update(pool: Pool, image_id: int, changes: dict[str, Any]) -> ImageRecord | None:
    """Change the editorial metadata named in `changes` (EDITABLE); None without such image.
    Pages that show the image are purged with it (their answers carry its figures)."""
    assert changes and set(changes) <= set(EDITABLE), changes
    settings = ", ".join(f"{name} = ${n}" for n, name in enumerate(changes, 2))
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE images i SET {settings}, updated_at = now() WHERE i.id = $1 "
            f"RETURNING {_COLUMNS}",
            image_id,
            *changes.values(),
        )
        if row is None:
            return None
        shown = await conn.fetch(_SHOWN_ON, row["original_url"])
        keys = [purge_key(image_id), *(item_key(r["kind"], r["id"]) for r in shown)]
        await purge.announce(conn, keys)
    return build(ImageRecord, row)


async def shown_publicly(pool: Pool, url: str) -> list[str]:
    """The purge keys of the published pages that show the image (stories and deep dives that
    lead with it, sources that show it); none: a reader may not see it yet (a draft's image
    stays unseen until it is published)."""
    rows = await pool.fetch(
        f"""SELECT 'story' AS kind, s.id FROM stories s
            WHERE s.hero_image_url = $1 AND {visible("s")}
            UNION ALL
            SELECT 'deep_dive', d.id FROM deep_dives d JOIN stories s ON s.id = d.story_id
            WHERE (d.hero_image_url = $1 OR s.hero_image_url = $1) AND {visible_deep_dive("d")}
            UNION ALL
            SELECT 'source', so.id FROM sources so
            WHERE so.image_url = $1 AND {visible_source("so")}
            LIMIT 200""",
        url,
    )
    return [item_key(row["kind"], row["id"]) for row in rows]


async def upload_by_digest(pool: Pool, sha256: str) -> ImageRecord | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM images i WHERE i.uploaded AND i.sha256 = $1 LIMIT 1", sha256
    )
    return build(ImageRecord, row) if row else None


def stored(url_sql: str, column: str) -> str:
    """SQL for a column of the image whose original's URL is `url_sql` (one unique-index
    lookup; null without such image): compiled queries read width and height this way."""
    assert column in ("width", "height", "digital_source_type"), column
    return f"(SELECT i.{column} FROM images i WHERE i.original_url = {url_sql})"


def named(url_sql: str, column: str, names: dict[str, str]) -> str:
    """`stored`, each value replaced by its name in `names` (a GraphQL enum's)."""
    cases = " ".join(f"WHEN '{value}' THEN '{name}'" for value, name in names.items())
    return f"(CASE {stored(url_sql, column)} {cases} END)"


_FACTS = (
    "original_url, focal_x, focal_y, copyright_holder, license, license_url, digital_source_type"
)


def _document(row: Any) -> dict[str, Any]:
    """An image's NDJSON document (content.documents' `image` shape) from its row."""
    focal = {"x": row["focal_x"], "y": row["focal_y"]}
    return {
        "url": row["original_url"],
        "focal_point": None if focal == {"x": 0.5, "y": 0.5} else focal,
        "copyright_holder": row["copyright_holder"],
        "license": row["license"],
        "license_url": row["license_url"],
        "digital_source_type": row["digital_source_type"],
    }


async def save_document(conn: Connection, document: dict[str, Any]) -> tuple[str, int]:
    """Write an image's metadata from its NDJSON document: ("created" | "updated" |
    "unchanged", id). The image is registered if no story names it yet."""
    row = await conn.fetchrow(
        f"SELECT id, {_FACTS} FROM images WHERE original_url = $1", document["url"]
    )
    if row is not None and _document(row) == document:
        return "unchanged", row["id"]
    focal = document["focal_point"] or {"x": 0.5, "y": 0.5}
    saved = await conn.fetchrow(
        """INSERT INTO images AS i (original_url, focal_x, focal_y, copyright_holder, license,
                                    license_url, digital_source_type)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (original_url) DO UPDATE SET focal_x = $2, focal_y = $3,
               copyright_holder = $4, license = $5, license_url = $6,
               digital_source_type = $7, updated_at = now()
           RETURNING id""",
        document["url"],
        focal["x"],
        focal["y"],
        document["copyright_holder"],
        document["license"],
        document["license_url"],
        document["digital_source_type"],
    )
    shown = await conn.fetch(_SHOWN_ON, document["url"])
    keys = [purge_key(saved["id"]), *(item_key(r["kind"], r["id"]) for r in shown)]
    await purge.announce(conn, keys)
    return ("created" if row is None else "updated"), saved["id"]


async def export_documents(pool: Pool) -> list[dict[str, Any]]:
    """The NDJSON documents of the images whose metadata says more than their URL, by URL."""
    rows = await pool.fetch(
        f"""SELECT {_FACTS} FROM images
            WHERE (focal_x, focal_y) <> (0.5, 0.5) OR copyright_holder IS NOT NULL
               OR license IS NOT NULL OR license_url IS NOT NULL
               OR digital_source_type IS NOT NULL
            ORDER BY original_url"""
    )
    return [_document(row) for row in rows]
