"""Per-request data loaders: every field resolver reads through these, so a request costs a
bounded number of statements however many items it lists."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property, partial
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from db import deep_dives, images, outlets, recommendations, sources, stories, topics
from db.pool import Pool
from db.visibility import Scope

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Shared(DataLoader[K, V]):
    """A loader whose answers outlive any one field that waits for them.

    Every field asking for the same key gets the same future. graphql-core cancels the
    other fields of an object (or items of a list) when one of them fails; cancelling a
    task cancels the future it waits on, and so would fail every other field, anywhere in
    the operation, waiting for the same key, with a CancelledError that no field error
    handling catches. Each caller therefore waits on a shield of its own."""

    def load(self, key: K) -> Awaitable[V]:
        return asyncio.shield(super().load(key))


def _loader(
    pool: Pool, batch: Callable[[Pool, Sequence[K]], Awaitable[list[V]]]
) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        return await batch(pool, keys)

    return _Shared(load_fn=load)


Scoped = dict[Scope, DataLoader[K, V]]


def _scoped(pool: Pool, batch: Callable[..., Awaitable[list[V]]]) -> Scoped[Any, V]:
    """One loader per visibility scope, so a preview never leaks into a public read."""
    return {scope: _loader(pool, partial(batch, scope=scope)) for scope in Scope}


class Loaders:
    """Loaders whose answer depends on what the caller may see are Scoped: index them with
    the scope of the object being resolved. Each is made on first use: a request answered
    by the compiled engine uses none."""

    def __init__(self, pool: Pool, *, semantic: bool = False) -> None:
        """semantic: blend embedding similarity into recommendations (db.embeddings)."""
        self._pool = pool
        self._related = partial(recommendations.related, semantic=semantic)

    def forget(self) -> None:
        """Drop every loader and what it holds (a subscription reads afresh each time)."""
        for name in [name for name in vars(self) if not name.startswith("_")]:
            delattr(self, name)

    @cached_property
    def image_by_url(self) -> DataLoader[str, images.ImageRecord | None]:
        return _loader(self._pool, images.by_urls)

    @cached_property
    def story_by_id(self) -> Scoped[int, stories.Story | None]:
        return _scoped(self._pool, stories.stories_by_ids)

    @cached_property
    def deep_dive_by_id(self) -> Scoped[int, deep_dives.DeepDive | None]:
        return _scoped(self._pool, deep_dives.deep_dives_by_ids)

    @cached_property
    def outlet_by_id(self) -> DataLoader[int, outlets.Outlet | None]:
        return _loader(self._pool, outlets.outlets_by_ids)

    @cached_property
    def source_by_id(self) -> Scoped[int, sources.Source | None]:
        return _scoped(self._pool, sources.sources_by_ids)

    @cached_property
    def topic_by_id(self) -> DataLoader[int, topics.Topic | None]:
        return _loader(self._pool, topics.topics_by_ids)

    @cached_property
    def topic_ids_by_story(self) -> DataLoader[int, list[int]]:
        return _loader(self._pool, topics.topic_ids_by_story_ids)

    @cached_property
    def key_actor_ids_by_deep_dive(self) -> DataLoader[int, list[int]]:
        return _loader(self._pool, topics.key_actor_ids_by_deep_dive_ids)

    @cached_property
    def deep_dive_by_story(self) -> Scoped[int, deep_dives.DeepDive | None]:
        return _scoped(self._pool, deep_dives.deep_dives_by_story_ids)

    @cached_property
    def sections_by_deep_dive(self) -> DataLoader[int, list[deep_dives.Section]]:
        return _loader(self._pool, deep_dives.sections_by_deep_dive_ids)

    @cached_property
    def citations_by_deep_dive(self) -> DataLoader[int, list[deep_dives.Citation]]:
        return _loader(self._pool, deep_dives.citations_by_deep_dive_ids)

    @cached_property
    def source_page_by_story(self) -> DataLoader[Any, list[sources.StorySource]]:
        return _loader(self._pool, sources.story_source_pages)

    @cached_property
    def story_page_by_topic(self) -> Scoped[Any, list[stories.Story]]:
        return _scoped(self._pool, stories.topic_story_pages)

    @cached_property
    def story_count_by_topic(self) -> Scoped[int, int]:
        return _scoped(self._pool, stories.topic_story_counts)

    @cached_property
    def story_page_by_outlet(self) -> Scoped[Any, list[stories.Story]]:
        return _scoped(self._pool, stories.outlet_story_pages)

    @cached_property
    def story_count_by_outlet(self) -> Scoped[int, int]:
        return _scoped(self._pool, stories.outlet_story_counts)

    @cached_property
    def deep_dive_page_by_topic(self) -> Scoped[Any, list[deep_dives.DeepDive]]:
        return _scoped(self._pool, deep_dives.topic_deep_dive_pages)

    @cached_property
    def deep_dive_count_by_topic(self) -> Scoped[int, int]:
        return _scoped(self._pool, deep_dives.topic_deep_dive_counts)

    @cached_property
    def related_stories(
        self,
    ) -> DataLoader[recommendations.RelatedKey, list[recommendations.Candidate]]:
        return _loader(self._pool, partial(self._related, require_deep_dive=False))

    @cached_property
    def stories_like_deep_dive(
        self,
    ) -> DataLoader[recommendations.RelatedKey, list[recommendations.Candidate]]:
        return _loader(self._pool, partial(self._related, require_deep_dive=True))
