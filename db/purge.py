"""Purge notices: every write tells every process which cached responses it changed.

A writer announces the cache keys it changed (content.changes: an item, the lists of its
kind, topic pages, feeds, sitemaps) with NOTIFY in its own transaction, so the notice leaves
exactly when the write commits, and never for a write that rolls back. Each process LISTENs
on one connection of its own and drops what the keys name (api.response_cache).

Time writes too: a scheduled item appears when its time comes, with no write. Its change
event is stored ahead with that time (db.changes), so a process reads the keys of the
events that have come due since it last looked, and when the next one is due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from db.pool import Connection, Pool

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
    """Tell every process, when this transaction commits, that these keys changed."""
    text = payload(keys)
    if text:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, text)


def keys_of(notice: str) -> list[str]:
    return notice.split()


async def listen(url: str, on_notice: Callable[[str], None]) -> asyncpg.Connection:
    """A connection of its own (a pooled one would be handed to requests) that calls
    on_notice(payload) for every notice. Close it to stop."""
    conn = await asyncpg.connect(url)
    await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, text: on_notice(text))
    return conn


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
