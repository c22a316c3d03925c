"""Per-request data loaders: every field resolver reads through these, so a request costs a
bounded number of statements however many items it lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from db import deep_dives, outlets, recommendations, sources, stories, topics
from db.pool import Pool
from db.visibility import Scope

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _loader(
    pool: Pool, batch: Callable[[Pool, Sequence[K]], Awaitable[list[V]]]
) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        return await batch(pool, keys)

    return DataLoader(load_fn=load)


Scoped = dict[Scope, DataLoader[K, V]]


def _scoped(pool: Pool, batch: Callable[..., Awaitable[list[V]]]) -> Scoped[Any, V]:
    """One loader per visibility scope, so a preview never leaks into a public read."""
    return {scope: _loader(pool, partial(batch, scope=scope)) for scope in Scope}


@dataclass(frozen=True)
class Loaders:
    """Loaders whose answer depends on what the caller may see are Scoped: index them with
    the scope of the object being resolved."""

    story_by_id: Scoped[int, stories.Story | None]
    deep_dive_by_id: Scoped[int, deep_dives.DeepDive | None]
    outlet_by_id: DataLoader[int, outlets.Outlet | None]
    source_by_id: Scoped[int, sources.Source | None]
    topic_by_id: DataLoader[int, topics.Topic | None]
    topic_ids_by_story: DataLoader[int, list[int]]
    key_actor_ids_by_deep_dive: DataLoader[int, list[int]]
    deep_dive_by_story: Scoped[int, deep_dives.DeepDive | None]
    sections_by_deep_dive: DataLoader[int, list[deep_dives.Section]]
    citations_by_deep_dive: DataLoader[int, list[deep_dives.Citation]]
    source_page_by_story: DataLoader[Any, list[sources.StorySource]]
    story_page_by_topic: Scoped[Any, list[stories.Story]]
    story_count_by_topic: Scoped[int, int]
    story_page_by_outlet: Scoped[Any, list[stories.Story]]
    story_count_by_outlet: Scoped[int, int]
    deep_dive_page_by_topic: Scoped[Any, list[deep_dives.DeepDive]]
    deep_dive_count_by_topic: Scoped[int, int]
    related_stories: DataLoader[recommendations.RelatedKey, list[recommendations.Candidate]]
    stories_like_deep_dive: DataLoader[recommendations.RelatedKey, list[recommendations.Candidate]]

    @classmethod
    def for_request(cls, pool: Pool, *, semantic: bool = False) -> Loaders:
        """semantic: blend embedding similarity into recommendations (db.embeddings)."""
        related = partial(recommendations.related, semantic=semantic)
        return cls(
            story_by_id=_scoped(pool, stories.stories_by_ids),
            deep_dive_by_id=_scoped(pool, deep_dives.deep_dives_by_ids),
            outlet_by_id=_loader(pool, outlets.outlets_by_ids),
            source_by_id=_scoped(pool, sources.sources_by_ids),
            topic_by_id=_loader(pool, topics.topics_by_ids),
            topic_ids_by_story=_loader(pool, topics.topic_ids_by_story_ids),
            key_actor_ids_by_deep_dive=_loader(pool, topics.key_actor_ids_by_deep_dive_ids),
            deep_dive_by_story=_scoped(pool, deep_dives.deep_dives_by_story_ids),
            sections_by_deep_dive=_loader(pool, deep_dives.sections_by_deep_dive_ids),
            citations_by_deep_dive=_loader(pool, deep_dives.citations_by_deep_dive_ids),
            source_page_by_story=_loader(pool, sources.story_source_pages),
            story_page_by_topic=_scoped(pool, stories.topic_story_pages),
            story_count_by_topic=_scoped(pool, stories.topic_story_counts),
            story_page_by_outlet=_scoped(pool, stories.outlet_story_pages),
            story_count_by_outlet=_scoped(pool, stories.outlet_story_counts),
            deep_dive_page_by_topic=_scoped(pool, deep_dives.topic_deep_dive_pages),
            deep_dive_count_by_topic=_scoped(pool, deep_dives.topic_deep_dive_counts),
            related_stories=_loader(pool, partial(related, require_deep_dive=False)),
            stories_like_deep_dive=_loader(pool, partial(related, require_deep_dive=True)),
        )
