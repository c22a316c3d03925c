"""The webhook worker: claims due deliveries from the outbox (db.webhooks), sends each signed
(content.webhooks), and records the outcome, retrying failures with back-off.

Every serving process runs one unless NEWSGRAPH_WEBHOOK_WORKER=off; they share the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from api import metrics
from api.outbound import Refused, pinned
from api.settings import Webhooks
from content.webhooks import SIGNATURE_HEADER, retry_delay, signature
from db import webhooks as db_webhooks
from db.pool import Pool
from schema.changes import item_global_id
from schema.relay import to_global_id

log = logging.getLogger("newsgraph.webhooks")
BATCH = 20
USER_AGENT = "Newsgraph-Webhooks/1"


def delivery_id(due: db_webhooks.Due) -> str:
    """The delivery's GraphQL id (WebhookDelivery.id): what redeliverWebhook takes."""
    return str(to_global_id("WebhookDelivery", due.delivery_id))


def body_of(due: db_webhooks.Due) -> bytes:
    """What a receiver gets: the change, thin (fetch the item itself by id or slug)."""
    change = due.change
    return orjson.dumps(
        {
            "deliveryId": delivery_id(due),
            "event": change.event,
            "at": change.visible_at.isoformat(),
            "kind": change.kind.upper(),
            "itemId": item_global_id(change.kind, change.item_id),
            "slug": change.slug,
            "reason": change.reason,
            "purgeKeys": change.purge_keys,
        }
    )


class Deliverer:
    def __init__(self, pool: Pool, settings: Webhooks) -> None:
        self.pool, self.settings = pool, settings
        self.client = httpx.AsyncClient(
            timeout=settings.timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere, inside our network too
            headers={"User-Agent": USER_AGENT},
        )

    async def run(self) -> None:
        """Deliver until cancelled."""
        try:
            while True:
                try:
                    sent = await self.run_once()
                except Exception:  # the database may be away for a moment; keep going
                    log.exception("webhook delivery round failed")
                    sent = 0
                if not sent:
                    await asyncio.sleep(self.settings.poll_seconds)
        finally:
            await self.client.aclose()

    async def run_once(self) -> int:
        """Send every due delivery (up to a batch); how many there were."""
        lease = self.settings.timeout_seconds + 30
        due = await db_webhooks.claim(self.pool, BATCH, lease)
        await asyncio.gather(*(self._deliver(item) for item in due))
        return len(due)

    async def _deliver(self, due: db_webhooks.Due) -> None:
        body = body_of(due)
        sent_at = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(due.secret, sent_at, body),
            "Newsgraph-Event": due.change.event,
            "Newsgraph-Delivery": delivery_id(due),
        }
        started = time.monotonic()
        status, error = None, None
        try:
            target, host, sni = await pinned(due.url, allow_private=self.settings.allow_private)
            headers["Host"] = host
            async with self.client.stream(
                "POST", target, content=body, headers=headers, extensions=sni
            ) as got:
                status = got.status_code  # the body is never read: receivers owe us none
            if not 200 <= status < 300:
                error = f"answered HTTP {status}"
        except Refused as refused:
            error = f"{refused}; not delivered"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        elapsed = round((time.monotonic() - started) * 1000)
        now = datetime.now(UTC)
        outcome = db_webhooks.Outcome(now, status, error, elapsed)
        if not outcome.delivered and due.attempt < self.settings.max_attempts:
            wait = retry_delay(due.attempt, self.settings.retry_base_seconds)
            outcome = db_webhooks.Outcome(
                now, status, error, elapsed, now + timedelta(seconds=wait)
            )
        await db_webhooks.record(self.pool, due.delivery_id, outcome)
        result = "delivered" if outcome.delivered else "retry" if outcome.retry_at else "failed"
        metrics.WEBHOOK_DELIVERIES.labels(result).inc()
