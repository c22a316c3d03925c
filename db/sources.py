from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.paging import PageKey, fetch_pages
from db.pool import Pool
from db.records import build, columns, in_key_order
from db.visibility import Scope, per_scope, visible_source


@dataclass(frozen=True)
class Source:
    id: int
    outlet_id: int
    url: str
    title: str
    author: str | None
    published_at: datetime | None
    language: str
    excerpt: str | None
    image_url: str | None
    image_alt: str | None
    image_caption: str | None
    image_credit: str | None


@dataclass(frozen=True)
class StorySource:
    """A source in its place (1-based, editorial order) in a story's list."""

    position: int
    source: Source


_BY_IDS = per_scope(
    lambda scope: (
        f"SELECT {columns(Source, 's')} FROM sources s "
        f"WHERE s.id = ANY($1::bigint[]) AND {visible_source('s', scope)}"
    )
)

_STORY_WINDOW = f"""
SELECT k.story_id AS owner, p.position, {columns(Source, "p")}
FROM unnest($1::bigint[]) AS k(story_id)
CROSS JOIN LATERAL (
    SELECT ss.position, s.*
    FROM story_sources ss
    JOIN sources s ON s.id = ss.source_id
    WHERE ss.story_id = k.story_id AND ss.position > $2
    ORDER BY ss.position
    LIMIT $3
) AS p
ORDER BY k.story_id, p.position
"""


async def sources_by_ids(
    pool: Pool, ids: Sequence[int], scope: Scope = Scope.PUBLIC
) -> list[Source | None]:
    rows = await pool.fetch(_BY_IDS[scope], list(ids))
    return in_key_order(ids, (build(Source, row) for row in rows), lambda s: s.id)


async def story_source_pages(pool: Pool, keys: Sequence[PageKey[int]]) -> list[list[StorySource]]:
    """Per key, up to first + 1 of the story's sources after position `after`."""

    async def window(owners: list[int], limit: int, after: int | None) -> list:
        rows = await pool.fetch(_STORY_WINDOW, owners, after or 0, limit)
        return [(row["owner"], StorySource(row["position"], build(Source, row))) for row in rows]

    return await fetch_pages(keys, window)
