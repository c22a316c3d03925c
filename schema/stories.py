from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader

from content.figures import BLINDSPOT_MIN_SHARE, BLINDSPOT_MIN_SOURCES
from content.web_metadata import Page
from db import deep_dives as db_deep_dives
from db import sources as db_sources
from db import stories as db_stories
from db import topics as db_topics
from db.paging import PageKey
from db.sources import StorySource
from db.stories import Story as StoryRecord
from db.visibility import Scope
from schema.common import Image, Share, image, image_of, lead_image, share, share_of
from schema.compiled import (
    Column,
    Const,
    Embedded,
    Expression,
    JsonKey,
    JsonList,
    Many,
    One,
    PageUrl,
    column,
    compiles,
)
from schema.compiled import Page as CompiledPage
from schema.context import Info
from schema.coverage import StoryCoverage, story_coverage
from schema.enums import Blindspot, Sentiment, SentimentSource
from schema.recommendations import RecommendationReason, Recommended, related
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
    left: int = strawberry.field(
        description="Sources from LEFT or LEAN_LEFT outlets.", metadata=column("lefts")
    )
    center: int = strawberry.field(
        description="Sources from CENTER outlets.", metadata=column("centers")
    )
    right: int = strawberry.field(
        description="Sources from RIGHT or LEAN_RIGHT outlets.", metadata=column("rights")
    )
    unrated: int = strawberry.field(
        description="Sources from outlets without a rating.", metadata=column("unrated")
    )
    left_percent: int | None = strawberry.field(
        description="Share of rated sources, 0-100.", metadata=column("left_percent")
    )
    center_percent: int | None = strawberry.field(
        description="Share of rated sources, 0-100.", metadata=column("center_percent")
    )
    right_percent: int | None = strawberry.field(
        description="Share of rated sources, 0-100.", metadata=column("right_percent")
    )


STORY_PATH = "/stories/"
COVERAGE = Embedded(
    {
        "factuality": JsonList(
            "factuality_shares",
            {"rating": JsonKey("value"), "count": JsonKey("count"), "percent": JsonKey("percent")},
        ),
        "countries": JsonList(
            "country_shares",
            {"country": JsonKey("value"), "count": JsonKey("count"), "percent": JsonKey("percent")},
        ),
        "blindspot": Column("blindspot"),
        "blindspot_rule": Embedded(
            {
                "minimum_sources": Const(BLINDSPOT_MIN_SOURCES),
                "minimum_percent": Const(BLINDSPOT_MIN_SHARE),
            }
        ),
        "earliest_source_at": Column("earliest_source_at"),
        "latest_source_at": Column("latest_source_at"),
    }
)


@dataclass(frozen=True)
class SourcePage:
    """Story.sources' arguments, checked: page size and the position it starts after."""

    first: int
    after: int | None


def source_page(first: int, after: str | None) -> SourcePage:
    check_first(first)
    cursor = decode_cursor(after, "source", 1)
    return SourcePage(first, int(cursor[0]) if cursor else None)


_SOURCES = CompiledPage(
    prepare=lambda kwargs, caller: source_page(kwargs["first"], kwargs["after"]),
    window=lambda alias, scope, page, slots: db_sources.story_source_window(
        f"{alias}.id", slots.add(page.after or 0, "int"), slots.add(page.first + 1, "int")
    ),
    cursor=db_sources.source_cursor,
    count=lambda alias, scope, page, slots: f"{alias}.source_count",
    scope=lambda page, scope: Scope.PUBLIC,
)


