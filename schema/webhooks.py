"""Webhooks (ADMIN): register endpoints for change events, and read their delivery log."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from content.access import Permission
from content.changes import Event
from content.webhooks import endpoint_problem, new_secret
from db import webhooks as db_webhooks
from schema.access import require
from schema.changes import item_global_id
from schema.context import Info
from schema.errors import BadUserInput
from schema.inputs import checked_text
from schema.relay import (
    Connection,
    check_first,
    connection,
    decode_cursor,
    encode_cursor,
    pk_of,
    to_global_id,
)


@strawberry.enum(description="Where a webhook delivery stands.")
class DeliveryState(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(description="One try at sending a delivery.")
class WebhookAttempt:
    at: datetime = strawberry.field(description="When it was sent.")
    status: int | None = strawberry.field(
        description="The receiver's HTTP status; null when there was no answer."
    )
    error: str | None = strawberry.field(
        description="What went wrong (timeout, refused connection, non-2xx answer)."
    )
    duration_ms: int = strawberry.field(description="How long the receiver took.")


@strawberry.type(description="One change sent (or to be sent) to one webhook.")
class WebhookDelivery:
    record: strawberry.Private[db_webhooks.Delivery]
    attempt_log: list[WebhookAttempt] = strawberry.field(
        description="Every try, oldest first.", default_factory=list
    )

    @strawberry.field(
        description="Also sent as the Newsgraph-Delivery header: the same on every retry, so "
        "receivers can drop duplicates."
    )
    def id(self) -> strawberry.ID:
        return to_global_id("WebhookDelivery", self.record.id)

    @strawberry.field(description="The change event delivered.")
    def event(self) -> Event:
        return Event(self.record.event)

    @strawberry.field(description="The global id of the story or deep dive it is about.")
    def item_id(self) -> strawberry.ID:
        return item_global_id(self.record.kind, self.record.item_id)

    @strawberry.field(description="The item's slug when the change happened.")
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(
        description="PENDING (waiting or retrying), DELIVERED (a 2xx answer), or FAILED (out of "
        "attempts; redeliverWebhook sends it again)."
    )
    def state(self) -> DeliveryState:
        return DeliveryState(self.record.state)

    @strawberry.field(description="Tries so far.")
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field(description="When the next try is due; null unless PENDING.")
    def next_attempt_at(self) -> datetime | None:
        return self.record.next_attempt_at if self.record.state == "PENDING" else None

    @strawberry.field(description="When the last try was made.")
    def last_attempt_at(self) -> datetime | None:
        return self.record.last_attempt_at

    @strawberry.field(description="The HTTP status of the last try; null if none answered.")
    def last_status(self) -> int | None:
        return self.record.last_status

    @strawberry.field(description="What went wrong on the last try; null after a success.")
    def last_error(self) -> str | None:
        return self.record.last_error

    @strawberry.field(description="When a receiver accepted it.")
    def delivered_at(self) -> datetime | None:
        return self.record.delivered_at


@strawberry.type(description="An endpoint that receives change events, signed.")
class Webhook:
    record: strawberry.Private[db_webhooks.Webhook]
    last_delivery: WebhookDelivery | None = strawberry.field(
        description="The most recently tried delivery: is the endpoint healthy?", default=None
    )

    @strawberry.field(description="Pass to webhookDeliveries and deleteWebhook.")
    def id(self) -> strawberry.ID:
        return to_global_id("Webhook", self.record.id)

    @strawberry.field(description="Where deliveries are POSTed.")
    def url(self) -> str:
        return self.record.url

    @strawberry.field(description="The events it receives.")
    def events(self) -> list[Event]:
        return [Event(event) for event in self.record.events]

    @strawberry.field(description="What it is for, as its registrant described it.")
    def description(self) -> str:
        return self.record.description

    @strawberry.field(description="When it was registered.")
    def created_at(self) -> datetime:
        return self.record.created_at


@strawberry.input(description="An endpoint to register.")
class RegisterWebhookInput:
    url: str = strawberry.field(description="An https URL that accepts POSTed JSON.")
    events: list[Event] = strawberry.field(description="The events to send; at least one.")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.type(
    description="A registered webhook and its secret: store it now, it is never shown again."
)
class RegisteredWebhook:
    webhook: Webhook
    secret: str = strawberry.field(
        description="Verify the Newsgraph-Signature header of every delivery with it (README)."
    )


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Every webhook, with its last delivery (ADMIN only).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        require(info, Permission.ADMINISTER)
        pool = info.context.pool
        hooks = await db_webhooks.list_webhooks(pool)
        last = await db_webhooks.last_deliveries(pool, [hook.id for hook in hooks])
        deliveries = await _with_attempts(info, [d for d in last if d])
        by_id = {d.record.id: d for d in deliveries}
        return [
            Webhook(record=hook, last_delivery=by_id.get(d.id) if d else None)
            for hook, d in zip(hooks, last, strict=True)
        ]

    @strawberry.field(description="A webhook's deliveries, newest first (ADMIN only).")
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, first: int = 20, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        require(info, Permission.ADMINISTER)
        check_first(first)
        hook_pk = pk_of(webhook_id, "Webhook", "webhookId")
        cursor = decode_cursor(after, "delivery", 1)
        pool = info.context.pool
        rows = await db_webhooks.delivery_page(
            pool, hook_pk, cursor[0] if cursor else None, first + 1
        )
        nodes = {d.record.id: d for d in await _with_attempts(info, rows[:first])}
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda row: nodes[row.id],
            cursor=lambda row: encode_cursor("delivery", row.id),
            count=lambda: db_webhooks.delivery_count(pool, hook_pk),
        )


async def _with_attempts(info: Info, rows: list[db_webhooks.Delivery]) -> list[WebhookDelivery]:
    """Deliveries with their attempt logs, read in one statement."""
    logs = await db_webhooks.attempts_by_deliveries(info.context.pool, [row.id for row in rows])
    return [
        WebhookDelivery(
            record=row,
            attempt_log=[
                WebhookAttempt(at=a.at, status=a.status, error=a.error, duration_ms=a.duration_ms)
                for a in log
            ],
        )
        for row, log in zip(rows, logs, strict=True)
    ]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register an endpoint for change events (ADMIN only). Deliveries are "
        "POSTed as JSON, signed with the secret returned here, and retried with back-off "
        "until a 2xx answer."
    )
    async def register_webhook(self, info: Info, input: RegisterWebhookInput) -> RegisteredWebhook:
        require(info, Permission.ADMINISTER)
        url = input.url.strip()
        problem = endpoint_problem(url, allow_private=info.context.webhook_allow_private)
        if problem:
            raise BadUserInput(f"`input.url` {problem}.", field="input.url")
        if not input.events:
            raise BadUserInput("`input.events` needs at least one event.", field="input.events")
        description = checked_text(input.description, "input.description", max_length=500)
        secret = new_secret()
        hook = await db_webhooks.create_webhook(
            info.context.pool,
            url=url,
            events=list(dict.fromkeys(event.value for event in input.events)),
            description=description.strip(),
            secret=secret,
            key_id=info.context.viewer.key_id,
        )
        return RegisteredWebhook(webhook=Webhook(record=hook), secret=secret)

    @strawberry.mutation(
        description="Remove a webhook, its pending deliveries and its log (ADMIN only); false "
        "when there is none."
    )
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        require(info, Permission.ADMINISTER)
        return await db_webhooks.delete_webhook(info.context.pool, pk_of(id, "Webhook"))

    @strawberry.mutation(
        description="Send a delivery again now, e.g. a FAILED one once its receiver is fixed "
        "(ADMIN only); null when there is none."
    )
    async def redeliver_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery | None:
        require(info, Permission.ADMINISTER)
        row = await db_webhooks.redeliver(info.context.pool, pk_of(id, "WebhookDelivery"))
        return (await _with_attempts(info, [row]))[0] if row else None
