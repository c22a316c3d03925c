from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from content.access import may_read_full_text
from content.web_metadata import Page
from db import deep_dives as db_deep_dives
from db import sources as db_sources
from db import stories as db_stories
from db import topics as db_topics
from db.deep_dives import DeepDive as DeepDiveRecord
from db.deep_dives import Section as SectionRecord
from db.visibility import Scope
from schema.common import Image, Share, image, image_of, lead_image, share, share_of
from schema.compiled import JsonKey, JsonList, Many, One, PageUrl, column, compiles
from schema.context import Info
from schema.enums import BodyFormat
from schema.errors import Forbidden
from schema.recommendations import Recommended, related
from schema.relay import Publishable
from schema.sources import Source
from schema.stories import Story, story_url
from schema.topics import Topic, topic_or_none, topics_in_order
from schema.web_metadata import WebPage, cited, section_name, topic_names

if TYPE_CHECKING:
    from schema.planner import Place


DEEP_DIVE_PATH = "/deep-dives/"
BODY_COLUMNS = {
    BodyFormat.HTML: "body_html",
    BodyFormat.MARKDOWN: "body",
    BodyFormat.TEXT: "body_text",
}
"""The stored column of each body format (db.deep_dives.Section)."""


@dataclass(frozen=True)
class Body:
    """The compiled Section.body(format:): the column of the format asked for (an enum, so
    its value is part of the plan's key)."""

    def compile(self, at: Place) -> str:
        chosen = at.prepare(lambda kwargs, caller: kwargs["format"])
        return at.scalar(f"{at.alias}.{BODY_COLUMNS[chosen]}")


def _full_text_guard(at: Place) -> str | None:
    """Where the caller may not read every deep dive's full text, only the syndicatable."""
    return None if may_read_full_text(at.caller.viewer, False) else f"{at.alias}.syndicatable"


@strawberry.type(description="An entry of a deep dive's table of contents.")
class TocEntry:
    anchor: str = strawberry.field(
        description="Fragment id of the heading in the HTML body.",
        metadata=compiles(JsonKey("anchor")),
    )
    title: str = strawberry.field(
        description="The heading's text.", metadata=compiles(JsonKey("title"))
    )
    level: int = strawberry.field(
        description="2 for sections, 3 and deeper for sub-headings.",
        metadata=compiles(JsonKey("level")),
    )


@strawberry.type(description="A section of a deep dive: a heading and a Markdown body.")
class Section:
    record: strawberry.Private[SectionRecord]

    @strawberry.field(
        description="Fragment id, stable and unique within the deep dive.",
        metadata=column("anchor"),
    )
    def anchor(self) -> str:
        return self.record.anchor

    @strawberry.field(description="The section's heading, plain text.", metadata=column("heading"))
    def heading(self) -> str:
        return self.record.heading

    @strawberry.field(
        description="The body as sanitised HTML (default), the Markdown as written, or text.",
        metadata=compiles(Body()),
    )
    def body(self, format: BodyFormat = BodyFormat.HTML) -> str:
        text: str = getattr(self.record, BODY_COLUMNS[format])
        return text


@strawberry.type(description="A source a deep dive rests on, and what it supports.")
class Citation:
    number: int = strawberry.field(
        description="1-based footnote number, in reading order.", metadata=column("position")
    )
    note: str = strawberry.field(
        description="What the source supports in the deep dive.", metadata=column("note")
    )
    source_id: strawberry.Private[int]
    scope: strawberry.Private[Scope]

    @strawberry.field(
        description="The cited source; always one of the story's own sources.",
        metadata=compiles(
            One(lambda at: db_sources.source_rows_by("id", f"{at.alias}.source_id", at.scope))
        ),
    )
    async def source(self, info: Info) -> Source:
        record = await info.context.loaders.source_by_id[self.scope].load(self.source_id)
        assert record is not None, "citations reference story_sources"
        return Source(record=record)


