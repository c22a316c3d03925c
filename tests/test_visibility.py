"""Hidden content (draft, future-dated, archived, or a deep dive of a hidden story) is
indistinguishable from missing content on every read path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schema.relay import to_global_id
from tests.conftest import data
from tests.factories import create_deep_dive, create_story, create_topic, slug_of

FUTURE = datetime.now(UTC) + timedelta(days=30)
HIDDEN = {
    "draft": {"status": "DRAFT", "published_at": None},
    "scheduled": {"status": "PUBLISHED", "published_at": FUTURE},
    "future-dated": {"status": "PUBLISHED", "published_at": FUTURE},
    "archived": {"status": "ARCHIVED"},
}
EVERYWHERE = """
query Everywhere($slug: String!, $dive: String!, $id: ID!, $diveId: ID!, $topic: String!,
                 $visible: String!, $q: String!) {
  story(slug: $slug) { id }
  deepDive(slug: $dive) { id }
  storyNode: node(id: $id) { id }
  diveNode: node(id: $diveId) { id }
  stories(first: 100) { totalCount edges { node { slug } } }
  filtered: stories(first: 100, filter: {topic: $topic}) { totalCount edges { node { slug } } }
  topic(slug: $topic) {
    stories(first: 100) { totalCount edges { node { slug } } }
    deepDives(first: 100) { totalCount edges { node { slug } } }
  }
  visible: story(slug: $visible) {
    relatedStories(first: 100) { slug }
    deepDive { moreLikeThis(first: 100) { slug } }
  }
  search(query: $q, first: 100) {
    totalCount edges { node { ... on Story { slug } ... on DeepDive { slug } } }
  }
}"""


@pytest.mark.parametrize("state", list(HIDDEN))
async def test_hidden_story_and_its_deep_dive_appear_nowhere(client, pool, state: str) -> None:
    topic = await create_topic(pool)
    shared = {"topic_ids": [topic], "summary": "Zebrafish migration patterns."}
    visible = await create_story(pool, **shared)
    await create_deep_dive(pool, story_id=visible, title="Zebrafish analysis")
    other = await create_story(pool, **shared)
    await create_deep_dive(pool, story_id=other, title="Zebrafish outlook")
    hidden = await create_story(pool, **shared, **HIDDEN[state])
    # Published itself, but it analyses a hidden story, so it is hidden too.
    hidden_dive = await create_deep_dive(pool, story_id=hidden, title="Zebrafish secrets")

    result = await data(
        client,
        EVERYWHERE,
        slug=await slug_of(pool, "stories", hidden),
        dive=await slug_of(pool, "deep_dives", hidden_dive),
        id=to_global_id("Story", hidden),
        diveId=to_global_id("DeepDive", hidden_dive),
        topic=await slug_of(pool, "topics", topic),
        visible=await slug_of(pool, "stories", visible),
        q="zebrafish",
    )
    hidden_slugs = {
        await slug_of(pool, "stories", hidden),
        await slug_of(pool, "deep_dives", hidden_dive),
    }
    assert result["story"] is None
    assert result["deepDive"] is None
    assert result["storyNode"] is None
    assert result["diveNode"] is None
    lists = [
        result["stories"],
        result["filtered"],
        result["topic"]["stories"],
        result["topic"]["deepDives"],
        result["search"],
    ]
    for connection in lists:
        slugs = {edge["node"]["slug"] for edge in connection["edges"]}
        assert not slugs & hidden_slugs
        assert connection["totalCount"] == len(slugs)
    assert result["stories"]["totalCount"] == 2
    assert result["topic"]["deepDives"]["totalCount"] == 2
    assert result["search"]["totalCount"] == 4  # the two visible stories and their deep dives
    related = {s["slug"] for s in result["visible"]["relatedStories"]}
    more = {s["slug"] for s in result["visible"]["deepDive"]["moreLikeThis"]}
    assert related == more == {await slug_of(pool, "stories", other)}


async def test_a_draft_deep_dive_of_a_published_story_is_hidden(client, pool) -> None:
    story = await create_story(pool)
    dive = await create_deep_dive(pool, story_id=story, status="DRAFT", published_at=None)
    query = """query($s: String!, $d: String!, $id: ID!) {
        story(slug: $s) { slug deepDive { slug } } deepDive(slug: $d) { slug } node(id: $id) { id }
    }"""
    result: dict[str, Any] = await data(
        client,
        query,
        s=await slug_of(pool, "stories", story),
        d=await slug_of(pool, "deep_dives", dive),
        id=to_global_id("DeepDive", dive),
    )
    assert result == {
        "story": {"slug": await slug_of(pool, "stories", story), "deepDive": None},
        "deepDive": None,
        "node": None,
    }
