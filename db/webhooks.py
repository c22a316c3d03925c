"""Webhooks: registered endpoints, and the outbox of deliveries db.changes fills.

A delivery is claimed by moving its next attempt into the future by a lease (FOR UPDATE SKIP
LOCKED, so any number of workers share the outbox). The worker sends it and records the
outcome; if the worker dies first, the lease runs out and another worker tries again.
Deliveries are therefore at least once: receivers deduplicate on the delivery id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.changes import ChangeRecord
from db.pool import Pool
from db.records import build, columns, grouped, in_key_order


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str
    events: list[str]
    description: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: int
    change_id: int
    event: str
    kind: str
    item_id: int
    slug: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    id: int
    delivery_id: int
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Due:
    """A claimed delivery: where to send which change, and the how-manieth try this is."""

    delivery_id: int
    attempt: int
    url: str
    secret: str
    change: ChangeRecord


@dataclass(frozen=True)
class Outcome:
    at: datetime
    status: int | None
    error: str | None
    duration_ms: int
    retry_at: datetime | None = None
    """When to try again after a failure; None: delivered, or out of attempts."""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


_WEBHOOK = columns(Webhook, "w")
_DELIVERY = columns(
    Delivery, "d", event="c.event", kind="c.kind", item_id="c.item_id", slug="c.slug"
)
_DELIVERIES = "webhook_deliveries d JOIN content_changes c ON c.id = d.change_id"
_ATTEMPT = columns(Attempt, "a")
_CREATE = f"""
INSERT INTO webhooks AS w (url, events, description, secret, created_by)
VALUES ($1, $2, $3, $4, $5) RETURNING {_WEBHOOK}
"""
_LIST = f"SELECT {_WEBHOOK} FROM webhooks w ORDER BY w.id"
_DELETE = "DELETE FROM webhooks WHERE id = $1 RETURNING id"
_DELIVERY_PAGE = f"""
SELECT {_DELIVERY} FROM {_DELIVERIES}
WHERE d.webhook_id = $1 AND ($2::bigint IS NULL OR d.id < $2)
ORDER BY d.id DESC LIMIT $3
"""
_DELIVERY_COUNT = "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1"
_LAST_DELIVERIES = f"""
SELECT DISTINCT ON (d.webhook_id) {_DELIVERY} FROM {_DELIVERIES}
WHERE d.webhook_id = ANY($1::bigint[]) AND d.last_attempt_at IS NOT NULL
ORDER BY d.webhook_id, d.last_attempt_at DESC, d.id DESC
"""
_ATTEMPTS = f"""
SELECT {_ATTEMPT} FROM webhook_attempts a WHERE a.delivery_id = ANY($1::bigint[])
ORDER BY a.delivery_id, a.id
"""
_CHANGE = columns(ChangeRecord, "c")
_CLAIM = f"""
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.state = 'PENDING' AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
FROM due, webhooks w, content_changes c
WHERE d.id = due.id AND w.id = d.webhook_id AND c.id = d.change_id
RETURNING d.id AS delivery_id, d.attempts AS attempt, w.url, w.secret, {_CHANGE}
"""
_RECORD = """
WITH attempt AS (
    INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms)
    VALUES ($1, $2, $3, $4, $5)
)
UPDATE webhook_deliveries SET
    state = $6, last_attempt_at = $2, last_status = $3, last_error = $4,
    delivered_at = CASE WHEN $6 = 'DELIVERED' THEN $2 END,
    next_attempt_at = COALESCE($7, next_attempt_at)
WHERE id = $1
"""
_REDELIVER = f"""
UPDATE webhook_deliveries d SET state = 'PENDING', next_attempt_at = now()
FROM content_changes c WHERE d.id = $1 AND c.id = d.change_id RETURNING {_DELIVERY}
"""


async def create_webhook(
    pool: Pool, *, url: str, events: list[str], description: str, secret: str, key_id: int | None
) -> Webhook:
    row = await pool.fetchrow(_CREATE, url, events, description, secret, key_id)
    return build(Webhook, row)


async def list_webhooks(pool: Pool) -> list[Webhook]:
    return [build(Webhook, row) for row in await pool.fetch(_LIST)]


async def delete_webhook(pool: Pool, webhook_id: int) -> bool:
    """Remove the webhook with its deliveries and their log; False when there was none."""
    return await pool.fetchval(_DELETE, webhook_id) is not None


async def delivery_page(
    pool: Pool, webhook_id: int, before_id: int | None, limit: int
) -> list[Delivery]:
    """A webhook's deliveries, newest first."""
    rows = await pool.fetch(_DELIVERY_PAGE, webhook_id, before_id, limit)
    return [build(Delivery, row) for row in rows]


async def delivery_count(pool: Pool, webhook_id: int) -> int:
    total: int = await pool.fetchval(_DELIVERY_COUNT, webhook_id)
    return total


async def last_deliveries(pool: Pool, webhook_ids: list[int]) -> list[Delivery | None]:
    """Each webhook's most recently attempted delivery, in key order."""
    rows = await pool.fetch(_LAST_DELIVERIES, webhook_ids)
    return in_key_order(webhook_ids, (build(Delivery, row) for row in rows), lambda d: d.webhook_id)


async def attempts_by_deliveries(pool: Pool, delivery_ids: list[int]) -> list[list[Attempt]]:
    rows = [build(Attempt, row) for row in await pool.fetch(_ATTEMPTS, delivery_ids)]
    return grouped(delivery_ids, ((row.delivery_id, row) for row in rows))


async def redeliver(pool: Pool, delivery_id: int) -> Delivery | None:
    """Send a delivery again (delivered, failed or waiting), now; None when there is none."""
    row = await pool.fetchrow(_REDELIVER, delivery_id)
    return build(Delivery, row) if row else None


async def claim(pool: Pool, limit: int, lease_seconds: float) -> list[Due]:
    """Up to `limit` due deliveries, leased to the caller for lease_seconds."""
    rows = await pool.fetch(_CLAIM, limit, lease_seconds)
    return [
        Due(row["delivery_id"], row["attempt"], row["url"], row["secret"], build(ChangeRecord, row))
        for row in rows
    ]


async def record(pool: Pool, delivery_id: int, outcome: Outcome) -> None:
    """Note one attempt: delivered, to be retried at outcome.retry_at, or failed for good."""
    state = "DELIVERED" if outcome.delivered else "PENDING" if outcome.retry_at else "FAILED"
    await pool.execute(
        _RECORD,
        delivery_id,
        outcome.at,
        outcome.status,
        outcome.error,
        outcome.duration_ms,
        state,
        outcome.retry_at,
    )


async def outbox_depth(pool: Pool) -> int:
    """Deliveries waiting to be sent (first attempts and retries)."""
    found: int = await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'"
    )
    return found
