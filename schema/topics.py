from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from db import deep_dives as db_deep_dives
from db.paging import feed_cursor_sql
from db.topics import Topic as TopicRecord
from db.visibility import Scope
from schema.compiled import Page, column, compiles
from schema.context import Info
from schema.enums import TopicKind
from schema.relay import Connection, Node, feed_page, owned_feed, owned_stories_page

if TYPE_CHECKING:
    from schema.deep_dives import DeepDive
    from schema.stories import Story

StoryRef = Annotated["Story", strawberry.lazy("schema.stories")]
DeepDiveRef = Annotated["DeepDive", strawberry.lazy("schema.deep_dives")]


_DEEP_DIVES = Page(
    prepare=lambda kwargs, caller: feed_page(kwargs["first"], kwargs["after"]),
    window=lambda alias, scope, page, slots: db_deep_dives.topic_page(
        f"{alias}.id", scope, slots, limit=page.first + 1, after=page.after
    ),
    cursor=feed_cursor_sql,
    count=lambda alias, scope, page, slots: db_deep_dives.topic_deep_dive_count(
        f"{alias}.id", scope
    ),
)


@strawberry.type(
    description="A subject stories are filed under: a section (CATEGORY), a country, an "
    "organization, a person, a program such as PURL."
)
class Topic(Node):
    record: strawberry.Private[TopicRecord]

    @strawberry.field(
        description="URL-safe identifier, unique among topics.", metadata=column("slug")
    )
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Display name, e.g. 'NATO'.", metadata=column("name"))
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="What kind of subject this is.", metadata=column("kind"))
    def kind(self) -> TopicKind:
        return TopicKind(self.record.kind)

    @strawberry.field(
        description="One or two sentences that say what the topic is.",
        metadata=column("description"),
    )
    def description(self) -> str | None:
        return self.record.description

    @strawberry.field(
        description="Published stories on this topic, newest first.",
        metadata=compiles(owned_stories_page("topic")),
    )
    async def stories(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[StoryRef]:
        from schema.stories import owned_stories

        loaders = info.context.loaders
        return await owned_stories(
            self.record.id,
            first,
            after,
            loaders.story_page_by_topic[self.scope],
            loaders.story_count_by_topic[self.scope],
            self.scope,
        )

    @strawberry.field(
        description="Published deep dives about this topic (as a key actor or a topic of their "
        "story), newest first.",
        metadata=compiles(_DEEP_DIVES),
    )
    async def deep_dives(
        self, info: Info, first: int = 5, after: str | None = None
    ) -> Connection[DeepDiveRef]:
        from schema.deep_dives import DeepDive

        loaders = info.context.loaders
        return await owned_feed(
            self.record.id,
            first,
            after,
            pages=loaders.deep_dive_page_by_topic[self.scope],
            counts=loaders.deep_dive_count_by_topic[self.scope],
            node=lambda record: DeepDive(record=record, scope=self.scope),
        )


async def topic_or_none(
    info: Info, topic_id: int | None, scope: Scope = Scope.PUBLIC
) -> Topic | None:
    if topic_id is None:
        return None
    record = await info.context.loaders.topic_by_id.load(topic_id)
    return Topic(record=record, scope=scope) if record else None


async def topics_in_order(
    info: Info, topic_ids: list[int], scope: Scope = Scope.PUBLIC
) -> list[Topic]:
    records = await info.context.loaders.topic_by_id.load_many(topic_ids)
    return [Topic(record=record, scope=scope) for record in records if record is not None]
