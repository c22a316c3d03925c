from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

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


_BY_IDS = f"SELECT {columns(Outlet, 'o')} FROM outlets o WHERE o.id = ANY($1::bigint[])"


async def outlets_by_ids(pool: Pool, ids: Sequence[int]) -> list[Outlet | None]:
    rows = await pool.fetch(_BY_IDS, list(ids))
    return in_key_order(ids, (build(Outlet, row) for row in rows), lambda o: o.id)


_BY_SLUG = f"SELECT {columns(Outlet, 'o')} FROM outlets o WHERE o.slug = $1"


async def outlet_by_slug(pool: Pool, slug: str) -> Outlet | None:
    row = await pool.fetchrow(_BY_SLUG, slug)
    return build(Outlet, row) if row else None


_PAGE = f"""
SELECT {columns(Outlet, "o")} FROM outlets o
WHERE $1::text IS NULL OR o.slug > $1 ORDER BY o.slug LIMIT $2
"""


async def outlet_page(pool: Pool, first: int, after_slug: str | None) -> list[Outlet]:
    """Up to first + 1 outlets in slug order, after the outlet with slug `after_slug`."""
    rows = await pool.fetch(_PAGE, after_slug, first + 1)
    return [build(Outlet, row) for row in rows]


async def outlet_count(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outlets")
    return count
