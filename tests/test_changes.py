"""The change feed through GraphQL: what each editorial write tells partners, in order, with
purge keys, and nothing about drafts or schedules before their time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.pool import Pool
from schema.relay import from_global_id
from tests.conftest import data, error_codes, graphql
from tests.test_mutations import CREATE_DIVE, PUBLISH, UNPUBLISH, UPDATE, create, ok

CHANGES = """query($first: Int!, $after: String) { changes(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { event at kind itemId slug reason purgeKeys
    item { __typename ... on Story { slug title } ... on DeepDive { slug } } } } } }"""
TAKE_DOWN = """mutation($id: ID!, $version: Int!, $reason: String!) {
  takeDownStory(id: $id, version: $version, reason: $reason) {
    story { status version } userErrors { field code message } } }"""
PUBLISH_DIVE = """mutation($id: ID!, $version: Int!, $at: DateTime) {
  publishDeepDive(id: $id, version: $version, at: $at) {
    deepDive { id version } userErrors { field code message } } }"""


async def changes(client: Any, key: str | None = None, **variables: Any) -> dict[str, Any]:
    variables = {"first": 50, "after": None} | variables
    result: dict[str, Any] = (await data(client, CHANGES, key=key, **variables))["changes"]
    return result


def events(feed: dict[str, Any]) -> list[tuple[str, str]]:
    return [(edge["node"]["event"], edge["node"]["slug"]) for edge in feed["edges"]]


@pytest.fixture
async def admin(make_key: Any) -> str:
    key: str = await make_key("ADMIN", name="legal")
    return key


async def test_the_lifecycle_of_a_story_as_partners_see_it(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    story = await create(client, editor, sources=newsroom["sources"], topics=["energy"])
    await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={})
    drafted = await ok(
        client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={"title": "T2"}
    )
    assert (await changes(client))["edges"] == [], "editing a draft tells partners nothing"

    published = await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=2)
    feed = await changes(client)
    assert events(feed) == [("PUBLISHED", "grid-deal")]
    change = feed["edges"][0]["node"]
    assert change["kind"] == "STORY" and change["itemId"] == story["id"]
    assert change["item"] == {"__typename": "Story", "slug": "grid-deal", "title": "T2"}
    pk = from_global_id(drafted["story"]["id"])[1]
    assert change["purgeKeys"] == [
        f"story-{pk}",
        "stories",
        "topic-energy",
        "feeds",
        "sitemaps",
    ]
    version = published["story"]["version"]
    await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=version, input={})
    await ok(
        client,
        UPDATE,
        editor,
        "updateStory",
        id=story["id"],
        version=version,
        input={"title": "T3"},
    )
    await ok(client, UNPUBLISH, editor, "unpublishStory", id=story["id"], version=version + 1)
    feed = await changes(client, key=editor)
    assert events(feed) == [
        ("PUBLISHED", "grid-deal"),
        ("UPDATED", "grid-deal"),
        ("UNPUBLISHED", "grid-deal"),
    ], "an unchanged write is no event"
    assert [edge["node"]["item"] for edge in feed["edges"]] == [None, None, None], (
        "the item is as it is now: gone, even for editors (the feed is the public view)"
    )
    times = [edge["node"]["at"] for edge in feed["edges"]]
    assert times == sorted(times) and feed["totalCount"] == 3


async def test_a_cursor_resumes_where_the_partner_stopped(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    for n in range(3):
        made = await create(client, editor, slug=f"s{n}", sources=newsroom["sources"][:1])
        await ok(client, PUBLISH, editor, "publishStory", id=made["id"], version=1)
    first = await changes(client, first=2)
    assert events(first) == [("PUBLISHED", "s0"), ("PUBLISHED", "s1")]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await changes(client, after=first["pageInfo"]["endCursor"])
    assert events(rest) == [("PUBLISHED", "s2")] and rest["pageInfo"]["hasNextPage"] is False
    caught_up = await changes(client, after=rest["pageInfo"]["endCursor"])
    assert caught_up["edges"] == []
    assert caught_up["pageInfo"]["endCursor"] == rest["pageInfo"]["endCursor"], (
        "an empty page keeps the caller's place"
    )
    made = await create(client, editor, slug="s3")
    await ok(client, PUBLISH, editor, "publishStory", id=made["id"], version=1)
    later = await changes(client, after=caught_up["pageInfo"]["endCursor"])
    assert events(later) == [("PUBLISHED", "s3")]

    for bad in ({"after": "nonsense"}, {"first": 101}, {"first": -1}):
        body = await graphql(client, CHANGES, **({"first": 50, "after": None} | bad))
        assert error_codes(body) == ["BAD_USER_INPUT"], bad


async def test_a_schedule_is_announced_when_its_time_comes(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    soon = await create(client, editor, slug="soon", sources=newsroom["sources"][:1])
    withdrawn = await create(client, editor, slug="withdrawn", sources=newsroom["sources"][:1])
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    for story in (soon, withdrawn):
        await ok(
            client, PUBLISH, editor, "publishStory", id=story["id"], version=1, at=at.isoformat()
        )
    await ok(client, UNPUBLISH, editor, "unpublishStory", id=withdrawn["id"], version=2)
    assert (await changes(client))["edges"] == [], "nothing leaks before the publish time"

    await asyncio.sleep((at - datetime.now(UTC)).total_seconds() + 0.2)
    feed = await changes(client)
    assert events(feed) == [("PUBLISHED", "soon")], "a withdrawn schedule never shows"
    assert datetime.fromisoformat(feed["edges"][0]["node"]["at"]) == at
    assert feed["edges"][0]["node"]["item"]["slug"] == "soon"


async def test_a_live_story_moved_to_the_future_is_pulled_then_published(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    story = await create(client, editor, sources=newsroom["sources"][:1])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=2, at=later)
    assert events(await changes(client)) == [
        ("PUBLISHED", "grid-deal"),
        ("UNPUBLISHED", "grid-deal"),
    ], "the publish an hour from now is not listed yet"


async def test_a_deep_dive_follows_its_story_in_and_out_of_sight(
    client: Any, editor: str, admin: str, newsroom: dict[str, Any]
) -> None:
    left = newsroom["sources"][0]
    story = await create(client, editor, sources=[left])
    dive_input = {
        "story": "grid-deal",
        "slug": "grid-deal-deep-dive",
        "title": "Why it matters",
        "sections": [{"heading": "Background", "body": "Text."}],
        "citations": [{"source": left, "note": "the deal"}],
    }
    dive = (await ok(client, CREATE_DIVE, editor, "createDeepDive", input=dive_input))["deepDive"]
    await ok(client, PUBLISH_DIVE, editor, "publishDeepDive", id=dive["id"], version=1)
    assert (await changes(client))["edges"] == [], "its story is still a draft"

    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    feed = await changes(client)
    assert events(feed) == [("PUBLISHED", "grid-deal"), ("PUBLISHED", "grid-deal-deep-dive")]
    dive_change = feed["edges"][1]["node"]
    assert dive_change["kind"] == "DEEP_DIVE" and dive_change["itemId"] == dive["id"]
    assert dive_change["item"] == {"__typename": "DeepDive", "slug": "grid-deal-deep-dive"}
    story_pk, dive_pk = from_global_id(story["id"])[1], from_global_id(dive["id"])[1]
    assert f"deep-dive-{dive_pk}" in feed["edges"][0]["node"]["purgeKeys"]
    assert dive_change["purgeKeys"][:3] == [
        f"deep-dive-{dive_pk}",
        f"story-{story_pk}",
        "deep-dives",
    ]

    # A takedown is an admin's, with a reason partners read; it takes the deep dive too.
    forbidden = await graphql(
        client, TAKE_DOWN, key=editor, id=story["id"], version=2, reason="Legal request"
    )
    assert error_codes(forbidden) == ["FORBIDDEN"]
    blank = await graphql(client, TAKE_DOWN, key=admin, id=story["id"], version=2, reason="  ")
    assert error_codes(blank) == ["BAD_USER_INPUT"]
    stale = (await data(client, TAKE_DOWN, key=admin, id=story["id"], version=1, reason="Legal"))[
        "takeDownStory"
    ]
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    assert len((await changes(client))["edges"]) == 2, "refused takedowns change nothing"

    taken = (
        await data(client, TAKE_DOWN, key=admin, id=story["id"], version=2, reason="Legal request")
    )["takeDownStory"]
    assert taken["story"]["status"] == "ARCHIVED"
    feed = await changes(client)
    assert events(feed)[2:] == [
        ("TAKEN_DOWN", "grid-deal"),
        ("TAKEN_DOWN", "grid-deal-deep-dive"),
    ]
    assert {edge["node"]["reason"] for edge in feed["edges"][2:]} == {"Legal request"}
    assert [edge["node"]["item"] for edge in feed["edges"]] == [None] * 4


async def test_archiving_is_announced_as_a_removal(
    client: Any, editor: str, newsroom: dict[str, Any], pool: Pool
) -> None:
    archive = """mutation($id: ID!, $version: Int!) { archiveStory(id: $id, version: $version) {
      userErrors { code } } }"""
    story = await create(client, editor, sources=newsroom["sources"][:1])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    await ok(client, archive, editor, "archiveStory", id=story["id"], version=2)
    assert events(await changes(client)) == [("PUBLISHED", "grid-deal"), ("ARCHIVED", "grid-deal")]
    assert await pool.fetchval("SELECT count(*) FROM content_changes") == 2
