"""Root deepDives and outlets lists, and the per-item syndication right."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import data, error_codes, graphql
from tests.factories import create_deep_dive, create_outlet, create_story, create_topic, slug_of
from tests.test_pagination import walk

DIVES = """query($first: Int!, $after: String, $filter: DeepDiveFilter) {
  deepDives(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { slug syndicatable } } } }"""
OUTLETS = """query($first: Int!, $after: String) {
  outlets(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { slug } } } }"""


async def test_deep_dives_list_newest_first_visible_only_and_pages_join(client, pool) -> None:
    topic = await create_topic(pool)
    dives = []
    for day in range(1, 6):
        story = await create_story(pool, topic_ids=[topic] if day % 2 else [])
        at = datetime(2026, 3, day, tzinfo=UTC)
        dives.append(await create_deep_dive(pool, story_id=story, published_at=at))
    draft_story = await create_story(pool)
    await create_deep_dive(pool, story_id=draft_story, status="DRAFT", published_at=None)
    hidden_story = await create_story(pool, status="DRAFT", published_at=None)
    await create_deep_dive(pool, story_id=hidden_story)  # its story is not visible

    newest_first = [await slug_of(pool, "deep_dives", d) for d in reversed(dives)]
    assert await walk(client, DIVES, ["deepDives"], first=2) == newest_first
    assert (await data(client, DIVES, first=1))["deepDives"]["totalCount"] == 5

    about = await walk(
        client,
        DIVES,
        ["deepDives"],
        first=10,
        filter={"topic": await slug_of(pool, "topics", topic)},
    )
    assert about == [newest_first[0], newest_first[2], newest_first[4]]
    since = {"publishedAfter": "2026-03-04T00:00:00Z"}
    assert await walk(client, DIVES, ["deepDives"], first=10, filter=since) == newest_first[:2]


async def test_outlets_list_pages_by_slug(client, pool) -> None:
    for _ in range(5):
        await create_outlet(pool)
    slugs = await walk(client, OUTLETS, ["outlets"], first=2)
    assert slugs == sorted(slugs) and len(slugs) == 5
    bad = await graphql(client, OUTLETS, first=2, after="bm90LWEtY3Vyc29y")
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert error_codes(await graphql(client, OUTLETS, first=101)) == ["BAD_USER_INPUT"]


CREATE = """mutation($input: CreateStoryInput!) { createStory(input: $input) {
  story { id version syndicatable } userErrors { field code } } }"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: UpdateStoryInput!) {
  updateStory(id: $id, version: $version, input: $input) {
    story { syndicatable } userErrors { field code } } }"""
STORIES = """query($filter: StoryFilter) { stories(first: 10, filter: $filter) {
  edges { node { slug syndicatable } } } }"""


async def test_editors_set_the_right_and_lists_filter_on_it(client, pool, make_key) -> None:
    editor = await make_key("EDITOR")
    created = await data(client, CREATE, key=editor, input={"slug": "s", "title": "T"})
    story = created["createStory"]["story"]
    assert story["syndicatable"] is True
    changed = await data(
        client,
        UPDATE,
        key=editor,
        id=story["id"],
        version=story["version"],
        input={"syndicatable": False},
    )
    assert changed["updateStory"] == {"story": {"syndicatable": False}, "userErrors": []}
    refused = await data(
        client, UPDATE, key=editor, id=story["id"], version=2, input={"syndicatable": None}
    )
    assert refused["updateStory"]["userErrors"] == [
        {"field": ["input", "syndicatable"], "code": "INVALID"}
    ]

    free = await create_story(pool)
    await create_story(pool, syndicatable=False)
    listed = await data(client, STORIES, filter={"syndicatable": True})
    assert [e["node"]["slug"] for e in listed["stories"]["edges"]] == [
        await slug_of(pool, "stories", free)
    ]
