"""Purge notices: every write tells every process which cached responses it changed.

A writer announces the cache keys it changed (content.changes: an item, the lists of its
kind, topic pages, feeds, sitemaps) with NOTIFY in its own transaction, so the notice leaves
exactly when the write commits, and never for a write that rolls back. Each process LISTENs
on one connection of its own and drops what the keys name (api.response_cache); or, with
REDIS_URL set, hears them through Redis pub/sub (RedisNotices).

Time writes too: a scheduled item appears when its time comes, with no write. Its change
event is stored ahead with that time (db.changes), so a process reads the keys of the
events that have come due since it last looked, and when the next one is due.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from db.pool import Connection, Pool, note_purge

CHANNEL = "newsgraph_purge"
KEY_PREFIX = "api-key-"
"""The notice of an API key's revocation: `api-key-<id>` (its live subscriptions end)."""
EVERYTHING = "*"
"""The notice that drops every entry: for bulk loads, and for a notice too long to send."""
_MAX_PAYLOAD = 7_900  # PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more

_LOOK = """
SELECT ARRAY(
    SELECT DISTINCT k FROM content_changes c CROSS JOIN LATERAL unnest(c.purge_keys) AS k
    WHERE c.visible_at > $1 AND c.visible_at <= now()
), now(), (SELECT min(visible_at) FROM content_changes WHERE visible_at > now())
"""


class Listener(Protocol):
    """Something a process keeps that purge notices change (each is told every notice)."""

    def purged(self, keys: list[str]) -> None: ...


def revoked_keys(keys: Iterable[str]) -> set[int]:
    """The ids of the API keys these purge keys say were revoked."""
    ids = (k.removeprefix(KEY_PREFIX) for k in keys if k.startswith(KEY_PREFIX))
    return {int(i) for i in ids if i.isdigit()}


def payload(keys: Iterable[str]) -> str:
    """The notice for these keys: space-separated, or EVERYTHING when too long to send."""
    text = " ".join(dict.fromkeys(keys))
    return text if len(text.encode()) <= _MAX_PAYLOAD else EVERYTHING


async def announce(conn: Connection, keys: Iterable[str]) -> None:
    """Tell every process, when this transaction commits, that these keys changed (and the
    pool's publisher, if it has one, once the connection is released: db.pool)."""
    text = payload(keys)
    if text:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, text)
        note_purge(conn, text)


def keys_of(notice: str) -> list[str]:
    return notice.split()


@dataclass
class Hearing:
    """Notices being heard: `lost` is set when the channel went away."""

    lost: asyncio.Event
    close: Callable[[], Awaitable[None]]


class Notices(Protocol):
    """Where a process hears the purge notices."""

    async def hear(self, on_notice: Callable[[str], None]) -> Hearing:
        """Call on_notice(payload) for every notice from now on."""
        ...


class PostgresNotices:
    """LISTEN on a connection of its own (a pooled one would be handed to requests)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def hear(self, on_notice: Callable[[str], None]) -> Hearing:
        conn = await asyncpg.connect(self.url)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, text: on_notice(text))
        return Hearing(lost, conn.close)


def redis_notices(redis_url: str | None) -> RedisNotices | None:
    """With REDIS_URL set, purge notices go through Redis as well as NOTIFY."""
    return RedisNotices(redis_url) if redis_url else None


class RedisNotices:
    """Purge notices through Redis pub/sub, for processes that do not hold a PostgreSQL
    session of their own (behind a transaction pooler, on many machines). Writers publish
    as their connection returns to the pool, after the commit (db.pool.Publisher); a writer
    that dies in between leaves the entries to expire, or to the next look at the change
    log (`look`), which finds every change event since the last."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client: Any = redis.Redis.from_url(url)

    async def publish(self, notices: list[str]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for notice in notices:
                pipe.publish(CHANNEL, notice)
            await pipe.execute()

    async def hear(self, on_notice: Callable[[str], None]) -> Hearing:
        pubsub = self.client.pubsub()
        await pubsub.subscribe(CHANNEL)
        while (await pubsub.get_message(timeout=5.0) or {}).get("type") != "subscribe":
            pass  # heard from now on once Redis confirms
        lost = asyncio.Event()

        async def read() -> None:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        on_notice(message["data"].decode())
            finally:
                lost.set()

        reading = asyncio.create_task(read())

        async def close() -> None:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            await pubsub.aclose()

        return Hearing(lost, close)


@dataclass(frozen=True)
class Look:
    """What time has written since a process last looked."""

    keys: list[str]
    """The keys of the change events that came due since then."""
    now: datetime
    """The database's clock: where the next look starts."""
    next_due: datetime | None
    """When the next event stored ahead comes due, if any is."""


async def look(pool: Pool, after: datetime) -> Look:
    """The events that came due after `after` and by now, and when the next one does."""
    row = await pool.fetchrow(_LOOK, after)
    return Look(list(row[0]), row[1], row[2])


async def database_now(pool: Pool) -> datetime:
    found: datetime = await pool.fetchval("SELECT now()")
    return found
