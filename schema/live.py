"""Live updates: GraphQL subscriptions over WebSocket (graphql-transport-ws) and Server-Sent
Events (graphql-sse), fed by one reader of the change log per process.

The hub. Each process reads the change log (db.changes) once whenever a write's purge notice
arrives or a scheduled event comes due (api.response_cache.Invalidation wakes it), and hands
each new event to every subscriber's queue: a thousand subscribers cost one read, not a
thousand. The events are those of the `changes` query, in the same order, with the same
visibility: a scheduled item at its time, never a draft.

Each event is rendered once per distinct operation, not once per subscriber: the hub hands
every subscriber the same Shared payload, and SharingExecutor executes an operation over it
once for all subscribers with the same document, variables and caller class (the classes of
api.response_cache), the others receiving that result. A result with errors, or one that
shows something personal, is not shared. NEWSGRAPH_LIVE_SHARING=false turns this off (the
differential test compares both).

A subscriber's queue holds at most QUEUE events; one that falls that far behind is dropped
with SLOW_CONSUMER (it resumes with its last cursor, missing nothing). A key holds at most
`max_per_key` subscriptions on a process, and a revoked key's subscriptions end as soon as the
revocation's notice arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

import orjson
import strawberry
from graphql import ExecutionResult, FragmentDefinitionNode, OperationDefinitionNode, print_ast
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from content.access import Permission
from content.changes import item_key
from db import changes as db_changes
from db import purge
from db.paging import FeedCursor
from db.pool import Pool
from db.visibility import Scope
from schema.cache_keys import Collected, collecting
from schema.changes import ContentChange, change_cursor
from schema.context import Context, Info
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


@dataclass
class Renders:
    """How events were rendered on this process (GET /stats)."""

    executed: int = 0
    """Operations executed over a shared event."""
    shared: int = 0
    """Subscribers that received another subscriber's result instead."""


class Shared:
    """A subscription field's value for one event, the same object for every subscriber,
    with its executions so far (SharingExecutor)."""

    def __init__(self, value: object, renders: Renders) -> None:
        self.value, self.renders = value, renders
        self.results: dict[tuple[str, bytes, str], asyncio.Future[ExecutionResult | None]] = {}


class HubEvent:
    """One change event as the hub hands it to every subscriber of this process."""

    def __init__(self, record: db_changes.ChangeRecord, renders: Renders | None = None) -> None:
        """renders: share this event's renders, counted there (None: render per subscriber)."""
        self.record, self.renders = record, renders
        self._live: Shared | None = None
        self._stories: dict[int, asyncio.Future[Shared]] = {}

    def live(self) -> object:
        """The `changes` stream's value for this event."""
        if self.renders is None:
            return _live(self.record)
        if self._live is None:
            self._live = Shared(_live(self.record), self.renders)
        return self._live

    async def story(self, pk: int, read: Callable[[], Awaitable[Story | None]]) -> object:
        """The `story(id:)` stream's value for this event: read once for all its subscribers
        (the public story is the same for every reader)."""
        if self.renders is None:
            return await read()
        found = self._stories.get(pk)
        if found is None:
            found = self._stories[pk] = asyncio.ensure_future(_shared(read, self.renders))
        return await asyncio.shield(found)


