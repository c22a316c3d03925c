"""Relay plumbing: opaque global ids, cursors, connections and page arguments."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from strawberry.dataloader import DataLoader

from db import paging
from db import stories as db_stories
from db.paging import PageKey
from db.visibility import Scope
from schema.cache_keys import note_node
from schema.compiled import Column, GlobalId, Page, compiles
from schema.enums import ContentStatus
from schema.errors import BadUserInput

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@strawberry.interface(description="An object with a stable, opaque global id.")
class Node:
    record: strawberry.Private[Any]  # a db record with an integer `id`
    scope: strawberry.Private[Scope] = Scope.PUBLIC
    """What this object's fields may reach: a preview's children are previews too."""

    def __post_init__(self) -> None:
        note_node(type(self).__name__, self.record)  # its cache key, when one is collected

    @strawberry.field(
        description="Opaque global id; pass it to `node(id:)` to refetch.",
        metadata=compiles(GlobalId()),
    )
    def id(self) -> strawberry.ID:
        return to_global_id(type(self).__name__, self.record.id)


@strawberry.interface(description="Content with a lifecycle: drafted, scheduled, published.")
class Publishable(Node):
    @strawberry.field(
        description="Where the item is in its lifecycle (PUBLISHED for readers).",
        metadata=compiles(Column("status")),
    )
    def status(self) -> ContentStatus:
        return ContentStatus(self.record.status)

    @strawberry.field(
        description="Bumped by every change; send it back with an update to make sure you "
        "change what you read (optimistic concurrency).",
        metadata=compiles(Column("version")),
    )
    def version(self) -> int:
        return self.record.version

    @strawberry.field(
        description="Whether partners may republish the item. When false it is left out of "
        "every feed, and PARTNER keys get its summary but never its full text.",
        metadata=compiles(Column("syndicatable")),
    )
    def syndicatable(self) -> bool:
        return bool(self.record.syndicatable)


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).decode().rstrip("="))


def from_global_id(global_id: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, pk = raw.split(":", 1)
        return type_name, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput(f"{global_id[:100]!r} is not a Newsgraph id.", field="id") from None


def pk_of(global_id: str, type_name: str, field: str = "id") -> int:
    """The primary key in a global id that must name a `type_name`; BAD_USER_INPUT if not."""
    found_type, pk = from_global_id(global_id)
    if found_type != type_name:
        article = "an" if type_name[0] in "AEIOU" else "a"
        raise BadUserInput(f"`{field}` must be {article} {type_name} id.", field=field)
    return pk


def encode_cursor(kind: str, *values: Any) -> str:
    payload = orjson.dumps([kind, *[_plain(v) for v in values]])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, arity: int) -> list[Any] | None:
    """The values in a cursor made by encode_cursor(kind, ...), or None for no cursor."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(payload, list) or payload[0] != kind or len(payload) != arity + 1:
            raise ValueError
        return list(payload[1:])
    except (ValueError, binascii.Error, orjson.JSONDecodeError, IndexError):
        raise BadUserInput(
            "`after` is not a cursor from this list; pass an endCursor or edge cursor.",
            field="after",
        ) from None


def feed_cursor(values: list[Any] | None) -> tuple[datetime, int] | None:
    if values is None:
        return None
    try:
        return datetime.fromisoformat(values[0]), int(values[1])
    except (TypeError, ValueError):
        raise BadUserInput("`after` is not a cursor from this list.", field="after") from None


def feed_cursor_of(record: Any) -> str:
    """The cursor of a record listed newest first (db.visibility.feed_time: drafts in a
    preview sort by creation time)."""
    return encode_cursor("feed", record.published_at or record.created_at, record.id)


@dataclass(frozen=True)
class PageRequest:
    """A newest-first page's arguments, checked: its size and where it starts."""

    first: int
    after: tuple[datetime, int] | None


def feed_page(first: int, after: str | None) -> PageRequest:
    return PageRequest(check_first(first), feed_cursor(decode_cursor(after, "feed", 2)))


def check_first(first: int) -> int:
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(
            f"`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}.",
            field="first",
            maximum=MAX_PAGE_SIZE,
        )
    return first


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Items precede this page (true whenever `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` for the next page."
    )


@strawberry.type(description="An item in a list, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (Relay cursor connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds (all pages).")
    async def total_count(self) -> int:
        return await self.count()


def connection(
    rows: Sequence[Any],
    first: int,
    *,
    has_previous: bool,
    node: Callable[[Any], T],
    cursor: Callable[[Any], str],
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """A Connection from up to first + 1 fetched rows (the extra row means 'more follow')."""
    edges = [Edge(cursor=cursor(row), node=node(row)) for row in rows[:first]]
    info = page_info([edge.cursor for edge in edges], len(rows) > first, has_previous)
    return Connection(edges=edges, page_info=info, count=count)


def page_info(cursors: list[str], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


async def owned_feed(
    owner_id: int,
    first: int,
    after: str | None,
    *,
    pages: DataLoader[PageKey[Any], list[Any]],
    counts: DataLoader[int, int],
    node: Callable[[Any], T],
) -> Connection[T]:
    """A newest-first connection over the list owner_id owns (e.g. a topic's stories)."""
    page = feed_page(first, after)
    key = PageKey(owner_id, page.first, page.after)
    return connection(
        await pages.load(key),
        first,
        has_previous=after is not None,
        node=node,
        cursor=feed_cursor_of,
        count=lambda: counts.load(owner_id),
    )


def owned_stories_page(kind: str) -> Page:
    """The compiled stories page of a topic or an outlet (`kind`): its listing for readers."""
    return Page(
        prepare=lambda kwargs, caller: feed_page(kwargs["first"], kwargs["after"]),
        window=lambda alias, scope, page, slots: db_stories.owned_page(
            kind, f"{alias}.id", scope, slots, limit=page.first + 1, after=page.after
        ),
        cursor=paging.feed_cursor_sql,
        count=lambda alias, scope, page, slots: db_stories.owned_story_count(
            kind, f"{alias}.id", scope
        ),
    )
