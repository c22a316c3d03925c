from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from db import json_sql
from db.json_sql import Slots
from db.pool import Pool
from db.records import build, columns, in_key_order


@dataclass(frozen=True)
class Outlet:
    id: int
    slug: str
    name: str
    domain: str
    country: str | None
    bias: str | None
    factuality: str | None
    owner: str | None
    rating_basis: str | None
    rated_on: date | None


def outlet_rows(where: str) -> str:
    """SQL for the record columns of the outlets that meet `where` (on `o`)."""
    return f"SELECT {columns(Outlet, 'o')} FROM outlets o WHERE {where}"


def outlet_rows_by(column: str, value: str) -> str:
    """SQL for the outlets whose `column` is the SQL `value`."""
    return outlet_rows(f"o.{column} = {value}")


_BY_IDS = outlet_rows("o.id = ANY($1::bigint[])")


async def outlets_by_ids(pool: Pool, ids: Sequence[int]) -> list[Outlet | None]:
    rows = await pool.fetch(_BY_IDS, list(ids))
    return in_key_order(ids, (build(Outlet, row) for row in rows), lambda o: o.id)


_BY_SLUG = outlet_rows("o.slug = $1")


async def outlet_by_slug(pool: Pool, slug: str) -> Outlet | None:
    row = await pool.fetchrow(_BY_SLUG, slug)
    return build(Outlet, row) if row else None


def outlet_window(slots: Slots, *, limit: int, after_slug: str | None) -> str:
    """SQL for up to `limit` outlets in slug order, after the outlet with slug `after_slug`."""
    after = "TRUE" if after_slug is None else f"o.slug > {slots.add(after_slug, 'text')}"
    return f"""SELECT {columns(Outlet, "o")}, row_number() OVER (ORDER BY o.slug) AS _n
        FROM outlets o WHERE {after} ORDER BY o.slug LIMIT {slots.add(limit, "int")}"""


def outlet_cursor(alias: str) -> str:
    """SQL text of the cursor of the outlet row `alias` (schema.query's outlet cursors)."""
    return json_sql.cursor("outlet", json_sql.string(f"{alias}.slug"))


OUTLET_COUNT = "(SELECT count(*) FROM outlets)"


async def outlet_page(pool: Pool, first: int, after_slug: str | None) -> list[Outlet]:
    """Up to first + 1 outlets in slug order, after the outlet with slug `after_slug`."""
    slots = Slots()
    rows = await pool.fetch(
        outlet_window(slots, limit=first + 1, after_slug=after_slug), *slots.values
    )
    return [build(Outlet, row) for row in rows]


async def outlet_count(pool: Pool) -> int:
    count: int = await pool.fetchval(f"SELECT {OUTLET_COUNT}")
    return count