async def _shared(read: Callable[[], Awaitable[Story | None]], renders: Renders) -> Shared:
    return Shared(await read(), renders)


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, executing an operation over a Shared event once for every
    subscriber with the same document, variables and caller class."""

    shared: Shared | None = None
    sharing_key: tuple[str, bytes, str] | None = None
    _keyed = False

    def build_per_event_executor(self, payload: Any) -> Any:
        if not isinstance(payload, Shared):
            return super().build_per_event_executor(payload)
        if not self._keyed:
            self.sharing_key, self._keyed = self._sharing_key(), True
        if self.sharing_key is not None:
            found = payload.results.get(self.sharing_key)
            if found is not None and found.done() and found.result() is not None:
                # Most subscribers come here: another's result is ready, so no executor is
                # copied for this one (graphql-core asks only for execute_operation).
                payload.renders.shared += 1
                return _Kept(cast(ExecutionResult, found.result()))
        executor = cast(SharingExecutor, super().build_per_event_executor(payload.value))
        executor.shared = payload
        return executor

    def _sharing_key(self) -> tuple[str, bytes, str] | None:
        """What the result depends on besides the event (None: do not share)."""
        context = self.context_value
        if not isinstance(context, Context) or context.viewer.can(Permission.PREVIEW):
            return None  # editors see previews: never shared
        try:
            variables = orjson.dumps(
                self.variable_values.coerced, option=orjson.OPT_SORT_KEYS, default=str
            )
        except TypeError:
            return None
        document = _document_text(self.operation, self.fragment_definitions)
        return document, variables, context.viewer.caller_class

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared, key = self.shared, self.sharing_key
        if shared is None or key is None:
            return super().execute_operation(serially)
        found = shared.results.get(key)
        if found is not None and found.done():
            # A result kept for sharing never gets here (build_per_event_executor handed out
            # _Kept): this one could not be shared, so this subscriber executes its own.
            return super().execute_operation(serially)
        if found is not None:
            return self._after(shared, found, serially)
        found = shared.results[key] = asyncio.get_running_loop().create_future()
        shared.renders.executed += 1
        with collecting() as collected:
            try:
                result = super().execute_operation(serially)
            except BaseException:
                found.set_result(None)
                raise
        if self.is_awaitable(result):
            return self._finish(cast(Awaitable[ExecutionResult], result), collected, found)
        found.set_result(_shareable(cast(ExecutionResult, result), collected))
        return result

    async def _after(
        self, shared: Shared, found: asyncio.Future[ExecutionResult | None], serially: bool | None
    ) -> ExecutionResult:
        """The result another subscriber is still executing (or our own when it could
        not be shared)."""
        result = await asyncio.shield(found)
        if result is not None:
            shared.renders.shared += 1
            return result
        own = super().execute_operation(serially)
        return cast(ExecutionResult, await own if self.is_awaitable(own) else own)

    async def _finish(
        self,
        running: Awaitable[ExecutionResult],
        collected: Collected,
        found: asyncio.Future[ExecutionResult | None],
    ) -> ExecutionResult:
        kept = None
        try:
            with collecting(into=collected):  # the rest of the execution goes on noting
                result = await running
            kept = _shareable(result, collected)
            return result
        finally:
            found.set_result(kept)  # None: the others execute it themselves


class _Kept:
    """The per-event executor of a subscriber whose result another subscriber made."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


def _shareable(result: ExecutionResult, collected: Collected) -> ExecutionResult | None:
    """The result, if every subscriber of its class may receive it."""
    return None if result.errors or collected.personal else result


def _document_text(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> str:
    """The document an operation was parsed from, which decides its result with the
    variables (its printed form when the parser kept no source: printing costs more)."""
    name = operation.name.value if operation.name else ""
    if operation.loc is not None:
        return f"{name} {operation.loc.source.body}"
    return " ".join(print_ast(node) for node in (operation, *fragments.values()))


class Subscriber:
    def __init__(self, key_id: int | None) -> None:
        self.key_id = key_id
        self.queue: asyncio.Queue[HubEvent] = asyncio.Queue(QUEUE)
        self.ended: ApiError | None = None
        self._woken = asyncio.Event()

    def offer(self, event: HubEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.end(SlowConsumer(f"More than {QUEUE} events behind: resume with your cursor."))
        self._woken.set()

    def end(self, error: ApiError) -> None:
        self.ended = self.ended or error
        self._woken.set()

    async def next(self) -> HubEvent:
        while True:
            if self.ended is not None:
                raise self.ended
            if not self.queue.empty():
                return self.queue.get_nowait()
            self._woken.clear()
            await self._woken.wait()


class ChangeHub:
    """The change log as it grows, for every subscriber of this process."""

    def __init__(self, pool: Pool, max_per_key: int = 100, sharing: bool = True) -> None:
        """sharing: render each event once per distinct operation (SharingExecutor)."""
        self.pool, self.max_per_key = pool, max_per_key
        self.renders = Renders() if sharing else None
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
                event = HubEvent(row, self.renders)
                for subscriber in list(self.subscribers):
                    subscriber.offer(event)
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

    def stats(self) -> dict[str, object]:
        renders = asdict(self.renders) if self.renders else None
        return {"subscribers": len(self.subscribers), "renders": renders}

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
                event = await subscriber.next()
                row = event.record
                if position is not None and (row.visible_at, row.id) <= position:
                    continue  # already sent from the log
                position = (row.visible_at, row.id)
                # A Shared in the LiveChange's place: SharingExecutor unwraps it.
                yield cast(LiveChange, event.live())

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
                event = await subscriber.next()
                if key in event.record.purge_keys:  # the story's own events, its deep dive's
                    shown = await event.story(pk, lambda: _story(info, pk))
                    yield cast(Story | None, shown)  # a Shared, as in `changes`


async def _story(info: Info, pk: int) -> Story | None:
    info.context.loaders.forget()  # a long-lived context: read the story afresh
    record = await info.context.loaders.story_by_id[Scope.PUBLIC].load(pk)
    return Story(record=record) if record else None


def _live(row: db_changes.ChangeRecord) -> LiveChange:
    return LiveChange(cursor=change_cursor(row), change=ContentChange.of(row))
