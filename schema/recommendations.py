"""Recommendations: why each was chosen, the viewpoint-mixed lists, forYou and editor pins."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from content import clock
from content.access import Permission
from db import json_sql
from db import recommendations as db_recommendations
from db.recommendations import Candidate, RelatedKey
from db.visibility import Scope
from schema.access import actor, require
from schema.compiled import Spec, Unavailable, compiles
from schema.context import Info
from schema.errors import BadUserInput
from schema.inputs import checked_slug
from schema.relay import check_first, pk_of

if TYPE_CHECKING:
    from schema.mutations import UserError
    from schema.planner import Place
    from schema.stories import Story
    from schema.topics import Topic

TopicRef = Annotated["Topic", strawberry.lazy("schema.topics")]
StoryRef = Annotated["Story", strawberry.lazy("schema.stories")]

SIMILAR_TEXT = 0.1  # text score (0-1) from which wording counts as a reason
SIMILAR_MEANING = 0.3  # cosine similarity (all-MiniLM-L6-v2: related news scores 0.3-0.6)
MAX_FOLLOWED = 20
MAX_EXCLUDED = 200


@strawberry.enum(description="A signal a recommendation can rest on.")
class RecommendationSignal(Enum):
    EDITORS_PICK = strawberry.enum_value("EDITORS_PICK", description="An editor pinned it.")
    SHARED_TOPICS = strawberry.enum_value(
        "SHARED_TOPICS", description="Shares topics or key actors (rarer ones count more)."
    )
    SIMILAR_TEXT = strawberry.enum_value(
        "SIMILAR_TEXT", description="Its title and summary use many of the same words."
    )
    SAME_CATEGORY = strawberry.enum_value("SAME_CATEGORY", description="Same section.")
    SEMANTIC = strawberry.enum_value(
        "SEMANTIC",
        description="Close in meaning by sentence embeddings (only where embeddings are on).",
    )
    FOLLOWED_TOPICS = strawberry.enum_value(
        "FOLLOWED_TOPICS", description="On topics the reader follows (forYou)."
    )
    RECENT = strawberry.enum_value("RECENT", description="Fresher items rank higher.")


@strawberry.type(description="Why an item was recommended.")
class RecommendationReason:
    signals: list[RecommendationSignal] = strawberry.field(
        description="The signals that put it on the list, strongest first."
    )
    shared_topic_ids: strawberry.Private[list[int]]
    score: float = strawberry.field(
        description="Its relevance before the viewpoint-diversity step (higher is better); "
        "comparable only within one list."
    )

    @strawberry.field(description="The topics and key actors it shares, rarest first.")
    async def shared_topics(self, info: Info) -> list[TopicRef]:
        from schema.topics import topics_in_order

        return await topics_in_order(info, self.shared_topic_ids)


def _reason(candidate: Candidate, followed: bool = False) -> RecommendationReason:
    signals = []
    if candidate.pin is not None:
        signals.append(RecommendationSignal.EDITORS_PICK)
    if candidate.shared_topic_ids:
        signals.append(
            RecommendationSignal.FOLLOWED_TOPICS if followed else RecommendationSignal.SHARED_TOPICS
        )
    if (candidate.semantic_score or 0) >= SIMILAR_MEANING:
        signals.append(RecommendationSignal.SEMANTIC)
    if candidate.text_score >= SIMILAR_TEXT:
        signals.append(RecommendationSignal.SIMILAR_TEXT)
    if candidate.same_category:
        signals.append(RecommendationSignal.SAME_CATEGORY)
    if followed:
        signals.append(RecommendationSignal.RECENT)
    return RecommendationReason(
        signals=signals, shared_topic_ids=candidate.shared_topic_ids, score=candidate.relevance
    )


def lean(candidate: Candidate) -> str:
    """The side a candidate's coverage leans to: Left, Center, Right, Mixed or Unrated."""
    return candidate.story.dominant_side


def stories_of(candidates: list[Candidate], followed: bool = False) -> list[Story]:
    """The picks (db.recommendations: viewpoint-mixed, pins first) as Stories with reasons."""
    from schema.stories import Story

    return [Story(record=c.story, recommended_because=_reason(c, followed)) for c in candidates]


