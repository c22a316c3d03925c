"""Hidden content (draft, scheduled, archived, or a deep dive of a hidden story) is
indistinguishable from missing content on every read path, for every role; editors reach it
only when they ask for a preview, and recommendations never offer it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schema.relay import to_global_id
from tests.conftest import data, error_codes, graphql
from tests.factories import PAST, create_deep_dive, create_story, create_topic, slug_of

FUTURE = datetime.now(UTC) + timedelta(days=30)
HIDDEN = {
    "draft": {"status": "DRAFT", "published_at": None},
    "scheduled": {"status": "PUBLISHED", "published_at": FUTURE},
    "archived": {"status": "ARCHIVED"},
}
ROLES = [None, "PUBLIC", "PARTNER", "EDITOR", "ADMIN"]
EVERYWHERE = """
query Everywhere($slug: String!, $dive: String!, $id: ID!, $diveId: ID!, $topic: String!,
                 $visible: String!, $q: String!, $sourceId: ID!, $preview: Boolean! = false) {
  story(slug: $slug, preview: $preview) { id status deepDive { slug } }
  deepDive(slug: $dive, preview: $preview) { id }
  storyNode: previewNode(id: $id, preview: $preview) { id }
  diveNode: previewNode(id: $diveId, preview: $preview) { id }
  sourceNode: previewNode(id: $sourceId, preview: $preview) { id }
  stories(first: 100, preview: $preview) { totalCount edges { node { slug } } }
  filtered: stories(first: 100, filter: {topic: $topic}, preview: $preview) {
    totalCount edges { node { slug } }
  }
  topic(slug: $topic, preview: $preview) {
    stories(first: 100) { totalCount edges { node { slug } } }
    deepDives(first: 100) { totalCount edges { node { slug } } }
  }
  visible: story(slug: $visible) {
    relatedStories(first: 100) { slug }
    deepDive { moreLikeThis(first: 100) { slug } }
  }
  search(query: $q, first: 100, preview: $preview) {
    totalCount edges { node { ... on Story { slug } ... on DeepDive { slug } } }
  }
}"""


async def everything(client, pool, state: str, key: str | None, preview: bool) -> dict:
    """A visible story and another, each with a deep dive, and a hidden one (in `state`) whose
    published deep dive is hidden with it; what the Everywhere query returns about them."""
    topic = await create_topic(pool)
    shared = {"topic_ids": [topic], "summary": "Zebrafish migration patterns."}
    visible = await create_story(pool, **shared)
    await create_deep_dive(pool, story_id=visible, title="Zebrafish analysis")
    other = await create_story(pool, **shared)
    await create_deep_dive(pool, story_id=other, title="Zebrafish outlook")
    hidden = await create_story(pool, **shared, **HIDDEN[state], leans=["CENTER"])
    # Published itself, but it analyses a hidden story, so it is hidden too.
    hidden_dive = await create_deep_dive(pool, story_id=hidden, title="Zebrafish secrets")
    source = await pool.fetchval("SELECT source_id FROM story_sources WHERE story_id = $1", hidden)
    result = await data(
        client,
        EVERYWHERE,
        key=key,
        slug=await slug_of(pool, "stories", hidden),
        dive=await slug_of(pool, "deep_dives", hidden_dive),
        id=to_global_id("Story", hidden),
        diveId=to_global_id("DeepDive", hidden_dive),
        sourceId=to_global_id("Source", source),
        topic=await slug_of(pool, "topics", topic),
        visible=await slug_of(pool, "stories", visible),
        q="zebrafish",
        preview=preview,
    )
    result["hidden_slugs"] = {
        await slug_of(pool, "stories", hidden),
        await slug_of(pool, "deep_dives", hidden_dive),
    }
    result["other"] = await slug_of(pool, "stories", other)
    return result


def listed(result: dict) -> list[dict]:
    return [
        result["stories"],
        result["filtered"],
        result["topic"]["stories"],
        result["topic"]["deepDives"],
        result["search"],
    ]


def recommended(result: dict) -> tuple[set[str], set[str]]:
    related = {s["slug"] for s in result["visible"]["relatedStories"]}
    more = {s["slug"] for s in result["visible"]["deepDive"]["moreLikeThis"]}
    return related, more


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("state", list(HIDDEN))
async def test_hidden_story_and_its_deep_dive_appear_nowhere(
    client, pool, make_key, state: str, role: str | None
) -> None:
    key = await make_key(role) if role else None
    result = await everything(client, pool, state, key, preview=False)
    hidden_slugs = result["hidden_slugs"]
    assert result["story"] is None
    assert result["deepDive"] is None
    assert result["storyNode"] is None
    assert result["diveNode"] is None
    assert result["sourceNode"] is None, "a source only a hidden story cites is hidden too"
    for connection in listed(result):
        slugs = {edge["node"]["slug"] for edge in connection["edges"]}
        assert not slugs & hidden_slugs
        assert connection["totalCount"] == len(slugs)
    assert result["stories"]["totalCount"] == 2
    assert result["topic"]["deepDives"]["totalCount"] == 2
    assert result["search"]["totalCount"] == 4  # the two visible stories and their deep dives
    assert recommended(result) == ({result["other"]}, {result["other"]})


@pytest.mark.parametrize("role", ["EDITOR", "ADMIN"])
@pytest.mark.parametrize("state", list(HIDDEN))
async def test_editors_reach_hidden_content_only_in_a_preview(
    client, pool, make_key, state: str, role: str
) -> None:
    result = await everything(client, pool, state, await make_key(role), preview=True)
    hidden_slugs = result["hidden_slugs"]
    expected_status = {"draft": "DRAFT", "scheduled": "SCHEDULED", "archived": "ARCHIVED"}[state]
    assert result["story"]["status"] == expected_status
    assert result["story"]["deepDive"]["slug"] in hidden_slugs
    assert result["deepDive"] and result["storyNode"] and result["diveNode"]
    assert result["sourceNode"]
    for connection in listed(result):
        slugs = {edge["node"]["slug"] for edge in connection["edges"]}
        assert slugs & hidden_slugs
        assert connection["totalCount"] == len(slugs)
    assert result["stories"]["totalCount"] == 3
    assert result["search"]["totalCount"] == 6
    assert recommended(result) == ({result["other"]}, {result["other"]}), "never recommended"


@pytest.mark.parametrize("role", [None, "PUBLIC", "PARTNER"], ids=lambda r: r or "anonymous")
async def test_readers_asking_for_a_preview_are_forbidden(client, make_key, role) -> None:
    key = await make_key(role) if role else None
    for query in (
        '{ story(slug: "x", preview: true) { id } }',
        '{ deepDive(slug: "x", preview: true) { id } }',
        '{ previewNode(id: "U3Rvcnk6MQ", preview: true) { id } }',
        '{ topic(slug: "x", preview: true) { id } }',
        '{ search(query: "x", preview: true) { totalCount } }',
        "{ stories(preview: true) { totalCount } }",
        "{ stories(filter: {status: [ARCHIVED]}) { totalCount } }",
    ):
        body = await graphql(client, query, key=key)
        assert error_codes(body) == ["FORBIDDEN"], query
        assert not any((body["data"] or {}).values()), "nothing is answered"


async def test_editors_filter_by_status(client, pool, make_key) -> None:
    for state in HIDDEN:
        await create_story(pool, **HIDDEN[state])
    await create_story(pool)
    query = """query($s: [ContentStatus!]) { stories(filter: {status: $s}) {
        totalCount edges { node { status } } } }"""
    key = await make_key("EDITOR")
    for status in ("DRAFT", "SCHEDULED", "PUBLISHED", "ARCHIVED"):
        found = (await data(client, query, key=key, s=[status]))["stories"]
        assert found["totalCount"] == 1
        assert [e["node"]["status"] for e in found["edges"]] == [status]
    both = (await data(client, query, key=key, s=["DRAFT", "SCHEDULED"]))["stories"]
    assert both["totalCount"] == 2


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


_STORY_TIME_DIFFERS = """
SELECT count(*) FROM deep_dives d JOIN stories s ON s.id = d.story_id
WHERE d.story_published_at IS DISTINCT FROM
      (CASE WHEN s.status = 'PUBLISHED' THEN s.published_at END)"""
_SEEN = """query($d: String!, $q: String!) {
  deepDive(slug: $d) { slug }
  search(query: $q, first: 10) { totalCount edges { node { ... on DeepDive { slug } } } }
}"""


async def test_a_deep_dive_follows_its_story_through_every_write(client, pool, editor) -> None:
    """A deep dive's visibility reads its story's publish time from the deep dive's own row
    (migration 0021), which triggers keep equal to the story's: deep dives inserted (COPY
    too) under published and hidden stories, stories updated many at once, unpublished,
    scheduled, archived and published through the API, a deep dive moved to another story,
    and a hand-written value. After each, every deep dive holds its story's time, and the
    deep dive is seen exactly while its story is visible."""
    from tests.test_mutations import ARCHIVE, PUBLISH, UNPUBLISH, ok

    async def kept() -> None:
        assert await pool.fetchval(_STORY_TIME_DIFFERS) == 0

    async def seen(dive: int) -> bool:
        slug = await slug_of(pool, "deep_dives", dive)
        result = await data(client, _SEEN, d=slug, q="gannet")
        found = {e["node"].get("slug") for e in result["search"]["edges"]} - {None}
        assert (result["deepDive"] is not None) == (slug in found)
        return result["deepDive"] is not None

    story = await create_story(pool, title="Gannets dive")
    hidden = await create_story(pool, title="Gannets nest", status="DRAFT", published_at=None)
    dive = await create_deep_dive(pool, story_id=story, title="Gannet analysis")
    other = await create_deep_dive(pool, story_id=hidden, title="Gannet outlook")
    await kept()
    assert (await seen(dive), await seen(other)) == (True, False)

    both = [story, hidden]
    for change, value in (
        ("status = $2", "ARCHIVED"),
        ("published_at = $2", FUTURE),
        ("status = $2", "PUBLISHED"),
    ):
        await pool.execute(f"UPDATE stories SET {change} WHERE id = ANY($1::bigint[])", both, value)
        await kept()
    assert (await seen(dive), await seen(other)) == (False, False)  # scheduled
    await pool.execute(
        "UPDATE stories SET published_at = now() - interval '1 day' WHERE id = ANY($1)", both
    )
    await kept()
    assert (await seen(dive), await seen(other)) == (True, True)

    node = to_global_id("Story", story)
    version = await pool.fetchval("SELECT version FROM stories WHERE id = $1", story)
    for mutation, field, at, visible in (
        (UNPUBLISH, "unpublishStory", None, False),
        (PUBLISH, "publishStory", FUTURE.isoformat(), False),
        (PUBLISH, "publishStory", None, True),
        (ARCHIVE, "archiveStory", None, False),
        (PUBLISH, "publishStory", None, True),
    ):
        variables = {"id": node, "version": version} | ({"at": at} if at else {})
        version = (await ok(client, mutation, editor, field, **variables))["story"]["version"]
        await kept()
        assert await seen(dive) is visible, field

    await pool.execute("UPDATE deep_dives SET story_published_at = now() - interval '1 day'")
    await kept()  # the value cannot be written by hand
    moved = await create_story(pool, title="Terns", status="DRAFT", published_at=None)
    await pool.execute("UPDATE deep_dives SET story_id = $2 WHERE id = $1", dive, moved)
    await kept()
    assert await seen(dive) is False
    await pool.copy_records_to_table(
        "deep_dives",
        records=[(story, "gannet-copy", "Gannet copy", "PUBLISHED", PAST)],
        columns=["story_id", "slug", "title", "status", "published_at"],
    )
    await kept()


async def test_a_deep_dive_appears_when_its_scheduled_story_does(client, pool) -> None:
    """No job makes a scheduled story's deep dive visible: the stored time simply passes.
    (Three seconds ahead, so that a slow machine still asks before the time comes.)"""
    story = await create_story(pool, title="Gannets fledge")
    dive = await create_deep_dive(pool, story_id=story, title="Gannet fledging")
    slug = await slug_of(pool, "deep_dives", dive)
    soon = await pool.fetchval(
        "UPDATE stories SET published_at = now() + interval '3 seconds' WHERE id = $1 "
        "RETURNING published_at",
        story,
    )
    assert (await data(client, _SEEN, d=slug, q="gannet"))["deepDive"] is None
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    assert (await data(client, _SEEN, d=slug, q="gannet"))["deepDive"] == {"slug": slug}


_NEW_DIVE = """INSERT INTO deep_dives (story_id, slug, title, status, published_at)
               VALUES ($1, 'gannet-race', 'Gannet race', 'PUBLISHED', $2)"""
_HIDE = "UPDATE stories SET status = 'DRAFT', published_at = NULL WHERE id = $1"


@pytest.mark.parametrize("first", ["story", "deep dive"])
async def test_a_deep_dive_and_its_story_written_at_once_stay_in_step(pool, first: str) -> None:
    """A deep dive written while another transaction changes its story: whichever starts
    first, the other waits for it to commit and the deep dive ends with the story's time
    (the deep dive's trigger locks the story's row; without it both went ahead and the deep
    dive kept the time its story no longer had)."""
    story = await create_story(pool)
    statements = [(_HIDE, (story,)), (_NEW_DIVE, (story, PAST))]
    if first == "deep dive":
        statements.reverse()
    (early, early_args), (late, late_args) = statements
    async with pool.acquire() as one, pool.acquire() as two:
        transaction = one.transaction()
        await transaction.start()
        await one.execute(early, *early_args)
        waiting = asyncio.create_task(two.execute(late, *late_args))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await transaction.commit()
        await waiting
    assert await pool.fetchval(_STORY_TIME_DIFFERS) == 0
    assert await pool.fetchval("SELECT story_published_at FROM deep_dives") is None
