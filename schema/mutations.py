"""Editorial mutations (EDITOR and ADMIN): every one is a single transaction that returns the
changed object and typed user errors; invalid input or a stale version writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import UNSET

from content.access import Permission
from content.documents import Invalid, Problem, parse
from db import deep_dives as db_deep_dives
from db import editorial
from db import outlets as db_outlets
from db import sources as db_sources
from db import stories as db_stories
from db import topics as db_topics
from db.visibility import Scope
from schema.access import actor, require
from schema.context import Info
from schema.deep_dives import DeepDive
from schema.enums import Bias, Factuality, Sentiment, TopicKind
from schema.errors import BadUserInput
from schema.inputs import checked_text
from schema.outlets import Outlet
from schema.relay import pk_of
from schema.sources import Source
from schema.stories import Story
from schema.topics import Topic


@strawberry.enum(description="Why an input was refused.")
class UserErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    DUPLICATE = "DUPLICATE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    NOT_A_STORY_SOURCE = "NOT_A_STORY_SOURCE"
    CITED_SOURCE = "CITED_SOURCE"
    TAKEN = "TAKEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


@strawberry.type(description="What is wrong with one field of a mutation's input.")
class UserError:
    field: list[str] = strawberry.field(
        description='Path to the argument or input field, e.g. ["input", "heroImage", '
        '"url"] or ["sources", "2"].'
    )
    code: UserErrorCode
    message: str
    current_version: int | None = strawberry.field(
        default=None, description="With CONFLICT: the version now stored; re-read, then retry."
    )


def _camel(name: str | int) -> str:
    text = str(name)
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), text)


def _user_errors(problems: list[Problem], prefix: tuple[str, ...], rename: dict[str, str]) -> list:
    errors = []
    for problem in problems:
        head, *rest = problem.path or ("input",)
        path = [rename.get(str(head), _camel(head)), *(_camel(p) for p in rest)]
        if path[0] not in ("id", "version") and path[0] not in rename.values():
            path = [*prefix, *path]
        errors.append(
            UserError(field=path, code=UserErrorCode(problem.code), message=problem.message)
        )
    return errors


@strawberry.type(description="The result of a story mutation.")
class StoryPayload:
    story: Story | None = strawberry.field(
        description="The story as stored after the mutation (also on CONFLICT: the current one)."
    )
    user_errors: list[UserError]


@strawberry.type(description="The result of a deep dive mutation.")
class DeepDivePayload:
    deep_dive: DeepDive | None = strawberry.field(
        description="The deep dive as stored after the mutation (on CONFLICT: the current one)."
    )
    user_errors: list[UserError]


@strawberry.type(description="The result of upsertOutlet.")
class OutletPayload:
    outlet: Outlet | None
    user_errors: list[UserError]


@strawberry.type(description="The result of upsertSource.")
class SourcePayload:
    source: Source | None
    user_errors: list[UserError]


@strawberry.type(description="The result of upsertTopic.")
class TopicPayload:
    topic: Topic | None
    user_errors: list[UserError]


@strawberry.input(description="An image: an absolute http(s) URL and how to describe it.")
class ImageInput:
    url: str
    alt: str | None = None
    caption: str | None = None
    credit: str | None = None


@strawberry.input(description="A new story; it starts as a DRAFT.")
class CreateStoryInput:
    slug: str = strawberry.field(description="Lower-case words joined by hyphens; unique.")
    title: str
    summary: str = ""
    category: str | None = strawberry.field(default=None, description="A CATEGORY topic slug.")
    topics: list[str] = strawberry.field(default_factory=list, description="Topic slugs.")
    sources: list[str] = strawberry.field(
        default_factory=list, description="Source URLs (canonicalised), in editorial order."
    )
    sentiment: Sentiment | None = strawberry.field(
        default=None,
        description="The editor's reading of the news; leave it out to have it inferred from "
        "the title and summary (Story.sentimentSource says which).",
    )
    hero_image: ImageInput | None = None
    syndicatable: bool = strawberry.field(
        default=True, description="false: kept out of feeds, no full text for partners."
    )


@strawberry.input(description="Changes to a story; fields left out stay as they are.")
class UpdateStoryInput:
    slug: str | None = UNSET
    title: str | None = UNSET
    summary: str | None = UNSET
    category: str | None = strawberry.field(default=UNSET, description="null clears it.")
    sentiment: Sentiment | None = strawberry.field(
        default=UNSET, description="null clears it: the sentiment is then inferred."
    )
    hero_image: ImageInput | None = strawberry.field(default=UNSET, description="null clears it.")
    syndicatable: bool | None = strawberry.field(
        default=UNSET, description="false: kept out of feeds, no full text for partners."
    )


@strawberry.input(description="A section of a deep dive.")
class SectionInput:
    heading: str
    body: str = strawberry.field(description="Markdown; stored as written, sanitised on output.")


@strawberry.input(description="A citation: one of the story's sources (by URL) and a note.")
class CitationInput:
    source: str
    note: str = ""


@strawberry.input(description="A new deep dive of an existing story; it starts as a DRAFT.")
class CreateDeepDiveInput:
    story: str = strawberry.field(description="Slug of the story it analyses.")
    slug: str
    title: str
    dek: str = ""
    sections: list[SectionInput] = strawberry.field(default_factory=list)
    key_actors: list[str] = strawberry.field(default_factory=list, description="Topic slugs.")
    citations: list[CitationInput] = strawberry.field(default_factory=list)
    syndicatable: bool = strawberry.field(
        default=True, description="false: kept out of feeds, no full text for partners."
    )
    hero_image: ImageInput | None = strawberry.field(
        default=None, description="Its own lead image; without one, pages show the story's."
    )


@strawberry.input(description="Changes to a deep dive; fields left out stay as they are.")
class UpdateDeepDiveInput:
    slug: str | None = UNSET
    title: str | None = UNSET
    dek: str | None = UNSET
    sections: list[SectionInput] | None = strawberry.field(
        default=UNSET, description="Replaces all sections."
    )
    key_actors: list[str] | None = strawberry.field(
        default=UNSET, description="Replaces all key actors."
    )
    citations: list[CitationInput] | None = strawberry.field(
        default=UNSET, description="Replaces all citations."
    )
    syndicatable: bool | None = strawberry.field(
        default=UNSET, description="false: kept out of feeds, no full text for partners."
    )
    hero_image: ImageInput | None = strawberry.field(default=UNSET, description="null clears it.")


@strawberry.input(description="An outlet, created or replaced by slug.")
class OutletInput:
    slug: str
    name: str
    domain: str = strawberry.field(description="Host name, e.g. example.com; unique.")
    country: str | None = strawberry.field(default=None, description="ISO 3166 alpha-2.")
    bias: Bias | None = None
    factuality: Factuality | None = None
    owner: str | None = None


@strawberry.input(description="A source article, created or replaced by its canonical URL.")
class SourceInput:
    url: str = strawberry.field(
        description="Canonicalised: lower-case host, no fragment, no utm_*/fbclid/gclid."
    )
    outlet: str = strawberry.field(description="The outlet's slug.")
    title: str
    author: str | None = None
    published_at: datetime | None = None
    language: str = "en"
    excerpt: str | None = None
    image_url: str | None = None
    image_alt: str | None = None
    image_caption: str | None = None
    image_credit: str | None = None


@strawberry.input(description="A topic, created or replaced by slug.")
class TopicInput:
    slug: str
    name: str
    kind: TopicKind
    description: str | None = None


def _plain(value: Any) -> Any:
    """Strawberry input values as document values: enums by name, inputs as dicts."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__strawberry_definition__"):
        return {
            k: _plain(v) for k, v in vars(value).items() if v is not UNSET and not k.startswith("_")
        }
    return value


