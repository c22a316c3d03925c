"""Editorial mutations through HTTP: roles, validation, versions, lifecycle, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.pool import Pool
from tests.conftest import data, error_codes, graphql

STORY_FIELDS = "id slug title status version publishedAt sourceCount topics { slug }"
PAYLOAD = f"story {{ {STORY_FIELDS} }} userErrors {{ field code message currentVersion }}"
CREATE = f"mutation($input: CreateStoryInput!) {{ createStory(input: $input) {{ {PAYLOAD} }} }}"
UPDATE = f"""mutation($id: ID!, $version: Int!, $input: UpdateStoryInput!) {{
  updateStory(id: $id, version: $version, input: $input) {{ {PAYLOAD} }} }}"""
SOURCES = f"""mutation($id: ID!, $version: Int!, $sources: [String!]!) {{
  setStorySources(id: $id, version: $version, sources: $sources) {{ {PAYLOAD} }} }}"""
TOPICS = f"""mutation($id: ID!, $version: Int!, $topics: [String!]!) {{
  setStoryTopics(id: $id, version: $version, topics: $topics) {{ {PAYLOAD} }} }}"""
PUBLISH = f"""mutation($id: ID!, $version: Int!, $at: DateTime) {{
  publishStory(id: $id, version: $version, at: $at) {{ {PAYLOAD} }} }}"""
UNPUBLISH = f"""mutation($id: ID!, $version: Int!) {{
  unpublishStory(id: $id, version: $version) {{ {PAYLOAD} }} }}"""
ARCHIVE = f"""mutation($id: ID!, $version: Int!) {{
  archiveStory(id: $id, version: $version) {{ {PAYLOAD} }} }}"""
OUTLET = """mutation($input: OutletInput!) { upsertOutlet(input: $input) {
  outlet { id slug name bias } userErrors { field code message } } }"""
SOURCE = """mutation($input: SourceInput!) { upsertSource(input: $input) {
  source { id url title } userErrors { field code message } } }"""
TOPIC = """mutation($input: TopicInput!) { upsertTopic(input: $input) {
  topic { id slug name } userErrors { field code message } } }"""
DIVE_PAYLOAD = """deepDive { id slug status version sections { heading body(format: MARKDOWN)
  html: body } citations { number source { url } } } userErrors { field code message }"""
CREATE_DIVE = f"""mutation($input: CreateDeepDiveInput!) {{
  createDeepDive(input: $input) {{ {DIVE_PAYLOAD} }} }}"""
UPDATE_DIVE = f"""mutation($id: ID!, $version: Int!, $input: UpdateDeepDiveInput!) {{
  updateDeepDive(id: $id, version: $version, input: $input) {{ {DIVE_PAYLOAD} }} }}"""
PUBLIC_STORY = "query($slug: String!) { story(slug: $slug) { slug status } }"
PREVIEW_STORY = "query($slug: String!) { story(slug: $slug, preview: true) { slug status } }"


async def make_newsroom(client: Any, editor: str) -> dict[str, Any]:
    """Two outlets, two sources, a category and a topic, made through the mutations."""
    for outlet in (
        {"slug": "left-daily", "bias": "LEFT"},
        {"slug": "right-daily", "bias": "RIGHT"},
    ):
        name = outlet["slug"].replace("-", " ").title()
        domain = f"{outlet['slug']}.test"
        await ok(
            client, OUTLET, editor, "upsertOutlet", input={**outlet, "name": name, "domain": domain}
        )
    urls = []
    for n, outlet_slug in enumerate(["left-daily", "right-daily"], 1):
        source = {
            "url": f"https://{outlet_slug}.test/a/{n}",
            "outlet": outlet_slug,
            "title": f"A{n}",
        }
        urls.append(
            (await ok(client, SOURCE, editor, "upsertSource", input=source))["source"]["url"]
        )
    for topic in ({"slug": "world", "kind": "CATEGORY"}, {"slug": "energy", "kind": "TOPIC"}):
        await ok(
            client, TOPIC, editor, "upsertTopic", input={**topic, "name": topic["slug"].title()}
        )
    return {"sources": urls}


async def ok(client: Any, query: str, key: str, field: str, **variables: Any) -> dict[str, Any]:
    """The payload of a mutation that must succeed without user errors."""
    payload: dict[str, Any] = (await data(client, query, key=key, **variables))[field]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def create(client: Any, key: str, **fields: Any) -> dict[str, Any]:
    story = {"slug": "grid-deal", "title": "Grid deal", **fields}
    result: dict[str, Any] = (await ok(client, CREATE, key, "createStory", input=story))["story"]
    return result


@pytest.mark.parametrize("role", [None, "PUBLIC", "PARTNER"])
async def test_readers_may_not_write(client: Any, pool: Pool, make_key: Any, role: str) -> None:
    key = await make_key(role) if role else None
    body = await graphql(client, CREATE, key=key, input={"slug": "x", "title": "X"})
    assert error_codes(body) == ["FORBIDDEN"]
    assert await pool.fetchval("SELECT count(*) FROM stories") == 0


@pytest.mark.parametrize("role", ["EDITOR", "ADMIN"])
async def test_editors_and_admins_create_drafts(
    client: Any, newsroom: dict[str, Any], make_key: Any, role: str
) -> None:
    key = await make_key(role)
    story = await create(
        client, key, category="world", topics=["energy"], sources=newsroom["sources"]
    )
    assert (story["status"], story["version"], story["sourceCount"]) == ("DRAFT", 1, 2)
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"] is None
    assert (await data(client, PREVIEW_STORY, key=key, slug="grid-deal"))["story"] == {
        "slug": "grid-deal",
        "status": "DRAFT",
    }


async def test_invalid_input_lists_every_problem_and_writes_nothing(
    client: Any, pool: Pool, editor: str, newsroom: dict[str, Any]
) -> None:
    story = {
        "slug": "Not A Slug",
        "title": "x" * 301,
        "topics": ["energy", "no-such-topic"],
        "sources": ["https://nowhere.test/a", "ftp://files.test/x"],
        "heroImage": {"url": "javascript:alert(1)"},
        "category": "energy",
    }
    payload = (await data(client, CREATE, key=editor, input=story))["createStory"]
    assert payload["story"] is None
    found = {(tuple(e["field"]), e["code"]) for e in payload["userErrors"]}
    assert found == {
        (("input", "slug"), "INVALID"),
        (("input", "title"), "TOO_LONG"),
        (("input", "sources", "1"), "INVALID"),
        (("input", "heroImage", "url"), "INVALID"),
    }
    # References are checked once the document itself is valid.
    story |= {"slug": "grid", "title": "Grid", "sources": ["https://nowhere.test/a"]}
    story["heroImage"] = {"url": "https://img.test/a.jpg"}
    payload = (await data(client, CREATE, key=editor, input=story))["createStory"]
    assert {(tuple(e["field"]), e["code"]) for e in payload["userErrors"]} == {
        (("input", "category"), "UNKNOWN_REFERENCE")
    }
    story["category"] = "world"
    payload = (await data(client, CREATE, key=editor, input=story))["createStory"]
    assert {(tuple(e["field"]), e["code"]) for e in payload["userErrors"]} == {
        (("input", "topics", "1"), "UNKNOWN_REFERENCE"),
    }
    assert await pool.fetchval("SELECT count(*) FROM stories") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE entity = 'story'") == 0


async def test_a_taken_slug_is_refused(client: Any, editor: str, newsroom: Any) -> None:
    await create(client, editor)
    payload = await data(client, CREATE, key=editor, input={"slug": "grid-deal", "title": "B"})
    assert payload["createStory"]["userErrors"][0]["code"] == "TAKEN"


async def test_a_stale_version_is_a_conflict_and_changes_nothing(
    client: Any, editor: str, newsroom: Any
) -> None:
    story = await create(client, editor)
    first = await ok(
        client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={"title": "One"}
    )
    assert first["story"]["version"] == 2
    stale = (
        await data(client, UPDATE, key=editor, id=story["id"], version=1, input={"title": "Two"})
    )["updateStory"]
    assert stale["userErrors"] == [
        {
            "field": ["version"],
            "code": "CONFLICT",
            "message": "The story was changed by someone else: you sent version 1, the current "
            "version is 2; nothing was changed.",
            "currentVersion": 2,
        }
    ]
    assert (stale["story"]["title"], stale["story"]["version"]) == ("One", 2)


async def test_two_editors_racing_on_one_version_cannot_both_win(
    client: Any, make_key: Any, newsroom: Any
) -> None:
    alice, bob = await make_key("EDITOR", name="alice"), await make_key("EDITOR", name="bob")
    story = await create(client, alice)
    results = await asyncio.gather(
        *(
            data(client, UPDATE, key=key, id=story["id"], version=1, input={"title": title})
            for key, title in ((alice, "Alice's"), (bob, "Bob's"))
        )
    )
    payloads = [r["updateStory"] for r in results]
    codes = sorted(e["code"] for p in payloads for e in p["userErrors"])
    assert codes == ["CONFLICT"]
    winner = next(p for p in payloads if not p["userErrors"])["story"]
    loser = next(p for p in payloads if p["userErrors"])["story"]
    assert winner["version"] == 2 and loser == winner


async def test_an_unchanged_update_keeps_the_version(
    client: Any, editor: str, newsroom: Any
) -> None:
    story = await create(client, editor, title="Same")
    same = await ok(
        client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={"title": "Same"}
    )
    assert same["story"]["version"] == 1


async def test_sources_and_topics_are_set_in_order(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    story = await create(client, editor)
    left, right = newsroom["sources"]
    # Tracking parameters and case in the host do not make another source.
    loud_right = (
        right.replace("https://right-daily.test", "HTTPS://Right-Daily.TEST") + "?utm_source=x"
    )
    payload = await ok(
        client,
        SOURCES,
        editor,
        "setStorySources",
        id=story["id"],
        version=1,
        sources=[loud_right, left],
    )
    assert payload["story"]["sourceCount"] == 2
    query = "query($slug: String!) { story(slug: $slug, preview: true) { sources { edges { node { url } } } } }"  # noqa: E501
    edges = (await data(client, query, key=editor, slug="grid-deal"))["story"]["sources"]["edges"]
    assert [e["node"]["url"] for e in edges] == [right, left]
    topics = await ok(
        client, TOPICS, editor, "setStoryTopics", id=story["id"], version=2, topics=["energy"]
    )
    assert topics["story"]["topics"] == [{"slug": "energy"}]
    twice = (
        await data(client, TOPICS, key=editor, id=story["id"], version=3, topics=["energy"] * 2)
    )["setStoryTopics"]
    assert twice["userErrors"][0] == {
        "field": ["topics", "1"],
        "code": "DUPLICATE",
        "message": "energy is listed twice",
        "currentVersion": None,
    }


async def test_publish_now_schedule_unpublish_and_archive(
    client: Any, editor: str, newsroom: Any
) -> None:
    story = await create(client, editor)
    published = await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    assert published["story"]["status"] == "PUBLISHED"
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"]["status"] == "PUBLISHED"

    hidden = await ok(client, UNPUBLISH, editor, "unpublishStory", id=story["id"], version=2)
    assert hidden["story"]["status"] == "DRAFT"
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"] is None

    soon = datetime.now(UTC) + timedelta(seconds=2)
    scheduled = await ok(
        client, PUBLISH, editor, "publishStory", id=story["id"], version=3, at=soon.isoformat()
    )
    assert scheduled["story"]["status"] == "SCHEDULED"
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"] is None
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    # The embargo lifts at read time: no job ran in between.
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"]["status"] == "PUBLISHED"

    archived = await ok(client, ARCHIVE, editor, "archiveStory", id=story["id"], version=4)
    assert archived["story"]["status"] == "ARCHIVED"
    assert (await data(client, PUBLIC_STORY, slug="grid-deal"))["story"] is None


async def test_publish_times_need_an_offset(client: Any, editor: str, newsroom: Any) -> None:
    story = await create(client, editor)
    body = await graphql(
        client, PUBLISH, key=editor, id=story["id"], version=1, at="2026-03-01T09:00:00"
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "time zone" in body["errors"][0]["message"]


async def test_wrong_ids_and_versions_are_bad_input(client: Any, editor: str) -> None:
    from schema.relay import to_global_id

    missing = await data(
        client, UPDATE, key=editor, id=to_global_id("Story", 999), version=1, input={}
    )
    assert missing["updateStory"]["userErrors"][0]["code"] == "NOT_FOUND"
    wrong_type = await graphql(
        client, UPDATE, key=editor, id=to_global_id("Topic", 1), version=1, input={}
    )
    assert error_codes(wrong_type) == ["BAD_USER_INPUT"]
    zero = await graphql(
        client, UPDATE, key=editor, id=to_global_id("Story", 1), version=0, input={}
    )
    assert error_codes(zero) == ["BAD_USER_INPUT"]


async def test_deep_dives_cite_only_their_story_sources(
    client: Any, pool: Pool, editor: str, newsroom: dict[str, Any]
) -> None:
    left, right = newsroom["sources"]
    await create(client, editor, sources=[left])
    dive = {
        "story": "grid-deal",
        "slug": "grid-deal-deep-dive",
        "title": "Why the grid deal matters",
        "sections": [{"heading": "Background", "body": "**Bold** <script>alert(1)</script>"}],
        "keyActors": ["energy"],
        "citations": [{"source": right, "note": "not this story's"}],
    }
    refused = (await data(client, CREATE_DIVE, key=editor, input=dive))["createDeepDive"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "citations", "0", "source"], "NOT_A_STORY_SOURCE")
    ]
    unknown = await data(client, CREATE_DIVE, key=editor, input=dive | {"story": "nope"})
    assert unknown["createDeepDive"]["userErrors"][0]["code"] == "UNKNOWN_REFERENCE"
    assert await pool.fetchval("SELECT count(*) FROM deep_dives") == 0

    dive["citations"] = [{"source": left, "note": "the deal"}]
    made = (await ok(client, CREATE_DIVE, editor, "createDeepDive", input=dive))["deepDive"]
    assert made["status"] == "DRAFT"
    section = made["sections"][0]
    assert section["body"] == "**Bold** <script>alert(1)</script>", "stored as written"
    assert "<script" not in section["html"] and "<strong>Bold</strong>" in section["html"]
    assert made["citations"] == [{"number": 1, "source": {"url": left}}]

    # One bad field fails the whole update: the valid sections are not written either.
    change = {"sections": [{"heading": "New", "body": "new"}], "citations": [{"source": right}]}
    failed = (await data(client, UPDATE_DIVE, key=editor, id=made["id"], version=1, input=change))[
        "updateDeepDive"
    ]
    assert failed["userErrors"][0]["code"] == "NOT_A_STORY_SOURCE"
    assert failed["deepDive"]["sections"][0]["heading"] == "Background"

    # A cited source cannot be taken off the story.
    story_id = (
        await data(
            client, PREVIEW_STORY.replace("slug status", "id version"), key=editor, slug="grid-deal"
        )
    )["story"]["id"]
    cut = await data(client, SOURCES, key=editor, id=story_id, version=1, sources=[right])
    assert cut["setStorySources"]["userErrors"][0]["code"] == "CITED_SOURCE"


async def test_upserts_are_idempotent_by_slug_and_canonical_url(
    client: Any, pool: Pool, editor: str, newsroom: dict[str, Any]
) -> None:
    source = {"url": "https://left-daily.test/a/1?utm_campaign=x#comments", "outlet": "left-daily"}
    again = await ok(client, SOURCE, editor, "upsertSource", input=source | {"title": "Renamed"})
    assert again["source"]["url"] == "https://left-daily.test/a/1"
    assert await pool.fetchval("SELECT count(*) FROM sources") == 2
    renamed = await ok(
        client,
        OUTLET,
        editor,
        "upsertOutlet",
        input={
            "slug": "left-daily",
            "name": "Left",
            "domain": "left-daily.test",
            "bias": "LEAN_LEFT",
        },
    )
    assert renamed["outlet"]["bias"] == "LEAN_LEFT"
    assert await pool.fetchval("SELECT count(*) FROM outlets") == 2
    clash = await data(
        client,
        OUTLET,
        key=editor,
        input={"slug": "other", "name": "Other", "domain": "left-daily.test"},
    )
    assert clash["upsertOutlet"]["userErrors"][0] == {
        "field": ["input", "domain"],
        "code": "TAKEN",
        "message": "another outlet has this domain",
    }


async def test_the_audit_log_says_who_changed_what(
    client: Any, editor: str, make_key: Any, newsroom: Any
) -> None:
    story = await create(client, editor)
    await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={"title": "B"})
    query = """{ auditLog(first: 2) { totalCount edges { node {
        actor action entity entityKey beforeVersion afterVersion keyId } } } }"""
    assert error_codes(await graphql(client, query, key=editor)) == ["FORBIDDEN"]
    log = (await data(client, query, key=await make_key("ADMIN")))["auditLog"]
    assert log["totalCount"] == 8  # 2 outlets, 2 sources, 2 topics, the story twice
    newest = [e["node"] for e in log["edges"]]
    assert [
        (n["action"], n["entityKey"], n["beforeVersion"], n["afterVersion"]) for n in newest
    ] == [
        ("update", "grid-deal", 1, 2),
        ("create", "grid-deal", None, 1),
    ]
    assert {n["actor"] for n in newest} == {"desk"} and newest[0]["keyId"]


DIVE_LIFECYCLE = """mutation($id: ID!, $version: Int!, $at: DateTime) {
  publish: publishDeepDive(id: $id, version: $version, at: $at) {
    deepDive { status version } userErrors { code } } }"""
DIVE_HIDE = """mutation($id: ID!, $version: Int!) {
  unpublish: unpublishDeepDive(id: $id, version: $version) { deepDive { status version } }
}"""
DIVE_ARCHIVE = """mutation($id: ID!, $version: Int!) {
  archive: archiveDeepDive(id: $id, version: $version) { deepDive { status version } }
}"""
PUBLIC_DIVE = "query($slug: String!) { deepDive(slug: $slug) { status } }"


async def test_deep_dives_have_the_same_lifecycle(
    client: Any, editor: str, newsroom: dict[str, Any]
) -> None:
    story = await create(client, editor)
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    made = await ok(
        client,
        CREATE_DIVE,
        editor,
        "createDeepDive",
        input={"story": "grid-deal", "slug": "grid-dive", "title": "Grid dive"},
    )
    dive_id = made["deepDive"]["id"]
    assert (await data(client, PUBLIC_DIVE, slug="grid-dive"))["deepDive"] is None
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = await data(client, DIVE_LIFECYCLE, key=editor, id=dive_id, version=1, at=later)
    assert scheduled["publish"]["deepDive"] == {"status": "SCHEDULED", "version": 2}
    assert (await data(client, PUBLIC_DIVE, slug="grid-dive"))["deepDive"] is None
    now = await data(client, DIVE_LIFECYCLE, key=editor, id=dive_id, version=2)
    assert now["publish"]["deepDive"] == {"status": "PUBLISHED", "version": 3}
    assert (await data(client, PUBLIC_DIVE, slug="grid-dive"))["deepDive"] == {
        "status": "PUBLISHED"
    }
    hidden = await data(client, DIVE_HIDE, key=editor, id=dive_id, version=3)
    assert hidden["unpublish"]["deepDive"]["status"] == "DRAFT"
    archived = await data(client, DIVE_ARCHIVE, key=editor, id=dive_id, version=4)
    assert archived["archive"]["deepDive"] == {"status": "ARCHIVED", "version": 5}
    assert (await data(client, PUBLIC_DIVE, slug="grid-dive"))["deepDive"] is None
    stale = await data(client, DIVE_LIFECYCLE, key=editor, id=dive_id, version=4)
    assert stale["publish"]["userErrors"] == [{"code": "CONFLICT"}]
