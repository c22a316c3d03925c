"""Keyset cursor pagination: pages join up exactly, bad arguments get BAD_USER_INPUT."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import data, error_codes, graphql, operation
from tests.factories import create_story, create_topic, slug_of

SAME_TIME = datetime(2026, 5, 1, tzinfo=UTC)


async def walk(client, query: str, path: list[str], first: int, **variables) -> list[str]:
    slugs, after = [], None
    while True:
        result = await data(client, query, first=first, after=after, **variables)
        for key in path:
            result = result[key]
        slugs += [edge["node"]["slug"] for edge in result["edges"]]
        if not result["pageInfo"]["hasNextPage"]:
            return slugs
        after = result["pageInfo"]["endCursor"]


async def test_feed_pages_cover_every_story_once_even_with_equal_times(client, pool) -> None:
    created = [await create_story(pool, published_at=SAME_TIME) for _ in range(7)]
    created += [await create_story(pool) for _ in range(6)]
    everything = await walk(client, operation("HomeFeed"), ["stories"], first=100)
    assert len(everything) == 13
    for first in (1, 2, 5):
        assert await walk(client, operation("HomeFeed"), ["stories"], first=first) == everything
    assert set(everything) == {await slug_of(pool, "stories", s) for s in created}


async def test_topic_stories_and_story_sources_page_too(client, pool) -> None:
    topic = await create_topic(pool)
    for _ in range(5):
        await create_story(pool, topic_ids=[topic], published_at=SAME_TIME)
    query = """query($slug: String!, $first: Int!, $after: String) {
      topic(slug: $slug) { stories(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { slug } } } } }"""
    slug = await slug_of(pool, "topics", topic)
    whole = await walk(client, query, ["topic", "stories"], first=100, slug=slug)
    assert await walk(client, query, ["topic", "stories"], first=2, slug=slug) == whole
    assert len(whole) == 5

    story = await create_story(pool, leans=["LEFT", "CENTER", None, "RIGHT", "CENTER"])
    sources = """query($slug: String!, $first: Int!, $after: String) {
      story(slug: $slug) { sources(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } } }"""
    pages, after = [], None
    while True:
        page = (
            await data(
                client, sources, slug=await slug_of(pool, "stories", story), first=2, after=after
            )
        )["story"]["sources"]
        assert page["totalCount"] == 5
        pages.append([edge["node"]["title"] for edge in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(p) for p in pages] == [2, 2, 1]


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_first_out_of_range_is_rejected_not_truncated(client, pool, first: int) -> None:
    body = await graphql(client, operation("HomeFeed"), first=first)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "between 0 and 100" in body["errors"][0]["message"]


async def test_first_100_is_allowed(client, pool) -> None:
    assert (await data(client, operation("HomeFeed"), first=100))["stories"]["edges"] == []


@pytest.mark.parametrize(
    "cursor", ["garbage", "", "WyJzb3VyY2UiLDFd", "WyJmZWVkIiwibm90IGEgZGF0ZSIsMV0", "\x00"]
)
async def test_foreign_or_malformed_cursors_are_rejected(client, pool, cursor: str) -> None:
    # The third is a story-sources cursor; the fourth a feed cursor holding no date.
    body = await graphql(client, operation("HomeFeed"), after=cursor)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_a_page_asked_only_whether_it_has_a_previous_one(client, demo) -> None:
    """pageInfo { hasPreviousPage } after a cursor reads no page size: the compiled statement
    must not take a parameter it never uses (found by the generated queries)."""
    first = await data(client, "{ stories(first: 1) { pageInfo { endCursor } } }")
    after = first["stories"]["pageInfo"]["endCursor"]
    query = "query($a: String) { stories(first: 3, after: $a) { pageInfo { hasPreviousPage } } }"
    assert await data(client, query, a=after) == {
        "stories": {"pageInfo": {"hasPreviousPage": True}}
    }
