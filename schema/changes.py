"""The change feed: what readers can see changed, in order, for partners who sync."""

from __future__ import annotations

from datetime import datetime

import strawberry

from content.changes import Event
from db import changes as db_changes
from db.visibility import Scope
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.enums import ContentKind
from schema.relay import (
    Connection,
    Publishable,
    check_first,
    connection,
    decode_cursor,
    encode_cursor,
    feed_cursor,
    to_global_id,
)
from schema.stories import Story

_TYPE_NAMES = {"story": "Story", "deep_dive": "DeepDive"}


def item_global_id(kind: str, pk: int) -> strawberry.ID:
    """The global id of the story or deep dive a change is about."""
    return to_global_id(_TYPE_NAMES[kind], pk)


@strawberry.type(
    description="One change readers can see: an item was published, updated, unpublished, "
    "archived or taken down."
)
class ContentChange:
    # Plain values, not resolvers: a live stream writes each of them once per subscriber.
    record: strawberry.Private[db_changes.ChangeRecord]
    event: Event = strawberry.field(description="What happened.")
    at: datetime = strawberry.field(
        description="When it happened for readers (for a scheduled publish, its publish time)."
    )
    kind: ContentKind = strawberry.field(description="Whether the item is a story or a deep dive.")
    item_id: strawberry.ID = strawberry.field(
        description="The item's global id (also after it is gone: match it to your copy)."
    )
    slug: str = strawberry.field(description="The item's slug when the change happened.")
    reason: str | None = strawberry.field(
        description="Why the item was taken down; null for other events."
    )
    purge_keys: list[str] = strawberry.field(
        description="The Surrogate-Key / Cache-Tag values to purge from caches and CDNs: the "
        "item, the lists and topic pages it appears on, feeds and sitemaps."
    )

    @classmethod
    def of(cls, record: db_changes.ChangeRecord) -> ContentChange:
        return cls(
            record=record,
            event=Event(record.event),
            at=record.visible_at,
            kind=ContentKind(record.kind),
            item_id=item_global_id(record.kind, record.item_id),
            slug=record.slug,
            reason=record.reason,
            purge_keys=list(record.purge_keys),
        )

    @strawberry.field(
        description="The item as it is now, if you can see it now (null after a removal, or "
        "when a later change removed it)."
    )
    async def item(self, info: Info) -> Publishable | None:
        loaders = info.context.loaders
        if self.record.kind == "story":
            story = await loaders.story_by_id[Scope.PUBLIC].load(self.record.item_id)
            return Story(record=story) if story else None
        dive = await loaders.deep_dive_by_id[Scope.PUBLIC].load(self.record.item_id)
        return DeepDive(record=dive) if dive else None


def change_cursor(record: db_changes.ChangeRecord) -> str:
    return encode_cursor("change", record.visible_at, record.id)


@strawberry.type
class ChangesQuery:
    @strawberry.field(
        description="Every publish, update, unpublish, archive and takedown of a story or deep "
        "dive, oldest first, for incremental sync: store `pageInfo.endCursor` and pass it as "
        "`after` next time (on an empty page it is the `after` you sent). Only what readers "
        "can see is listed: a scheduled item appears at its publish time, drafts never."
    )
    async def changes(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[ContentChange]:
        check_first(first)
        position = feed_cursor(decode_cursor(after, "change", 2))
        pool = info.context.pool
        until = await db_changes.horizon(pool)
        rows = await db_changes.page(pool, until, position, first + 1)
        found = connection(
            rows,
            first,
            has_previous=after is not None,
            node=ContentChange.of,
            cursor=change_cursor,
            count=lambda: db_changes.count(pool, until),
        )
        if not found.edges:  # caught up: the caller keeps its place
            found.page_info.end_cursor = after
        return found
