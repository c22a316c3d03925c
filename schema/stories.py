from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from content.web_metadata import Page
from db.paging import PageKey
from db.sources import StorySource
from db.stories import Story as StoryRecord
from db.visibility import Scope
from schema.common import Image, Share, image, share
from schema.context import Info
from schema.coverage import StoryCoverage, story_coverage
from schema.enums import Blindspot, Sentiment, SentimentSource
from schema.recommendations import RecommendationReason, related
from schema.relay import (
    Connection,
    Publishable,
    check_first,
    connection,
    decode_cursor,
    encode_cursor,
    owned_feed,
)
from schema.sources import Source
from schema.web_metadata import WebPage, cited, section_name, story_sources, topic_names

if TYPE_CHECKING:
    from schema.deep_dives import DeepDive
    from schema.topics import Topic

TopicRef = Annotated["Topic", strawberry.lazy("schema.topics")]
DeepDiveRef = Annotated["DeepDive", strawberry.lazy("schema.deep_dives")]


@strawberry.type(
    description="How a story's sources lean. Counts are of the story's sources; percentages "
    "are over rated sources only, sum to exactly 100, and are null when no source is rated."
)
class BiasBreakdown:
    left: int = strawberry.field(description="Sources from LEFT or LEAN_LEFT outlets.")
    center: int = strawberry.field(description="Sources from CENTER outlets.")
    right: int = strawberry.field(description="Sources from RIGHT or LEAN_RIGHT outlets.")
    unrated: int = strawberry.field(description="Sources from outlets without a rating.")
    left_percent: int | None = strawberry.field(description="Share of rated sources, 0-100.")
    center_percent: int | None = strawberry.field(description="Share of rated sources, 0-100.")
    right_percent: int | None = strawberry.field(description="Share of rated sources, 0-100.")