def _fields(value: Any, rename: dict[str, str] | None = None) -> dict[str, Any]:
    rename = rename or {}
    return {
        rename.get(name, name): _plain(v)
        for name, v in vars(value).items()
        if v is not UNSET and not name.startswith("_")
    }


def _image(fields: dict[str, Any]) -> dict[str, Any]:
    if "hero_image" in fields and fields["hero_image"] is not None:
        fields["hero_image"] = {
            k: fields["hero_image"].get(k) for k in ("url", "alt", "caption", "credit")
        }
    return fields


Change = Callable[[dict[str, Any] | None], dict[str, Any]]


async def _write(
    info: Info,
    kind: str,
    change: Change,
    action: str,
    *,
    item_id: int | None = None,
    version: int | None = None,
    create_only: bool = False,
    takedown: str | None = None,
    prefix: tuple[str, ...] = ("input",),
    rename: dict[str, str] | None = None,
) -> tuple[int | None, list[UserError]]:
    """Run one editorial write; the id of the item to return and the user errors."""
    require(info, Permission.EDIT)
    if version is not None and version < 1:
        raise BadUserInput("`version` must be at least 1.", field="version")
    try:
        saved = await editorial.apply(
            info.context.pool,
            kind,
            lambda current: parse(kind, change(current)),
            actor=actor(info),
            action=action,
            item_id=item_id,
            expected_version=version,
            create_only=create_only,
            takedown=takedown,
        )
    except Invalid as invalid:
        return item_id, _user_errors(invalid.problems, prefix, rename or {})
    except editorial.Conflict as conflict:
        error = UserError(
            field=["version"],
            code=UserErrorCode.CONFLICT,
            message=f"The {kind.replace('_', ' ')} {conflict}; nothing was changed.",
            current_version=conflict.stored.version,
        )
        return conflict.stored.id, [error]
    return saved.id, []


