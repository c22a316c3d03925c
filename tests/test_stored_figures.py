"""Stored figures stay true on every write path: after each one, a fresh computation from
the raw rows (the verifier behind `newsgraph verify`) finds nothing that differs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from api.transfer import generate
from db import figures
from db.audit import Actor
from db.pool import Pool
from db.transfer import import_lines
from tests.conftest import data
from tests.factories import cite, create_outlet, create_story
from tests.test_cli import newsgraph
from tests.test_mutations import (
    ARCHIVE,
    CREATE,
    CREATE_DIVE,
    OUTLET,
    PUBLISH,
    SOURCE,
    SOURCES,
    TOPIC,
    TOPICS,
    UNPUBLISH,
    UPDATE,
    UPDATE_DIVE,
    ok,
)

FIGURES = """query($slug: String!) { story(slug: $slug, preview: true) {
  sourceCount blindspot coverageLabel wordCount
  bias { left center right unrated leftPercent centerPercent rightPercent }
  coverage { factuality { rating count percent } countries { country count } latestSourceAt }
} }"""
PUBLISH_DIVE = """mutation($id: ID!, $version: Int!) { publishDeepDive(id: $id, version: $version) {
  deepDive { id version } userErrors { code message } } }"""
TAKE_DOWN = """mutation($id: ID!, $version: Int!) {
  takeDownStory(id: $id, version: $version, reason: "Legal request") {
    story { version } userErrors { code message } } }"""
CHANGES = "{ changes(first: 100) { edges { node { event slug purgeKeys } } } }"


async def mismatches(pool: Pool) -> list[figures.Mismatch]:
    return [found async for found in figures.verify(pool)]


async def assert_true(pool: Pool) -> None:
    assert await mismatches(pool) == []
    assert await figures.queued(pool) == 0


async def shown(client: Any, slug: str, key: str) -> dict[str, Any]:
    story: dict[str, Any] = (await data(client, FIGURES, key=key, slug=slug))["story"]
    return story


async def test_every_write_path_keeps_the_figures_true(client, pool, make_key) -> None:
    editor, admin = await make_key("EDITOR", name="desk"), await make_key("ADMIN", name="boss")

    async def write(query: str, field: str, key: str = editor, **variables: Any) -> Any:
        payload = await ok(client, query, key, field, **variables)
        await assert_true(pool)
        return payload

    for slug, bias in (("lefty", "LEFT"), ("middle", "CENTER"), ("righty", "RIGHT")):
        outlet = {"slug": slug, "name": slug.title(), "domain": f"{slug}.test", "bias": bias}
        await write(OUTLET, "upsertOutlet", input=outlet | {"country": "GB", "factuality": "HIGH"})
    for topic in ({"slug": "world", "kind": "CATEGORY"}, {"slug": "grid", "kind": "TOPIC"}):
        await write(TOPIC, "upsertTopic", input={**topic, "name": topic["slug"].title()})
    urls = []
    for n, outlet in enumerate(("lefty", "middle", "middle", "righty"), 1):
        source = {"url": f"https://{outlet}.test/a/{n}", "outlet": outlet, "title": f"A{n}"}
        urls.append((await write(SOURCE, "upsertSource", input=source))["source"]["url"])

    story = {"slug": "grid-deal", "title": "Grid deal", "category": "world", "topics": ["grid"]}
    a = (await write(CREATE, "createStory", input=story | {"sources": urls[:3]}))["story"]
    b = (await write(CREATE, "createStory", input={"slug": "grid-b", "title": "B"}))["story"]
    a = (
        await write(
            UPDATE,
            "updateStory",
            id=a["id"],
            version=a["version"],
            input={"title": "Grid deal sealed after a long night"},
        )
    )["story"]
    # A source moves from one story to another.
    a = (
        await write(SOURCES, "setStorySources", id=a["id"], version=a["version"], sources=urls[:2])
    )["story"]
    b = (
        await write(
            SOURCES, "setStorySources", id=b["id"], version=b["version"], sources=[urls[3], urls[2]]
        )
    )["story"]
    b = (await write(TOPICS, "setStoryTopics", id=b["id"], version=b["version"], topics=["grid"]))[
        "story"
    ]
    a = (await write(PUBLISH, "publishStory", id=a["id"], version=a["version"]))["story"]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    b = (await write(PUBLISH, "publishStory", id=b["id"], version=b["version"], at=later))["story"]
    assert (await shown(client, "grid-deal", editor))["bias"]["leftPercent"] == 50

    dive = {
        "story": "grid-deal",
        "slug": "grid-dive",
        "title": "Why the grid",
        "sections": [{"heading": "Cables", "body": "Long *cables*.\n\n### Under the sea\n\nYes."}],
        "citations": [{"source": urls[0], "note": "the deal"}],
    }
    found = (await write(CREATE_DIVE, "createDeepDive", input=dive))["deepDive"]
    found = (
        await write(PUBLISH_DIVE, "publishDeepDive", id=found["id"], version=found["version"])
    )["deepDive"]
    await write(
        UPDATE_DIVE,
        "updateDeepDive",
        id=found["id"],
        version=found["version"],
        input={"sections": [{"heading": "Money", "body": "Lots of it, " * 300}]},
    )

    # A source moves to another outlet, and its time changes: its stories' figures follow.
    moved = {"url": urls[0], "outlet": "righty", "title": "A1", "publishedAt": later}
    await write(SOURCE, "upsertSource", input=moved)
    figures_now = await shown(client, "grid-deal", editor)
    assert (figures_now["bias"]["left"], figures_now["bias"]["right"]) == (0, 1)
    assert figures_now["coverage"]["latestSourceAt"] == datetime.fromisoformat(later).isoformat()

    # An outlet is re-rated: every story citing it changes, and readers are told.
    rerated = {
        "slug": "middle",
        "name": "Middle",
        "domain": "middle.test",
        "bias": "LEFT",
        "country": "FR",
        "factuality": "MIXED",
    }
    await write(OUTLET, "upsertOutlet", input=rerated)
    figures_now = await shown(client, "grid-deal", editor)
    assert figures_now["bias"]["left"] == 1 and figures_now["coverageLabel"] == "Mixed Neutral"
    assert figures_now["coverage"]["countries"] == [
        {"country": "FR", "count": 1},
        {"country": "GB", "count": 1},
    ]
    updates = [e["node"] for e in (await data(client, CHANGES))["changes"]["edges"]][-1]
    assert (updates["event"], updates["slug"]) == ("UPDATED", "grid-deal")
    assert (
        "story-" + str(await pool.fetchval("SELECT id FROM stories WHERE slug = 'grid-deal'"))
        in updates["purgeKeys"]
    )

    # NDJSON import, re-rating an outlet on the way.
    lines = [
        {
            "type": "outlet",
            "slug": "lefty",
            "name": "Lefty",
            "domain": "lefty.test",
            "bias": "LEAN_RIGHT",
        },
        {
            "type": "story",
            "slug": "imported",
            "title": "Imported",
            "sources": urls[1:3],
            "status": "PUBLISHED",
            "published_at": "2026-01-02T00:00:00Z",
        },
    ]
    report = await import_lines(
        pool,
        enumerate((orjson.dumps(line).decode() for line in lines), 1),
        actor=Actor("test", None),
    )
    assert not report.rejections, report.rejections
    await assert_true(pool)

    await write(UNPUBLISH, "unpublishStory", id=a["id"], version=a["version"])
    b = await write(ARCHIVE, "archiveStory", id=b["id"], version=b["version"])
    b = b["story"]
    a_now = await pool.fetchval("SELECT version FROM stories WHERE slug = 'grid-deal'")
    await write(TAKE_DOWN, "takeDownStory", key=admin, id=a["id"], version=a_now)

    await generate(pool, 40, seed=77, progress=False)
    await assert_true(pool)


async def test_a_big_re_rating_is_drained_in_batches(pool) -> None:
    outlet = await create_outlet(pool, slug="wire", bias="CENTER")
    stories = [await create_story(pool) for _ in range(7)]
    for story in stories:
        await cite(pool, story, [outlet])
    await pool.execute("UPDATE outlets SET bias = 'RIGHT' WHERE id = $1", outlet)
    async with pool.acquire() as conn, conn.transaction():
        await figures.queue_outlet(conn, outlet)
    assert await figures.queued(pool) == 7
    stale = await mismatches(pool)
    assert {m.item_id for m in stale if m.figure == "rights"} == set(stories)
    assert await figures.drain(pool, batch=3) == 7
    await assert_true(pool)


def test_verify_reports_what_differs_and_exits_1(make_database) -> None:
    url = make_database()
    assert newsgraph("demo", database_url=url).returncode == 0
    clean = newsgraph("verify", database_url=url)
    assert clean.returncode == 0, clean.stderr
    assert "0 mismatches" in clean.stdout
    run_sql(
        url,
        "UPDATE stories SET source_count = source_count + 1 "
        "WHERE slug = 'south-korea-may-join-nato-purl'",
        "DELETE FROM story_listings WHERE list = 'stories' AND story_id = "
        "(SELECT id FROM stories WHERE slug = 'gulf-airspace-reopens-doha-flights')",
    )
    found = newsgraph("verify", database_url=url)
    assert found.returncode == 1
    assert "source_count is 2, expected 1" in found.stdout
    assert "listing stories" in found.stdout and "size stories" not in found.stdout
    assert "2 mismatches" in found.stdout


def run_sql(url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())