async def related(info: Info, story_id: int, first: int, *, deep_dives: bool) -> list[Story]:
    check_first(first)
    loaders = info.context.loaders
    loader = loaders.stories_like_deep_dive if deep_dives else loaders.related_stories
    return stories_of(await loader.load(RelatedKey(story_id, first)))


@dataclass(frozen=True)
class Recommended:
    """The compiled relatedStories / moreLikeThis: the same recommendation statement, for the
    story whose id is the row's column `story`."""

    require_deep_dive: bool
    story: str

    def compile(self, at: Place) -> str:
        first = at.bind(lambda kwargs, caller: check_first(kwargs["first"]), _slot)
        as_of = at.constant(lambda caller: clock.now(), "timestamptz")
        sql = db_recommendations.related_sql(
            db_recommendations.one_owner(f"{at.alias}.{self.story}"),
            first,
            json_sql.float_literal(db_recommendations.BALANCE),
            as_of,
            require_deep_dive=self.require_deep_dive,
            semantic=at.caller.semantic,
        )
        row = at.new_alias()
        with at.outermost(RECOMMENDATIONS, _NESTED):
            built = at.child(alias=row, scope=Scope.PUBLIC, mapping=_WITHOUT_REASONS)
        return json_sql.over(json_sql.array_agg(built, f"{row}.position"), sql, row)


# Compiled, a recommendation is evaluated once per story it is made for; recommendations of
# recommended stories multiply that, where Strawberry's loader makes each level's in one
# statement (three levels of 5, 20, 20 on 300 stories: 2.4 s, against the 5 s timeout).
RECOMMENDATIONS = "recommendations"
_NESTED = "recommendations of recommended stories are made a level at a time by Strawberry"

_WITHOUT_REASONS: dict[str, Spec] = {
    "reason": Unavailable("a recommendation's reason is made in Python")
}


def _slot(slots: json_sql.Slots, value: int) -> str:
    return slots.add(value, "int")


def signals_in_use(semantic: bool) -> list[RecommendationSignal]:
    return [s for s in RecommendationSignal if semantic or s is not RecommendationSignal.SEMANTIC]


@dataclass(frozen=True)
class ForYouRequest:
    topics: list[str]
    exclude: list[int]
    first: int


def for_you_request(topics: list[str], exclude: list[strawberry.ID], first: int) -> ForYouRequest:
    check_first(first)
    if not 1 <= len(topics) <= MAX_FOLLOWED:
        raise BadUserInput(f"`topics` takes 1 to {MAX_FOLLOWED} topic slugs.", field="topics")
    if len(exclude) > MAX_EXCLUDED:
        raise BadUserInput(f"`exclude` takes at most {MAX_EXCLUDED} ids.", field="exclude")
    slugs = [checked_slug(slug, "topics") for slug in topics]
    excluded = [pk_of(global_id, "Story", "exclude") for global_id in exclude]
    return ForYouRequest(slugs, excluded, first)


async def for_you(
    info: Info, topics: list[str], exclude: list[strawberry.ID], first: int
) -> list[Story]:
    request = for_you_request(topics, exclude, first)
    candidates = await db_recommendations.for_you(
        info.context.pool, request.topics, request.exclude, request.first
    )
    return stories_of(candidates, followed=True)


def _for_you(kwargs: dict[str, Any], caller: Any) -> ForYouRequest:
    return for_you_request(kwargs["topics"], kwargs["exclude"] or [], kwargs["first"])


@dataclass(frozen=True)
class ForYou:
    """The compiled forYou: the same statement, its arguments checked the same way."""

    def compile(self, at: Place) -> str:
        topics = at.bind(_for_you, lambda slots, r: slots.add(r.topics, "text[]"))
        exclude = at.bind(_for_you, lambda slots, r: slots.add(r.exclude, "bigint[]"))
        first = at.bind(_for_you, lambda slots, r: slots.add(r.first, "int"))
        as_of = at.constant(lambda caller: clock.now(), "timestamptz")
        balance = json_sql.float_literal(db_recommendations.BALANCE)
        sql = db_recommendations.for_you_sql(topics, exclude, first, balance, as_of)
        row = at.new_alias()
        with at.outermost(RECOMMENDATIONS, _NESTED):
            built = at.child(alias=row, scope=Scope.PUBLIC, mapping=_WITHOUT_REASONS)
        return json_sql.over(json_sql.array_agg(built, f"{row}.position"), sql, row)


