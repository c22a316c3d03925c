"""Batched keyset pages: one statement per distinct (first, after) window, not per owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from db.records import build, grouped

T = TypeVar("T")
FeedCursor = tuple[datetime, int]
C = TypeVar("C", bound=Hashable)


@dataclass(frozen=True)
class PageKey(Generic[C]):
    """A page of the list owned by owner_id: at most `first` rows after the cursor `after`."""

    owner_id: int
    first: int
    after: C | None = None


FetchWindow = Callable[[list[int], int, "C | None"], Awaitable[list[tuple[int, T]]]]


async def fetch_pages(keys: Sequence[PageKey[C]], fetch_window: FetchWindow[C, T]) -> list[list[T]]:
    """Per key, up to first + 1 rows (the extra one tells whether another page follows).

    fetch_window(owner_ids, limit, after) returns (owner_id, row) pairs in page order.
    """
    windows: dict[tuple[int, C | None], list[PageKey[C]]] = {}
    for key in dict.fromkeys(keys):
        windows.setdefault((key.first, key.after), []).append(key)
    pages: dict[PageKey[C], list[T]] = {}
    for (first, after), group in windows.items():
        owners = [key.owner_id for key in group]
        pairs = await fetch_window(owners, first + 1, after)
        pages.update(zip(group, grouped(owners, pairs), strict=True))
    return [pages[key] for key in keys]


@dataclass(frozen=True)
class Rows:
    """What a newest-first list pages through: the FROM clause `source`, sorted by `time`
    then `key`, both descending (a cursor is a (time, key) pair)."""

    source: str
    time: str
    key: str


def owned_window(columns: str, rows: Rows, condition: str) -> str:
    """A statement for feed_window: per owner id (`k.owner_id` in `condition`), the rows
    that meet `condition`, newest first, after the cursor."""
    return f"""
SELECT k.owner_id AS owner, p.*
FROM unnest($1::bigint[]) AS k(owner_id)
CROSS JOIN LATERAL (
    SELECT {columns} FROM {rows.source}
    WHERE {condition}
      AND ($3::timestamptz IS NULL OR ({rows.time}, {rows.key}) < ($3, $4))
    ORDER BY {rows.time} DESC, {rows.key} DESC
    LIMIT $2
) AS p
"""


def feed_window(
    pool: Any, sql: str, row_type: Callable[..., T]
) -> Callable[[list[int], int, FeedCursor | None], Awaitable[list[tuple[int, T]]]]:
    """A fetch_window for statements taking (owner ids, limit, published_at, id) and
    returning an `owner` column beside row_type's columns, newest first."""

    async def window(owners: list[int], limit: int, after: FeedCursor | None) -> list:
        at, row_id = after if after is not None else (None, None)
        rows = await pool.fetch(sql, owners, limit, at, row_id)
        return [(row["owner"], build(row_type, row)) for row in rows]

    return window


async def counts_by_owner(pool: Any, sql: str, owner_ids: Sequence[int]) -> list[int]:
    """Per owner id, the `n` that sql (taking an id array, returning owner, n) reports, or 0."""
    rows = await pool.fetch(sql, list(owner_ids))
    counts = {row["owner"]: row["n"] for row in rows}
    return [counts.get(owner_id, 0) for owner_id in owner_ids]


def filter_conditions(
    values: Any, condition: Callable[[str, str], str], base: str
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions and parameters of a filter dataclass: `base`, then
    condition(field name, parameter slot) for every field that is set."""
    where, args = [base], []
    for field in fields(values):
        value = getattr(values, field.name)
        if value is not None:
            args.append(value)
            where.append(condition(field.name, f"${len(args)}"))
    return where, args


async def newest_first(
    pool: Any,
    columns: str,
    rows: Rows,
    where: list[str],
    args: list[Any],
    *,
    first: int,
    after: FeedCursor | None,
) -> list[Any]:
    """Up to first + 1 of the rows that meet every condition in `where`, newest first, after
    the cursor."""
    where, args = list(where), list(args)
    if after is not None:
        args += list(after)
        where.append(f"({rows.time}, {rows.key}) < (${len(args) - 1}, ${len(args)})")
    args.append(first + 1)
    sql = f"""SELECT {columns} FROM {rows.source} WHERE {" AND ".join(where)}
        ORDER BY {rows.time} DESC, {rows.key} DESC LIMIT ${len(args)}"""
    found: list[Any] = await pool.fetch(sql, *args)
    return found


async def count_where(pool: Any, rows: Rows, where: list[str], args: list[Any]) -> int:
    """How many of the rows meet every condition in `where` (reads each of them)."""
    sql = f"SELECT count(*) FROM {rows.source} WHERE {' AND '.join(where)}"
    count: int = await pool.fetchval(sql, *args)
    return count
