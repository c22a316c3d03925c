"""Batched keyset pages: one statement per distinct (first, after) window, not per owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from db.records import grouped

T = TypeVar("T")
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
