"""Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws) and Server-Sent
Events (graphql-sse), fed by one reader of the change log per process.

The hub. Each process reads the change log (db.changes) once whenever a write's purge notice
arrives or a scheduled event comes due (api.response_cache.Invalidation wakes it), and hands
each new event to every subscriber's queue: a thousand subscribers cost one read, not a
thousand. The events are those of the `changes` query, in the same order, with the same
visibility: a scheduled item at its time, never a draft.

A subscriber's queue holds at most QUEUE events; one that falls that far behind is dropped
with SLOW_CONSUMER (it resumes with its last cursor, missing nothing). A key holds at most
`max_per_key` subscriptions on a process, and a revoked key's subscriptions end as soon as the
revocation's notice arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Iterator

import strawberry

from content.changes import item_key
from db import changes as db_changes
from db import purge
from db.paging import FeedCursor
from db.pool import Pool
from db.visibility import Scope
from schema.changes import ContentChange, change_cursor
from schema.context import Info
from schema.errors import (
    ApiError,
    BadUserInput,
    SlowConsumer,
    TooManySubscriptions,
    Unauthenticated,
    Unavailable,
)
from schema.relay import decode_cursor, feed_cursor, from_global_id
from schema.stories import Story

log = logging.getLogger("newsgraph.live")

QUEUE = 1_000
"""Events a subscriber may fall behind by before it is dropped."""
_PAGE = 500


class Subscriber:
    def __init__(self, key_id: int | None) -> None:
        self.key_id = key_id
        self.queue: asyncio.Queue[db_changes.ChangeRecord] = asyncio.Queue(QUEUE)
        self.ended: ApiError | None = None
        self._woken = asyncio.Event()

    def offer(self, record: db_changes.ChangeRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.end(SlowConsumer(f"More than {QUEUE} events behind: resume with your cursor."))
        self._woken.set()

    def end(self, error: ApiError) -> None:
        self.ended = self.ended or error
        self._woken.set()

    async def next(self) -> db_changes.ChangeRecord:
        while True:
            if self.ended is not None:
                raise self.ended
            if not self.queue.empty():
                return self.queue.get_nowait()
            self._woken.clear()
            await self._woken.wait()


class ChangeHub:
    """The change log as it grows, for every subscriber of this process."""

    def __init__(self, pool: Pool, max_per_key: int = 100) -> None:
        self.pool, self.max_per_key = pool, max_per_key
        self.position: FeedCursor | None = None
        """The last event handed out (None: the log was empty when the hub started)."""
        self.subscribers: set[Subscriber] = set()
        self._woken = asyncio.Event()
        self._ready = asyncio.Event()

    def purged(self, keys: list[str]) -> None:
        """A write (or a due event) was announced: the change log may have grown, and a
        revoked key's subscriptions end (db.purge)."""
        self._woken.set()
        revoked = purge.revoked_keys(keys)
        for subscriber in list(self.subscribers):
            if subscriber.key_id in revoked:
                subscriber.end(Unauthenticated("The API key was revoked."))

    async def run(self) -> None:
        self.position = await db_changes.latest(self.pool, await db_changes.horizon(self.pool))
        self._ready.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), 30.0)
            self._woken.clear()
            try:
                await self._read()
            except Exception:  # the database may be away for a moment; the next wake retries
                log.exception("reading the change log for subscribers failed")

    async def _read(self) -> None:
        until = await db_changes.horizon(self.pool)
        while rows := await db_changes.page(self.pool, until, self.position, _PAGE):
            for row in rows:
                for subscriber in list(self.subscribers):
                    subscriber.offer(row)
            self.position = (rows[-1].visible_at, rows[-1].id)

    @contextlib.contextmanager
    def subscribe(self, key_id: int | None) -> Iterator[Subscriber]:
        if key_id is not None:
            held = sum(1 for s in self.subscribers if s.key_id == key_id)
            if held >= self.max_per_key:
                raise TooManySubscriptions(
                    f"This key holds {held} subscriptions on this process; the limit is "
                    f"{self.max_per_key}."
                )
        subscriber = Subscriber(key_id)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    async def ready(self) -> FeedCursor | None:
        await self._ready.wait()
        return self.position


def _hub(info: Info) -> ChangeHub:
    hub = info.context.live
    if hub is None:
        raise Unavailable("Live updates are not available here.")
    return hub


@strawberry.type(description="A change as it happens, with the cursor to resume after it.")
class LiveChange:
    cursor: str = strawberry.field(
        description="Pass it as `after` when you reconnect: you miss nothing and get nothing twice."
    )
    change: ContentChange


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The change feed as a live stream: every event `changes` lists, as it "
        "happens (a scheduled publish at its time). With `after` (a cursor from `changes` or "
        "from this stream), the events since then come first."
    )
    async def changes(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[LiveChange, None]:
        hub = _hub(info)
        position = feed_cursor(decode_cursor(after, "change", 2)) if after else None
        with hub.subscribe(info.context.viewer.key_id) as subscriber:
            start = await hub.ready()
            if after is None:
                position = start
            else:  # what happened since `after`; the queue holds what comes meanwhile
                until = await db_changes.horizon(hub.pool)
                while rows := await db_changes.page(hub.pool, until, position, _PAGE):
                    for row in rows:
                        position = (row.visible_at, row.id)
                        yield _live(row)
            while True:
                row = await subscriber.next()
                if position is not None and (row.visible_at, row.id) <= position:
                    continue  # already sent from the log
                position = (row.visible_at, row.id)
                yield _live(row)

    @strawberry.subscription(
        description="A story as readers see it, again whenever it changes (its text, its "
        "sources and figures, its deep dive); null while it is not visible."
    )
    async def story(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Story | None, None]:
        hub = _hub(info)
        type_name, pk = from_global_id(id)
        if type_name != "Story":
            raise BadUserInput("`id` must be a Story's id.")
        key = item_key("story", pk)
        with hub.subscribe(info.context.viewer.key_id) as subscriber:
            await hub.ready()
            yield await _story(info, pk)
            while True:
                row = await subscriber.next()
                if key in row.purge_keys:  # the story's own events, and its deep dive's
                    yield await _story(info, pk)


async def _story(info: Info, pk: int) -> Story | None:
    info.context.loaders.forget()  # a long-lived context: read the story afresh
    record = await info.context.loaders.story_by_id[Scope.PUBLIC].load(pk)
    return Story(record=record) if record else None


def _live(row: db_changes.ChangeRecord) -> LiveChange:
    return LiveChange(cursor=change_cursor(row), change=ContentChange.of(row))