@strawberry.type(description="A news story built from many sources.")
class Story(Publishable, WebPage):
    record: strawberry.Private[StoryRecord]
    recommended_because: strawberry.Private[RecommendationReason | None] = None

    @strawberry.field(description="URL-safe identifier, unique among stories.")
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Headline.")
    def title(self) -> str:
        return self.record.title

    @strawberry.field(description="A neutral summary of the story, plain text.")
    def summary(self) -> str:
        return self.record.summary

    @strawberry.field(description="Public URL of the story page.")
    def url(self, info: Info) -> str:
        return story_url(info, self.record.slug)

    @strawberry.field(description="The section the story belongs to (a CATEGORY topic).")
    async def category(self, info: Info) -> TopicRef | None:
        from schema.topics import topic_or_none

        return await topic_or_none(info, self.record.category_id, self.scope)

    @strawberry.field(description="Topics of the story, most relevant first.")
    async def topics(self, info: Info) -> list[TopicRef]:
        from schema.topics import topics_in_order

        ids = await info.context.loaders.topic_ids_by_story.load(self.record.id)
        return await topics_in_order(info, ids, self.scope)

    @strawberry.field(description="When the story was published (ISO-8601 with offset).")
    def published_at(self) -> datetime | None:
        return self.record.published_at

    @strawberry.field(description="When the story last changed.")
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field(description="Words in the story's visible text (title and summary).")
    def word_count(self) -> int:
        return self.record.word_count

    @strawberry.field(description="Minutes to read at 230 words a minute, at least 1.")
    def read_time_minutes(self) -> int:
        return self.record.read_time_minutes

    @strawberry.field(
        description="Overall tone of the news: the editor's rating, or when there is none, "
        "the classifier's (see sentimentSource)."
    )
    def sentiment(self) -> Sentiment:
        return Sentiment(self.record.sentiment or self.record.sentiment_inferred)

    @strawberry.field(description="Whether an editor set the sentiment or it was inferred.")
    def sentiment_source(self) -> SentimentSource:
        return SentimentSource.SET if self.record.sentiment else SentimentSource.INFERRED

    @strawberry.field(description="How many sources the story has.")
    def source_count(self) -> int:
        return self.record.source_count

    @strawberry.field(description="How the story's sources lean.")
    def bias(self) -> BiasBreakdown:
        r = self.record
        return BiasBreakdown(
            left=r.lefts,
            center=r.centers,
            right=r.rights,
            unrated=r.unrated,
            left_percent=r.left_percent,
            center_percent=r.center_percent,
            right_percent=r.right_percent,
        )

    @strawberry.field(
        description="Dominant side and sentiment, e.g. 'Center Negative'; the side is "
        "'Mixed' on a tie and 'Unrated' without rated sources."
    )
    def coverage_label(self) -> str:
        return self.record.coverage_label

    @strawberry.field(
        description="The side that barely covers this story: set when that side has no rated "
        "sources, the other has at least 3, and at least 80% of rated sources lean the other way."
    )
    def blindspot(self) -> Blindspot | None:
        return Blindspot(self.record.blindspot) if self.record.blindspot else None

    @strawberry.field(
        description="Who covers the story: sources by outlet factuality and country, the "
        "blindspot with the rule it used, and when the first and latest sources ran."
    )
    def coverage(self) -> StoryCoverage:
        return story_coverage(self.record)

    @strawberry.field(description="The story's lead image, if any.")
    def hero_image(self) -> Image | None:
        r = self.record
        return image(r.hero_image_url, r.hero_image_alt, r.hero_image_caption, r.hero_image_credit)

    @strawberry.field(description="The story's sources in editorial order.")
    async def sources(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[Source]:
        check_first(first)
        cursor = decode_cursor(after, "source", 1)
        position = int(cursor[0]) if cursor else None
        loaders = info.context.loaders
        rows = await loaders.source_page_by_story.load(PageKey(self.record.id, first, position))
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda row: Source(record=row.source),
            cursor=_source_cursor,
            count=lambda: _stored(self.record.source_count),
        )

    @strawberry.field(description="The deep dive analysing this story, if one is published.")
    async def deep_dive(self, info: Info) -> DeepDiveRef | None:
        from schema.deep_dives import DeepDive

        record = await info.context.loaders.deep_dive_by_story[self.scope].load(self.record.id)
        return DeepDive(record=record, scope=self.scope) if record else None

    @strawberry.field(
        description="Stories like this one (shared topics, similar text, same section, "
        "freshness; editor's pins first), mixed so that they do not all lean one way when "
        "similarly relevant alternatives exist; only ever published ones, also in a preview. "
        "Each says why in `reason`."
    )
    async def related_stories(self, info: Info, first: int = 5) -> list[Story]:
        return await related(info, self.record.id, first, deep_dives=False)

    @strawberry.field(
        description="Why this story was recommended; set on the items of relatedStories, "
        "moreLikeThis and forYou, null everywhere else."
    )
    def reason(self) -> RecommendationReason | None:
        return self.recommended_because

    @strawberry.field(description="What a share button needs for this story.")
    def share(self, info: Info) -> Share:
        return share(story_url(info, self.record.slug), self.record.title, self.record.summary)

    async def page(self, info: Info) -> Page:
        r = self.record
        topic_ids = await info.context.loaders.topic_ids_by_story.load(r.id)
        return Page(
            kind="NewsArticle",
            url=story_url(info, r.slug),
            headline=r.title,
            description=r.summary,
            image=r.hero_image_url,
            published=r.published_at,
            modified=r.updated_at,
            section=await section_name(info, r.category_id),
            keywords=await topic_names(info, topic_ids),
            word_count=self.word_count(),
            citations=await cited(info, await story_sources(info, r.id)),
        )


async def owned_stories(
    owner_id: int,
    first: int,
    after: str | None,
    pages: DataLoader[PageKey[Any], list[StoryRecord]],
    counts: DataLoader[int, int],
    scope: Scope,
) -> Connection[Story]:
    """A page of the stories a topic or an outlet lists, from its scoped loaders."""
    return await owned_feed(
        owner_id,
        first,
        after,
        pages=pages,
        counts=counts,
        node=lambda record: Story(record=record, scope=scope),
    )


def story_url(info: Info, slug: str) -> str:
    return f"{info.context.public_url}/stories/{slug}"


def _source_cursor(row: StorySource) -> str:
    return encode_cursor("source", row.position)


async def _stored(value: int) -> int:
    return value
