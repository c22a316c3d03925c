"""The change log: what each write means to readers outside (content.changes), written in the
writer's transaction together with the webhook outbox rows it feeds, and read back in order.

Ordering. Feed readers page by (visible_at, id). A writer takes an exclusive advisory lock and
only then reads the clock for its events; a reader takes the same lock shared, reads the clock
as its horizon and lets go. Every event at or before a horizon was therefore committed before
the reader looked, and every later write stamps a later time: a cursor never skips an event
that commits late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content.changes import (
    Event,
    Planned,
    item_key,
    later_start,
    plan,
    purge_keys,
    start,
)
from db import purge
from db.paging import FeedCursor
from db.pool import Connection, Pool
from db.records import build, columns

_LOCK = 0x6E67_6368  # any constant shared by writers and readers of the change log


@dataclass(frozen=True)
class ChangeRecord:
    id: int
    kind: str
    item_id: int
    slug: str
    event: str
    reason: str | None
    visible_at: datetime
    purge_keys: list[str]


_CHANGE = columns(ChangeRecord, "c")
_PAGE = f"""
SELECT {_CHANGE} FROM content_changes c
WHERE c.visible_at <= $1 AND ($2::timestamptz IS NULL OR (c.visible_at, c.id) > ($2, $3))
ORDER BY c.visible_at, c.id LIMIT $4
"""
_DROP_PENDING = "DELETE FROM content_changes WHERE kind = $1 AND item_id = $2 AND visible_at > $3"
# One statement per event: the change, and an outbox row for every webhook that wants it,
# due when the event happens for readers.
_WRITE = """
WITH change AS (
    INSERT INTO content_changes (kind, item_id, slug, event, reason, visible_at, purge_keys)
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, event, visible_at
)
INSERT INTO webhook_deliveries (webhook_id, change_id, next_attempt_at)
SELECT w.id, change.id, change.visible_at FROM change JOIN webhooks w
    ON w.active AND change.event = ANY(w.events)
"""
_STORY_STATE = "SELECT id, status, published_at FROM stories WHERE slug = $1"
_DEEP_DIVE_OF = "SELECT id, slug, status, published_at FROM deep_dives WHERE story_id = $1"


_FIGURES_CHANGED = """
SELECT s.id, s.slug, c.slug AS category, d.id AS deep_dive_id,
    ARRAY(SELECT t.slug FROM story_topics st JOIN topics t ON t.id = st.topic_id
          WHERE st.story_id = s.id ORDER BY st.position) AS topics
FROM stories s
LEFT JOIN topics c ON c.id = s.category_id
LEFT JOIN deep_dives d ON d.story_id = s.id
WHERE s.id = ANY($1::bigint[]) AND s.status = 'PUBLISHED' AND s.published_at <= now()
ORDER BY s.id
"""


async def serialize_writes(conn: Connection) -> None:
    """Take the writers' lock until the transaction ends. Every content write takes it
    first, so writes run one at a time: events get their times in commit order, and the list
    sizes (db.listings) move in one order, without deadlocks."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)


async def horizon(pool: Pool) -> datetime:
    """The latest time up to which the log is complete (see the module docstring)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", _LOCK)
        now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    return now


async def page(
    pool: Pool, until: datetime, after: FeedCursor | None, first: int
) -> list[ChangeRecord]:
    """Up to `first` events visible by `until`, oldest first, after the cursor."""
    at, change_id = after or (None, 0)
    rows = await pool.fetch(_PAGE, until, at, change_id, first)
    return [build(ChangeRecord, row) for row in rows]


async def note_write(
    conn: Connection,
    kind: str,
    item_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    *,
    takedown: str | None = None,
) -> None:
    """Record the events of a write of a story or deep dive (from document `before` to
    `after`), and of its deep dive when a story's change moves it too. takedown: the reason,
    when the write is a takedown."""
    await serialize_writes(conn)
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    write = _Write(conn, now, _removal(after, takedown), takedown)
    if kind == "story":
        await _story_events(write, item_id, before, after)
    else:
        await _deep_dive_events(write, item_id, before, after)


@dataclass(frozen=True)
class _Write:
    """One write's events: on this connection, at this time, removals announced as `removal`."""

    conn: Connection
    now: datetime
    removal: Event
    reason: str | None

    def plan(self, was: datetime | None, will: datetime | None, changed: bool) -> list[Planned]:
        return plan(was, will, self.now, changed=changed, removal=self.removal)

    async def record(
        self, kind: str, item_id: int, slug: str, events: Iterable[Planned], keys: list[str]
    ) -> None:
        # A schedule announced ahead is withdrawn by any later write; the plan re-announces it.
        await self.conn.execute(_DROP_PENDING, kind, item_id, self.now)
        events = list(events)
        if events:  # cached answers holding it go now, and again when a scheduled one is due
            await purge.announce(self.conn, keys)
        for planned in events:
            why = self.reason if planned.event is Event.TAKEN_DOWN else None
            await self.conn.execute(
                _WRITE, kind, item_id, slug, planned.event.value, why, planned.at, keys
            )