@strawberry.type(description="A news story built from many sources.")
class Story(Publishable, WebPage):
    record: strawberry.Private[StoryRecord]
    recommended_because: strawberry.Private[RecommendationReason | None] = None

    @strawberry.field(
        description="URL-safe identifier, unique among stories.", metadata=column("slug")
    )
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Headline.", metadata=column("title"))
    def title(self) -> str:
        return self.record.title

    @strawberry.field(
        description="A neutral summary of the story, plain text.", metadata=column("summary")
    )
    def summary(self) -> str:
        return self.record.summary

    @strawberry.field(
        description="Public URL of the story page.", metadata=compiles(PageUrl(STORY_PATH))
    )
    def url(self, info: Info) -> str:
        return story_url(info, self.record.slug)

    @strawberry.field(
        description="The section the story belongs to (a CATEGORY topic).",
        metadata=compiles(One(lambda at: db_topics.topic_rows_by("id", f"{at.alias}.category_id"))),
    )
    async def category(self, info: Info) -> TopicRef | None:
        from schema.topics import topic_or_none

        return await topic_or_none(info, self.record.category_id, self.scope)

    @strawberry.field(
        description="Topics of the story, most relevant first.",
        metadata=compiles(Many(lambda at: db_topics.story_topic_rows(f"{at.alias}.id"))),
    )
    async def topics(self, info: Info) -> list[TopicRef]:
        from schema.topics import topics_in_order

        ids = await info.context.loaders.topic_ids_by_story.load(self.record.id)
        return await topics_in_order(info, ids, self.scope)

    @strawberry.field(
        description="When the story was published (ISO-8601 with offset).",
        metadata=column("published_at"),
    )
    def published_at(self) -> datetime | None:
        return self.record.published_at

    @strawberry.field(description="When the story last changed.", metadata=column("updated_at"))
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field(
        description="Words in the story's visible text (title and summary).",
        metadata=column("word_count"),
    )
    def word_count(self) -> int:
        return self.record.word_count

    @strawberry.field(
        description="Minutes to read at 230 words a minute, at least 1.",
        metadata=column("read_time_minutes"),
    )
    def read_time_minutes(self) -> int:
        return self.record.read_time_minutes

    @strawberry.field(
        description="Overall tone of the news: the editor's rating, or when there is none, "
        "the classifier's (see sentimentSource).",
        metadata=compiles(Expression(db_stories.effective_sentiment)),
    )
    def sentiment(self) -> Sentiment:
        return Sentiment(self.record.sentiment or self.record.sentiment_inferred)

    @strawberry.field(
        description="Whether an editor set the sentiment or it was inferred.",
        metadata=compiles(Expression(db_stories.sentiment_source)),
    )
    def sentiment_source(self) -> SentimentSource:
        return SentimentSource.SET if self.record.sentiment else SentimentSource.INFERRED

    @strawberry.field(
        description="How many sources the story has.", metadata=column("source_count")
    )
    def source_count(self) -> int:
        return self.record.source_count

    @strawberry.field(description="How the story's sources lean.", metadata=compiles(Embedded({})))
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
        "'Mixed' on a tie and 'Unrated' without rated sources.",
        metadata=column("coverage_label"),
    )
    def coverage_label(self) -> str:
        return self.record.coverage_label

    @strawberry.field(
        description="The side that barely covers this story: set when that side has no rated "
        "sources, the other has at least 3, and at least 80% of rated sources lean the other way.",
        metadata=column("blindspot"),
    )
    def blindspot(self) -> Blindspot | None:
        return Blindspot(self.record.blindspot) if self.record.blindspot else None

    @strawberry.field(
        description="Who covers the story: sources by outlet factuality and country, the "
        "blindspot with the rule it used, and when the first and latest sources ran.",
        metadata=compiles(COVERAGE),
    )
    def coverage(self) -> StoryCoverage:
        return story_coverage(self.record)

    @strawberry.field(
        description="The story's lead image, if any.", metadata=compiles(image_of("hero_image_"))
    )
    def hero_image(self) -> Image | None:
        r = self.record
        return image(r.hero_image_url, r.hero_image_alt, r.hero_image_caption, r.hero_image_credit)

    @strawberry.field(
        description="The story's sources in editorial order.", metadata=compiles(_SOURCES)
    )
    async def sources(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[Source]:
        page = source_page(first, after)
        loaders = info.context.loaders
        rows = await loaders.source_page_by_story.load(PageKey(self.record.id, first, page.after))
        return connection(
            rows,
            first,
            has_previous=after is not None,
            node=lambda row: Source(record=row.source),
            cursor=_source_cursor,
            count=lambda: _stored(self.record.source_count),
        )

    @strawberry.field(
        description="The deep dive analysing this story, if one is published.",
        metadata=compiles(
            One(lambda at: db_deep_dives.deep_dive_rows_by("story_id", f"{at.alias}.id", at.scope))
        ),
    )
    async def deep_dive(self, info: Info) -> DeepDiveRef | None:
        from schema.deep_dives import DeepDive

        record = await info.context.loaders.deep_dive_by_story[self.scope].load(self.record.id)
        return DeepDive(record=record, scope=self.scope) if record else None

    @strawberry.field(
        description="Stories like this one (shared topics, similar text, same section, "
        "freshness; editor's pins first), mixed so that they do not all lean one way when "
        "similarly relevant alternatives exist; only ever published ones, also in a preview. "
        "Each says why in `reason`.",
        metadata=compiles(Recommended(require_deep_dive=False, story="id")),
    )
    async def related_stories(self, info: Info, first: int = 5) -> list[Story]:
        return await related(info, self.record.id, first, deep_dives=False)

    @strawberry.field(
        description="Why this story was recommended; set on the items of relatedStories, "
        "moreLikeThis and forYou, null everywhere else.",
        metadata=compiles(Const(None)),
    )
    def reason(self) -> RecommendationReason | None:
        return self.recommended_because

    @strawberry.field(
        description="What a share button needs for this story.",
        metadata=compiles(share_of(STORY_PATH)),
    )
    def share(self, info: Info) -> Share:
        return share(story_url(info, self.record.slug), self.record.title, self.record.share_text)

    async def page(self, info: Info) -> Page:
        r = self.record
        topic_ids = await info.context.loaders.topic_ids_by_story.load(r.id)
        return Page(
            kind="NewsArticle",
            url=story_url(info, r.slug),
            headline=r.title,
            description=r.summary,
            image=r.hero_image_url,
            image_alt=r.hero_image_alt,
            **await lead_image(info, r.hero_image_url),
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
    return f"{info.context.public_url}{STORY_PATH}{slug}"


def _source_cursor(row: StorySource) -> str:
    return encode_cursor("source", row.position)


async def _stored(value: int) -> int:
    return value