async def _story_payload(info: Info, result: tuple[int | None, list[UserError]]) -> StoryPayload:
    story_id, errors = result
    record = None
    if story_id is not None:
        [record] = await db_stories.stories_by_ids(info.context.pool, [story_id], Scope.PREVIEW)
    story = Story(record=record, scope=Scope.PREVIEW) if record else None
    return StoryPayload(story=story, user_errors=errors)


async def _deep_dive_payload(
    info: Info, result: tuple[int | None, list[UserError]]
) -> DeepDivePayload:
    dive_id, errors = result
    record = None
    if dive_id is not None:
        [record] = await db_deep_dives.deep_dives_by_ids(
            info.context.pool, [dive_id], Scope.PREVIEW
        )
    dive = DeepDive(record=record, scope=Scope.PREVIEW) if record else None
    return DeepDivePayload(deep_dive=dive, user_errors=errors)


def _merge(fields: dict[str, Any]) -> Change:
    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current is not None
        return {**current, **fields}

    return change


def _publishing(at: datetime | None) -> Change:
    if at is not None and at.tzinfo is None:
        raise BadUserInput("`at` needs a time zone offset, e.g. 2026-03-01T09:00:00Z.", field="at")
    when = at or datetime.now(UTC)
    return _merge({"status": "PUBLISHED", "published_at": when})


_UNPUBLISH = _merge({"status": "DRAFT", "published_at": None})
_ARCHIVE = _merge({"status": "ARCHIVED"})
_MAX_REASON = 500


def _takedown_reason(info: Info, reason: str) -> dict[str, Any]:
    """A takedown is an admin's call (legal requests), and partners are told why."""
    require(info, Permission.ADMINISTER)
    reason = checked_text(reason, "reason", max_length=_MAX_REASON).strip()
    if not reason:
        raise BadUserInput("`reason` must not be blank; partners read it.", field="reason")
    return {"action": "takedown", "takedown": reason}


async def _change_story(
    info: Info, id: str, version: int, change: Change, action: str, **options: Any
) -> StoryPayload:
    """Change the story with this global id, given the version the caller read."""
    result = await _write(
        info, "story", change, action, item_id=pk_of(id, "Story"), version=version, **options
    )
    return await _story_payload(info, result)


async def _change_deep_dive(
    info: Info, id: str, version: int, change: Change, action: str, **options: Any
) -> DeepDivePayload:
    """Change the deep dive with this global id, given the version the caller read."""
    result = await _write(
        info, "deep_dive", change, action, item_id=pk_of(id, "DeepDive"), version=version, **options
    )
    return await _deep_dive_payload(info, result)