async def note_figures_changed(conn: Connection, story_ids: list[int]) -> None:
    """UPDATED for each live story among these whose figures changed without a write of its
    own (an outlet was re-rated, a source moved to another outlet), with its purge keys."""
    if not story_ids:
        return
    await serialize_writes(conn)
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    events = []
    for row in await conn.fetch(_FIGURES_CHANGED, story_ids):
        related = [item_key("deep_dive", row["deep_dive_id"])] if row["deep_dive_id"] else []
        topics = [*([row["category"]] if row["category"] else []), *row["topics"]]
        keys = purge_keys("story", row["id"], topics, related)
        events.append(("story", row["id"], row["slug"], Event.UPDATED.value, None, now, keys))
    await conn.executemany(_WRITE, events)
    await purge.announce(conn, [key for event in events for key in event[-1]])


def _removal(after: dict[str, Any], takedown: str | None) -> Event:
    if takedown is not None:
        return Event.TAKEN_DOWN
    return Event.ARCHIVED if after["status"] == "ARCHIVED" else Event.UNPUBLISHED


def _start_of(document: dict[str, Any] | None) -> datetime | None:
    return start(document["status"], document["published_at"]) if document else None


def _topics(*documents: dict[str, Any] | None, field: str) -> list[str]:
    slugs: list[str] = []
    for document in documents:
        if document:
            category = document.get("category")
            slugs += [*([category] if category else []), *document[field]]
    return slugs


async def _story_events(
    write: _Write, story_id: int, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    was, will = _start_of(before), _start_of(after)
    dive = await write.conn.fetchrow(_DEEP_DIVE_OF, story_id)
    related = [item_key("deep_dive", dive["id"])] if dive else []
    keys = purge_keys("story", story_id, _topics(before, after, field="topics"), related)
    await write.record("story", story_id, after["slug"], write.plan(was, will, True), keys)
    if dive is None:
        return
    own = start(dive["status"], dive["published_at"])
    dive_was, dive_will = later_start(own, was), later_start(own, will)
    if dive_was != dive_will:  # the story took its deep dive in or out of sight
        dive_keys = purge_keys("deep_dive", dive["id"], [], [item_key("story", story_id)])
        dive_events = write.plan(dive_was, dive_will, False)
        await write.record("deep_dive", dive["id"], dive["slug"], dive_events, dive_keys)


async def _deep_dive_events(
    write: _Write, dive_id: int, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    conn = write.conn
    story_before = await conn.fetchrow(_STORY_STATE, before["story"]) if before else None
    story_after = await conn.fetchrow(_STORY_STATE, after["story"])
    was = later_start(_start_of(before), _story_start(story_before))
    will = later_start(_start_of(after), _story_start(story_after))
    stories = {row["id"] for row in (story_before, story_after) if row}
    related = [item_key("story", story) for story in sorted(stories)]
    keys = purge_keys("deep_dive", dive_id, _topics(before, after, field="key_actors"), related)
    await write.record("deep_dive", dive_id, after["slug"], write.plan(was, will, True), keys)


def _story_start(row: Any) -> datetime | None:
    return start(row["status"], row["published_at"]) if row else None


async def latest(pool: Pool, until: datetime) -> FeedCursor | None:
    """The place of the last event visible by `until` (None when there is none)."""
    row = await pool.fetchrow(
        "SELECT visible_at, id FROM content_changes WHERE visible_at <= $1 "
        "ORDER BY visible_at DESC, id DESC LIMIT 1",
        until,
    )
    return (row["visible_at"], row["id"]) if row else None


async def count(pool: Pool, until: datetime) -> int:
    total: int = await pool.fetchval(
        "SELECT count(*) FROM content_changes WHERE visible_at <= $1", until
    )
    return total
