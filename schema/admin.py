"""API keys and the audit log (ADMIN), and preview tokens (EDITOR and ADMIN)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry

from content.access import Permission, PreviewGrant, sign_preview
from db import audit, keys
from db import deep_dives as db_deep_dives
from db import stories as db_stories
from db.visibility import Scope
from schema.access import require
from schema.context import Info
from schema.enums import Role
from schema.errors import BadUserInput
from schema.inputs import checked_text
from schema.relay import (
    Connection,
    check_first,
    connection,
    decode_cursor,
    encode_cursor,
    from_global_id,
    pk_of,
    to_global_id,
)

MAX_PREVIEW_MINUTES = 7 * 24 * 60


@strawberry.type(description="An API key's record; the key itself is shown only at creation.")
class ApiKey:
    record: strawberry.Private[keys.ApiKey]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ApiKey", self.record.id)

    @strawberry.field(description="Who or what uses the key.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def role(self) -> Role:
        return Role(self.record.role)

    @strawberry.field(description="The key's visible start, to recognise it: ng_<prefix>_…")
    def prefix(self) -> str:
        return self.record.prefix

    @strawberry.field(description="Requests a minute (token bucket, shared by all processes).")
    def rate_per_minute(self) -> int:
        return self.record.rate_per_minute

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def expires_at(self) -> datetime | None:
        return self.record.expires_at

    @strawberry.field
    def revoked_at(self) -> datetime | None:
        return self.record.revoked_at

    @strawberry.field(description="Last use, to the minute.")
    def last_used_at(self) -> datetime | None:
        return self.record.last_used_at


@strawberry.type(description="One change: who (which key) changed what, when.")
class AuditEntry:
    record: strawberry.Private[audit.AuditEntry]

    @strawberry.field
    def at(self) -> datetime:
        return self.record.at

    @strawberry.field(description="The key's name, or the command line tool that did it.")
    def actor(self) -> str:
        return self.record.actor

    @strawberry.field(description="The key's global id; null for the command line.")
    def key_id(self) -> strawberry.ID | None:
        key_id = self.record.key_id
        return to_global_id("ApiKey", key_id) if key_id is not None else None

    @strawberry.field(description="e.g. create, update, publish, archive, import:updated.")
    def action(self) -> str:
        return self.record.action

    @strawberry.field(description="outlet, topic, source, story or deep_dive.")
    def entity(self) -> str:
        return self.record.entity

    @strawberry.field(description="The item's slug (URL for sources).")
    def entity_key(self) -> str:
        return self.record.entity_key

    @strawberry.field
    def before_version(self) -> int | None:
        return self.record.before_version

    @strawberry.field
    def after_version(self) -> int | None:
        return self.record.after_version


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: Role
    rate_per_minute: int | None = strawberry.field(
        default=None, description="Default: the service's NEWSGRAPH_KEY_RATE_PER_MINUTE."
    )
    expires_at: datetime | None = None


@strawberry.type(description="A new key: store `key` now, it is never shown again.")
class CreatedApiKey:
    key: str
    api_key: ApiKey


@strawberry.type(description="A signed token that lets any caller read one hidden item.")
class PreviewToken:
    token: str = strawberry.field(description="Pass as `previewToken` to story/deepDive/node.")
    expires_at: datetime


@strawberry.type
class AdminQuery:
    @strawberry.field(description="Every API key (ADMIN only).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        require(info, Permission.ADMINISTER)
        return [ApiKey(record=k) for k in await keys.list_keys(info.context.pool)]

    @strawberry.field(description="Changes, newest first (ADMIN only).")
    async def audit_log(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[AuditEntry]:
        require(info, Permission.ADMINISTER)
        check_first(first)
        cursor = decode_cursor(after, "audit", 1)
        before_id = int(cursor[0]) if cursor else None
        rows = await audit.audit_page(info.context.pool, first, before_id)
        pool = info.context.pool
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda row: AuditEntry(record=row),
            cursor=lambda row: encode_cursor("audit", row.id),
            count=lambda: audit.audit_count(pool),
        )


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Create an API key (ADMIN only).")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreatedApiKey:
        require(info, Permission.ADMINISTER)
        name = checked_text(input.name, "input.name", max_length=100).strip()
        if not name:
            raise BadUserInput("`input.name` must not be blank.", field="input.name")
        rate = input.rate_per_minute
        if rate is not None and not 1 <= rate <= 1_000_000:
            raise BadUserInput(
                "`input.ratePerMinute` must be 1 to 1000000.", field="input.ratePerMinute"
            )
        if input.expires_at is not None and input.expires_at.tzinfo is None:
            raise BadUserInput(
                "`input.expiresAt` needs a time zone offset.", field="input.expiresAt"
            )
        if input.expires_at is not None and input.expires_at <= datetime.now(UTC):
            raise BadUserInput(
                "`input.expiresAt` has passed: give a later time.", field="input.expiresAt"
            )
        record, key = await keys.create_key(
            info.context.pool,
            name=name,
            role=input.role.value,
            rate_per_minute=rate or info.context.default_key_rate,
            expires_at=input.expires_at,
        )
        return CreatedApiKey(key=key, api_key=ApiKey(record=record))

    @strawberry.mutation(description="Revoke an API key at once (ADMIN only); null if unknown.")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey | None:
        require(info, Permission.ADMINISTER)
        record = await keys.revoke_key(info.context.pool, pk_of(id, "ApiKey"))
        return ApiKey(record=record) if record else None

    @strawberry.mutation(
        description="A token that lets any caller read this one story or deep dive, whatever "
        "its status, until it expires (EDITOR and ADMIN)."
    )
    async def create_preview_token(
        self, info: Info, id: strawberry.ID, expires_in_minutes: int = 60
    ) -> PreviewToken:
        require(info, Permission.PREVIEW)
        if not 1 <= expires_in_minutes <= MAX_PREVIEW_MINUTES:
            raise BadUserInput(
                f"`expiresInMinutes` must be 1 to {MAX_PREVIEW_MINUTES}.", field="expiresInMinutes"
            )
        type_name, pk = from_global_id(id)
        pool = info.context.pool
        found: list[Any]
        if type_name == "Story":
            found = await db_stories.stories_by_ids(pool, [pk], Scope.PREVIEW)
        elif type_name == "DeepDive":
            found = await db_deep_dives.deep_dives_by_ids(pool, [pk], Scope.PREVIEW)
        else:
            raise BadUserInput("`id` must be a Story or DeepDive id.", field="id")
        if found[0] is None:
            raise BadUserInput(f"There is no {type_name} with this id.", field="id")
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
            minutes=expires_in_minutes
        )
        grant = PreviewGrant(type_name, pk, expires_at)
        return PreviewToken(
            token=sign_preview(info.context.preview_secret, grant), expires_at=expires_at
        )