@strawberry.type(description="Long-form analysis of a story, with citations to its sources.")
class DeepDive(Publishable, WebPage):
    record: strawberry.Private[DeepDiveRecord]

    @strawberry.field(
        description="URL-safe identifier, unique among deep dives.", metadata=column("slug")
    )
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Headline of the deep dive.", metadata=column("title"))
    def title(self) -> str:
        return self.record.title

    @strawberry.field(
        description="The standfirst: one or two sentences under the title.", metadata=column("dek")
    )
    def dek(self) -> str:
        return self.record.dek

    @strawberry.field(
        description="Public URL of the deep-dive page.", metadata=compiles(PageUrl(DEEP_DIVE_PATH))
    )
    def url(self, info: Info) -> str:
        return deep_dive_url(info, self.record.slug)

    @strawberry.field(
        description="The section of the story it analyses.",
        metadata=compiles(One(lambda at: db_topics.category_of_story_rows(f"{at.alias}.story_id"))),
    )
    async def category(self, info: Info) -> Topic | None:
        story = await self._story(info)
        return await topic_or_none(info, story.record.category_id, self.scope)

    @strawberry.field(
        description="Topics of the story it analyses.",
        metadata=compiles(Many(lambda at: db_topics.story_topic_rows(f"{at.alias}.story_id"))),
    )
    async def topics(self, info: Info) -> list[Topic]:
        ids = await info.context.loaders.topic_ids_by_story.load(self.record.story_id)
        return await topics_in_order(info, ids, self.scope)

    @strawberry.field(
        description="When the deep dive was published (ISO-8601 with offset).",
        metadata=column("published_at"),
    )
    def published_at(self) -> datetime | None:
        return self.record.published_at

    @strawberry.field(description="When the deep dive last changed.", metadata=column("updated_at"))
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field(
        description="Words in the title, dek, headings and section bodies.",
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
        description="Section headings and the sub-headings inside them, in order.",
        metadata=compiles(JsonList("table_of_contents", {})),
    )
    def table_of_contents(self) -> list[TocEntry]:
        return [TocEntry(**entry) for entry in self.record.table_of_contents]

    @strawberry.field(
        description="The body, section by section. FORBIDDEN for PARTNER keys when the deep "
        "dive is not syndicatable.",
        metadata=compiles(
            Many(
                lambda at: db_deep_dives.section_rows(f"= {at.alias}.id"),
                guard=_full_text_guard,
            )
        ),
    )
    async def sections(self, info: Info) -> list[Section]:
        if not may_read_full_text(info.context.viewer, self.record.syndicatable):
            raise Forbidden(
                "This deep dive is not licensed for syndication: partner keys get its title "
                "and dek, not its full text.",
                reason="NOT_SYNDICATABLE",
            )
        found = await info.context.loaders.sections_by_deep_dive.load(self.record.id)
        return [Section(record=section) for section in found]

    @strawberry.field(
        description="The people, organisations and programs the analysis is about.",
        metadata=compiles(Many(lambda at: db_topics.key_actor_rows(f"{at.alias}.id"))),
    )
    async def key_actors(self, info: Info) -> list[Topic]:
        ids = await info.context.loaders.key_actor_ids_by_deep_dive.load(self.record.id)
        return await topics_in_order(info, ids, self.scope)

    @strawberry.field(
        description="The sources the analysis rests on, in reading order.",
        metadata=compiles(Many(lambda at: db_deep_dives.citation_rows(f"= {at.alias}.id"))),
    )
    async def citations(self, info: Info) -> list[Citation]:
        found = await info.context.loaders.citations_by_deep_dive.load(self.record.id)
        return [
            Citation(number=c.position, note=c.note, source_id=c.source_id, scope=self.scope)
            for c in found
        ]

    @strawberry.field(
        description="What a share button needs for this deep dive.",
        metadata=compiles(share_of(DEEP_DIVE_PATH)),
    )
    def share(self, info: Info) -> Share:
        return share(
            deep_dive_url(info, self.record.slug), self.record.title, self.record.share_text
        )

    @strawberry.field(
        description="The story this deep dive analyses.",
        metadata=compiles(
            One(lambda at: db_stories.story_rows_by("id", f"{at.alias}.story_id", at.scope))
        ),
    )
    async def story(self, info: Info) -> Story:
        return await self._story(info)

    @strawberry.field(
        description="The deep dive's own lead image, if it has one (pages then show its "
        "story's heroImage).",
        metadata=compiles(image_of("hero_image_")),
    )
    def hero_image(self) -> Image | None:
        r = self.record
        return image(r.hero_image_url, r.hero_image_alt, r.hero_image_caption, r.hero_image_credit)

    @strawberry.field(
        description="'More Deep Dives You May Like': related stories that have a deep dive "
        "(open it through `Story.deepDive`), best first; never this deep dive's own story, "
        "and only ever published ones, also in a preview.",
        metadata=compiles(Recommended(require_deep_dive=True, story="story_id")),
    )
    async def more_like_this(self, info: Info, first: int = 3) -> list[Story]:
        return await related(info, self.record.story_id, first, deep_dives=True)

    async def page(self, info: Info) -> Page:
        r, story = self.record, (await self._story(info)).record
        loaders = info.context.loaders
        topic_ids = await loaders.topic_ids_by_story.load(r.story_id)
        citations = await loaders.citations_by_deep_dive.load(r.id)
        sources = await loaders.source_by_id[self.scope].load_many([c.source_id for c in citations])
        return Page(
            kind="AnalysisNewsArticle",
            url=deep_dive_url(info, r.slug),
            headline=r.title,
            description=r.dek,
            image=(r if r.hero_image_url else story).hero_image_url,
            image_alt=(r if r.hero_image_url else story).hero_image_alt,
            **await lead_image(info, r.hero_image_url or story.hero_image_url),
            published=r.published_at,
            modified=r.updated_at,
            section=await section_name(info, story.category_id),
            keywords=await topic_names(info, topic_ids),
            word_count=r.word_count,
            citations=await cited(info, [s for s in sources if s is not None]),
            about=story_url(info, story.slug),
        )

    async def _story(self, info: Info) -> Story:
        record = await info.context.loaders.story_by_id[self.scope].load(self.record.story_id)
        # Visible deep dives belong to visible stories; the loaders enforce both.
        assert record is not None, "a visible deep dive's story is visible"
        return Story(record=record, scope=self.scope)


def deep_dive_url(info: Info, slug: str) -> str:
    return f"{info.context.public_url}{DEEP_DIVE_PATH}{slug}"