@strawberry.type(description="The result of pinRecommendations.")
class PinRecommendationsPayload:
    pinned: list[StoryRef] | None = strawberry.field(
        description="The story's pins now, in order (any status: a pinned draft is "
        "recommended once it is published); null when nothing was saved."
    )
    user_errors: list[Annotated[UserError, strawberry.lazy("schema.mutations")]] = strawberry.field(
        description="What is wrong with the input; empty on success."
    )


async def pin_recommendations(
    info: Info, story: strawberry.ID, pins: list[strawberry.ID]
) -> PinRecommendationsPayload:
    from schema.mutations import UserError, UserErrorCode
    from schema.stories import Story

    require(info, Permission.EDIT)
    if len(pins) > db_recommendations.MAX_PINS:
        raise BadUserInput(
            f"`pins` takes at most {db_recommendations.MAX_PINS} stories.", field="pins"
        )
    story_id = pk_of(story, "Story", "story")
    pinned = [pk_of(pin, "Story", "pins") for pin in pins]
    problems = [
        (["pins", str(i)], UserErrorCode.DUPLICATE, "is listed twice")
        for i, pk in enumerate(pinned)
        if pk in pinned[:i]
    ] + [
        (["pins", str(i)], UserErrorCode.INVALID, "is the story itself")
        for i, pk in enumerate(pinned)
        if pk == story_id
    ]
    if not problems:
        missing = await db_recommendations.pin(info.context.pool, story_id, pinned, actor(info))
        if missing is None:
            problems = [(["story"], UserErrorCode.NOT_FOUND, "no such story")]
        else:
            problems = [
                (["pins", str(pinned.index(pk))], UserErrorCode.NOT_FOUND, "no such story")
                for pk in missing
            ]
    if problems:
        errors = [UserError(field=f, code=code, message=m) for f, code, m in problems]
        return PinRecommendationsPayload(pinned=None, user_errors=errors)
    records = await info.context.loaders.story_by_id[Scope.PREVIEW].load_many(pinned)
    stories = [Story(record=r, scope=Scope.PREVIEW) for r in records if r is not None]
    return PinRecommendationsPayload(pinned=stories, user_errors=[])


@strawberry.type
class RecommendationQuery:
    @strawberry.field(
        description="A reader's feed: published stories on the topics they follow, newest and "
        "most on-topic first, mixed across viewpoints. The service keeps no reader profile: "
        f"send the followed topic slugs (1 to {MAX_FOLLOWED}) and the Story ids the reader "
        f"has recently read (`exclude`, at most {MAX_EXCLUDED}), which are left out.",
        metadata=compiles(ForYou()),
    )
    async def for_you(
        self,
        info: Info,
        topics: list[str],
        exclude: list[strawberry.ID] | None = None,
        first: int = 10,
    ) -> list[StoryRef]:
        return await for_you(info, topics, exclude or [], first)

    @strawberry.field(
        description="The signals recommendations use on this deployment; SEMANTIC only "
        "where story embeddings exist (pgvector and `newsgraph embed`)."
    )
    def recommendation_signals(self, info: Info) -> list[RecommendationSignal]:
        return signals_in_use(info.context.semantic)


@strawberry.type
class RecommendationMutation:
    @strawberry.mutation(
        description=f"Set the stories pinned to the top of a story's recommendations (and of "
        f"its deep dive's moreLikeThis), in order; an empty list removes them. At most "
        f"{db_recommendations.MAX_PINS}. EDITOR or ADMIN."
    )
    async def pin_recommendations(
        self, info: Info, story: strawberry.ID, pins: list[strawberry.ID]
    ) -> PinRecommendationsPayload:
        return await pin_recommendations(info, story, pins)
