"""Batched keyset pages: one statement per distinct (first, after) window, not per owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from db import json_sql
from db.json_sql import Slots
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


def window(
    columns: str,
    rows: Rows,
    where: list[str],
    slots: Slots,
    *,
    limit: int,
    after: FeedCursor | None,
) -> str:
    """SQL for up to `limit` of the rows meeting every condition in `where`, newest first,
    after the cursor (its values and the limit go to `slots`)."""
    where = list(where)
    if after is not None:
        at, key = slots.add(after[0], "timestamptz"), slots.add(after[1], "bigint")
        where.append(f"({rows.time}, {rows.key}) < ({at}, {key})")
    order = f"{rows.time} DESC, {rows.key} DESC"
    return bounded(
        f"""SELECT {columns}, row_number() OVER (ORDER BY {order}) AS _n
        FROM {rows.source} WHERE {" AND ".join(where)} ORDER BY {order}""",
        slots.add(limit, "int"),
    )


MAX_ROWS = 101
"""The most rows a page reads: the largest page (`first` is at most 100) and one more."""


def bounded(numbered: str, limit: str) -> str:
    """The first `limit` rows of `numbered` (a statement whose rows carry `_n`, their order).

    The statement itself stops at the constant MAX_ROWS and the parameter only cuts the
    numbered rows: with the limit a parameter, PostgreSQL's plan for any page size would
    assume a tenth of the table and so re-plan at every execution; a constant bound lets
    it keep one plan, prepared once per connection."""
    return f"""SELECT * FROM ({numbered} LIMIT {MAX_ROWS}) AS bounded
        WHERE bounded._n <= {limit} ORDER BY bounded._n"""


def feed_cursor_sql(alias: str) -> str:
    """SQL text of schema.relay.feed_cursor_of(the row `alias`)."""
    time = json_sql.iso_time(f"coalesce({alias}.published_at, {alias}.created_at)")
    return json_sql.cursor("feed", time, json_sql.number(f"{alias}.id"))


def count_sql(rows: Rows, where: list[str]) -> str:
    """SQL for how many of the rows meet every condition in `where` (reads each of them)."""
    return f"(SELECT count(*) FROM {rows.source} WHERE {' AND '.join(where)})"


def owned_window(columns: str, rows: Rows, condition: str, *, after: bool) -> str:
    """A statement for feed_window: per owner id (`k.owner_id` in `condition`) of $1, the
    rows that meet `condition`, newest first, after the cursor ($2, $3) if `after`, up to the
    last parameter's number of them."""
    slots = Slots(start=1)
    cursor = (None, None) if after else None
    inner = window(columns, rows, [condition], slots, limit=0, after=cursor)  # type: ignore[arg-type]
    return f"""
SELECT k.owner_id AS owner, p.*
FROM unnest($1::bigint[]) AS k(owner_id)
CROSS JOIN LATERAL ({inner}) AS p
"""


def feed_window(
    pool: Any, statements: dict[bool, str], row_type: Callable[..., T]
) -> Callable[[list[int], int, FeedCursor | None], Awaitable[list[tuple[int, T]]]]:
    """A fetch_window for owned_window statements (without and with a cursor), returning an
    `owner` column beside row_type's columns, newest first."""

    async def fetch(owners: list[int], limit: int, after: FeedCursor | None) -> list:
        cursor = [] if after is None else list(after)
        rows = await pool.fetch(statements[after is not None], owners, *cursor, limit)
        return [(row["owner"], build(row_type, row)) for row in rows]

    return fetch


async def counts_by_owner(pool: Any, sql: str, owner_ids: Sequence[int]) -> list[int]:
    """Per owner id, the `n` that sql (taking an id array, returning owner, n) reports, or 0."""
    rows = await pool.fetch(sql, list(owner_ids))
    counts = {row["owner"]: row["n"] for row in rows}
    return [counts.get(owner_id, 0) for owner_id in owner_ids]


def filter_conditions(
    values: Any, condition: Callable[[str, str], str], base: str, slots: Slots
) -> list[str]:
    """The WHERE conditions of a filter dataclass: `base`, then condition(field name, its
    value's slot) for every field that is set."""
    where = [base]
    for field in fields(values):
        value = getattr(values, field.name)
        if value is not None:
            where.append(condition(field.name, slots.add(value)))
    return where


async def count_where(pool: Any, rows: Rows, where: list[str], slots: Slots) -> int:
    """How many of the rows meet every condition in `where` (reads each of them)."""
    count: int = await pool.fetchval(f"SELECT {count_sql(rows, where)}", *slots.values)
    return count