@strawberry.type
class EditorialMutation:
    @strawberry.mutation(description="Create a story as a DRAFT.")
    async def create_story(self, info: Info, input: CreateStoryInput) -> StoryPayload:
        fields = _image(_fields(input)) | {"status": "DRAFT", "published_at": None}
        result = await _write(info, "story", lambda _: fields, "create", create_only=True)
        return await _story_payload(info, result)

    @strawberry.mutation(description="Change a story's fields; needs the version you read.")
    async def update_story(
        self, info: Info, id: strawberry.ID, version: int, input: UpdateStoryInput
    ) -> StoryPayload:
        change = _merge(_image(_fields(input)))
        return await _change_story(info, id, version, change, "update")

    @strawberry.mutation(description="Replace a story's sources (URLs), in editorial order.")
    async def set_story_sources(
        self, info: Info, id: strawberry.ID, version: int, sources: list[str]
    ) -> StoryPayload:
        change = _merge({"sources": sources})
        return await _change_story(info, id, version, change, "set_sources", prefix=())

    @strawberry.mutation(description="Replace a story's topics (slugs), most relevant first.")
    async def set_story_topics(
        self, info: Info, id: strawberry.ID, version: int, topics: list[str]
    ) -> StoryPayload:
        change = _merge({"topics": topics})
        return await _change_story(info, id, version, change, "set_topics", prefix=())

    @strawberry.mutation(description="Publish a story now, or schedule it for a future time.")
    async def publish_story(
        self, info: Info, id: strawberry.ID, version: int, at: datetime | None = None
    ) -> StoryPayload:
        return await _change_story(
            info, id, version, _publishing(at), "publish", rename={"published_at": "at"}
        )

    @strawberry.mutation(description="Take a story back to DRAFT (also cancels a schedule).")
    async def unpublish_story(self, info: Info, id: strawberry.ID, version: int) -> StoryPayload:
        return await _change_story(info, id, version, _UNPUBLISH, "unpublish")

    @strawberry.mutation(description="Archive a story: readers no longer see it.")
    async def archive_story(self, info: Info, id: strawberry.ID, version: int) -> StoryPayload:
        return await _change_story(info, id, version, _ARCHIVE, "archive")

    @strawberry.mutation(
        description="Take a story down (ADMIN): it is archived at once, and partners are told "
        "to remove their copies (a TAKEN_DOWN change with your reason), as they are for its "
        "deep dive."
    )
    async def take_down_story(
        self, info: Info, id: strawberry.ID, version: int, reason: str
    ) -> StoryPayload:
        return await _change_story(info, id, version, _ARCHIVE, **_takedown_reason(info, reason))

    @strawberry.mutation(description="Create a deep dive of an existing story, as a DRAFT.")
    async def create_deep_dive(self, info: Info, input: CreateDeepDiveInput) -> DeepDivePayload:
        fields = _image(_fields(input)) | {"status": "DRAFT", "published_at": None}
        result = await _write(info, "deep_dive", lambda _: fields, "create", create_only=True)
        return await _deep_dive_payload(info, result)

    @strawberry.mutation(description="Change a deep dive; needs the version you read.")
    async def update_deep_dive(
        self, info: Info, id: strawberry.ID, version: int, input: UpdateDeepDiveInput
    ) -> DeepDivePayload:
        return await _change_deep_dive(info, id, version, _merge(_image(_fields(input))), "update")

    @strawberry.mutation(description="Publish a deep dive now, or schedule it.")
    async def publish_deep_dive(
        self, info: Info, id: strawberry.ID, version: int, at: datetime | None = None
    ) -> DeepDivePayload:
        return await _change_deep_dive(
            info, id, version, _publishing(at), "publish", rename={"published_at": "at"}
        )

    @strawberry.mutation(description="Take a deep dive back to DRAFT.")
    async def unpublish_deep_dive(
        self, info: Info, id: strawberry.ID, version: int
    ) -> DeepDivePayload:
        return await _change_deep_dive(info, id, version, _UNPUBLISH, "unpublish")

    @strawberry.mutation(description="Archive a deep dive: readers no longer see it.")
    async def archive_deep_dive(
        self, info: Info, id: strawberry.ID, version: int
    ) -> DeepDivePayload:
        return await _change_deep_dive(info, id, version, _ARCHIVE, "archive")

    @strawberry.mutation(
        description="Take a deep dive down (ADMIN): archived at once, with a TAKEN_DOWN change "
        "telling partners to remove their copies, and why."
    )
    async def take_down_deep_dive(
        self, info: Info, id: strawberry.ID, version: int, reason: str
    ) -> DeepDivePayload:
        return await _change_deep_dive(
            info, id, version, _ARCHIVE, **_takedown_reason(info, reason)
        )

    @strawberry.mutation(description="Create an outlet, or replace the one with this slug.")
    async def upsert_outlet(self, info: Info, input: OutletInput) -> OutletPayload:
        fields = _fields(input)
        outlet_id, errors = await _write(info, "outlet", lambda _: fields, "upsert")
        [record] = await db_outlets.outlets_by_ids(info.context.pool, [outlet_id or 0])
        return OutletPayload(
            outlet=Outlet(record=record) if record and not errors else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Create a source, or replace the one with the same canonical URL (the same "
        "article from two feeds is one source)."
    )
    async def upsert_source(self, info: Info, input: SourceInput) -> SourcePayload:
        fields = _fields(input)
        source_id, errors = await _write(info, "source", lambda _: fields, "upsert")
        [record] = await db_sources.sources_by_ids(
            info.context.pool, [source_id or 0], Scope.PREVIEW
        )
        return SourcePayload(
            source=Source(record=record) if record and not errors else None, user_errors=errors
        )

    @strawberry.mutation(description="Create a topic, or replace the one with this slug.")
    async def upsert_topic(self, info: Info, input: TopicInput) -> TopicPayload:
        fields = _fields(input)
        topic_id, errors = await _write(info, "topic", lambda _: fields, "upsert")
        [record] = await db_topics.topics_by_ids(info.context.pool, [topic_id or 0])
        return TopicPayload(
            topic=Topic(record=record, scope=Scope.PREVIEW) if record and not errors else None,
            user_errors=errors,
        )
