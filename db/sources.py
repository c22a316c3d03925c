from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db import json_sql
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


def source_rows(where: str, scope: Scope) -> str:
    """SQL for the record columns of the sources visible in `scope` that meet `where` (on
    `s`)."""
    visible = visible_source("s", scope)
    return f"SELECT {columns(Source, 's')} FROM sources s WHERE {where} AND {visible}"


def source_rows_by(column: str, value: str, scope: Scope) -> str:
    """SQL for the visible sources whose `column` is the SQL `value`."""
    return source_rows(f"s.{column} = {value}", scope)


def story_source_window(story: str, after: str, limit: str) -> str:
    """SQL for up to `limit` sources of the story whose id is the SQL `story`, after position
    `after`, in editorial order (`position`)."""
    return f"""SELECT ss.position, {columns(Source, "s")},
            row_number() OVER (ORDER BY ss.position) AS _n
        FROM story_sources ss JOIN sources s ON s.id = ss.source_id
        WHERE ss.story_id = {story} AND ss.position > {after}
        ORDER BY ss.position LIMIT {limit}"""


def source_cursor(alias: str) -> str:
    """SQL text of the cursor of a story's source row `alias` (its position)."""
    return json_sql.cursor("source", json_sql.number(f"{alias}.position"))


_BY_IDS = per_scope(lambda scope: source_rows("s.id = ANY($1::bigint[])", scope))
_STORY_WINDOW = f"""
SELECT k.story_id AS owner, p.*
FROM unnest($1::bigint[]) AS k(story_id)
CROSS JOIN LATERAL ({story_source_window("k.story_id", "$2", "$3")}) AS p
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
