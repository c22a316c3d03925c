"""The response cache (api.response_cache): shared answers come from memory, every kind of
write and the clock drop what they change, and nothing personal or per-editor is kept."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from api.settings import Settings
from content.changes import item_key
from db import purge
from schema.relay import from_global_id
from tests.conftest import bearer, data, serving
from tests.test_mutations import (
    OUTLET,
    PUBLISH,
    SOURCE,
    TOPIC,
    UNPUBLISH,
    UPDATE,
    create,
    ok,
)

STORY = """query($slug: String!) { story(slug: $slug) { title topics { name }
  sources(first: 5) { edges { node { title outlet { name } } } } } }"""
VERSION = "query($slug: String!) { story(slug: $slug, preview: true) { version } }"
LIST = "query { stories(first: 10) { edges { node { slug title } } } }"
PATIENCE_SECONDS = 5.0
"""How long a test waits for a purge to arrive (the service promises 1 s; bench/cache.py
measures it; CI machines are slow)."""


@contextlib.asynccontextmanager
async def cached_app(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    changed = replace(settings, response_cache_bytes=changes.pop("bytes", 8 << 20), **changes)
    async with serving(changed) as http:
        await until(lambda: stats(http), lambda s: s["live"])
        yield http


@pytest.fixture
async def cached(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with cached_app(settings) as http:
        yield http


async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
    found: dict[str, Any] = (await http.get("/stats")).json()["responseCache"]
    return found


async def until(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], seconds: float = 5.0
) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if done(found) or time.monotonic() > deadline:
            assert done(found), found
            return found
        await asyncio.sleep(0.02)


def is_hit(response: httpx.Response) -> bool:
    return response.headers.get("x-cache") == "HIT"


async def get(
    http: httpx.AsyncClient, query: str, key: str | None = None, **variables: Any
) -> httpx.Response:
    params = {"query": query}
    if variables:
        params["variables"] = json.dumps(variables)
    return await http.get("/graphql", params=params, headers=bearer(key))


async def test_a_shared_answer_is_served_from_memory_with_its_etag(cached, pool) -> None:
    first = await get(cached, LIST)
    again = await get(cached, LIST)
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert again.headers["server-timing"] == 'cache;desc="hit"'
    assert again.headers["cache-control"] == first.headers["cache-control"]
    # A revalidation is answered from memory too, with no query.
    etag = first.headers["etag"]
    revalidated = await cached.get(
        "/graphql", params={"query": LIST}, headers={"If-None-Match": etag}
    )
    assert (revalidated.status_code, revalidated.headers["x-cache"]) == (304, "HIT")
    # POST is kept under its body.
    posted = [await cached.post("/graphql", json={"query": LIST}) for _ in range(2)]
    assert [p.headers["x-cache"] for p in posted] == ["MISS", "HIT"]
    assert posted[1].content == first.content
    counts = await stats(cached)
    assert counts["hits"] >= 3 and counts["entries"] == 2 and counts["bytes"] > 0


async def test_every_kind_of_write_drops_what_it_changes(cached, client, newsroom, editor) -> None:
    story = await create(
        client, editor, category="world", topics=["energy"], sources=newsroom["sources"]
    )
    version = (await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1))[
        "story"
    ]["version"]

    async def read(query: str, **variables: Any) -> Any:
        response = await get(cached, query, **variables)
        return response.headers["x-cache"], response.json()["data"]

    async def changes_to(query: str, expected: Callable[[Any], bool], **variables: Any) -> None:
        """The answer is cached, then the write (done before) shows within the patience."""
        await until(lambda: read(query, **variables), lambda r: expected(r[1]), PATIENCE_SECONDS)

    async def warm(query: str, **variables: Any) -> None:
        # A purge still on its way from the last write drops the first answer or the next.
        await until(lambda: read(query, **variables), lambda r: r[0] == "HIT")

    def title(found: Any) -> str:
        return found["story"]["title"] if found["story"] else None

    # A publish shows in the lists.
    await changes_to(LIST, lambda d: [e["node"]["slug"] for e in d["stories"]["edges"]] != [])
    await warm(STORY, slug="grid-deal")
    # The story's own write.
    signed = {"title": "Grid deal signed"}
    await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=version, input=signed)
    await changes_to(STORY, lambda d: title(d) == "Grid deal signed", slug="grid-deal")
    # An outlet renamed: the story shows its name through a source.
    await warm(STORY, slug="grid-deal")
    outlet = {"slug": "left-daily", "name": "The Left Daily", "bias": "LEFT"}
    await ok(client, OUTLET, editor, "upsertOutlet", input=outlet | {"domain": "left-daily.test"})

    def outlets(found: Any) -> set[str]:
        edges = found["story"]["sources"]["edges"]
        return {edge["node"]["outlet"]["name"] for edge in edges}

    await changes_to(STORY, lambda d: "The Left Daily" in outlets(d), slug="grid-deal")
    # A source's title.
    await warm(STORY, slug="grid-deal")
    source = {"url": newsroom["sources"][0], "outlet": "left-daily", "title": "A1, updated"}
    await ok(client, SOURCE, editor, "upsertSource", input=source)

    def sources(found: Any) -> set[str]:
        return {edge["node"]["title"] for edge in found["story"]["sources"]["edges"]}

    await changes_to(STORY, lambda d: "A1, updated" in sources(d), slug="grid-deal")
    # A topic's name.
    await warm(STORY, slug="grid-deal")
    renamed = {"slug": "energy", "kind": "TOPIC", "name": "Energy and power"}
    await ok(client, TOPIC, editor, "upsertTopic", input=renamed)
    await changes_to(
        STORY, lambda d: d["story"]["topics"][0]["name"] == "Energy and power", slug="grid-deal"
    )
    # Unpublished: gone from the page and the lists.
    await warm(STORY, slug="grid-deal")
    await warm(LIST)
    current = (await data(client, VERSION, key=editor, slug="grid-deal"))["story"]["version"]
    await ok(client, UNPUBLISH, editor, "unpublishStory", id=story["id"], version=current)
    await changes_to(STORY, lambda d: d["story"] is None, slug="grid-deal")
    await changes_to(LIST, lambda d: d["stories"]["edges"] == [])
    assert (await stats(cached))["purged"] >= 6


async def test_a_scheduled_story_appears_when_due_with_no_write(
    cached, client, newsroom, editor
) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    due = datetime.now(UTC) + timedelta(seconds=2)
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1, at=due.isoformat())
    before = await get(cached, LIST)
    assert before.json()["data"]["stories"]["edges"] == []
    await until(lambda: get(cached, LIST), is_hit)
    found = await until(
        lambda: get(cached, LIST),
        lambda r: r.json()["data"]["stories"]["edges"] != [],
        PATIENCE_SECONDS + 2,
    )
    assert datetime.now(UTC) >= due
    assert found.json()["data"]["stories"]["edges"][0]["node"]["slug"] == "grid-deal"


async def test_editors_previews_and_errors_are_never_kept(cached, editor, pool) -> None:
    preview = "query { stories(first: 3, preview: true) { edges { node { slug } } } }"
    for _ in range(2):
        response = await get(cached, preview, key=editor)
        assert "x-cache" not in response.headers
    # An editor reading without a preview may see what readers cannot (its own tools): not kept.
    for _ in range(2):
        assert "x-cache" not in (await get(cached, LIST, key=editor)).headers
    broken = "query { stories(first: 3) { edges { node { nope } } } }"
    for _ in range(2):
        response = await get(cached, broken)
        assert response.headers.get("x-cache") != "HIT"
    counts = await stats(cached)
    assert counts["hits"] == 0 and counts["entries"] == 0


async def test_callers_of_another_class_get_answers_of_their_own(cached, make_key) -> None:
    public_key = await make_key("PUBLIC")
    anonymous = [await get(cached, LIST) for _ in range(2)]
    keyed = [await get(cached, LIST, key=public_key) for _ in range(2)]
    assert [r.headers["x-cache"] for r in anonymous + keyed] == ["MISS", "HIT", "MISS", "HIT"]
    assert anonymous[1].headers["cache-control"].startswith("public")
    assert keyed[1].headers["cache-control"].startswith("private")
    # Another key of the same class shares the answer; its rate-limit headers are its own.
    other = await get(cached, LIST, key=await make_key("PUBLIC", rate=77))
    assert other.headers["x-cache"] == "HIT" and other.headers["x-ratelimit-limit"] == "77"


async def test_nothing_is_kept_while_purges_cannot_be_heard(settings) -> None:
    # The purge notices are listened for where NEWSGRAPH_LISTEN_URL says; there, nothing.
    unreachable = replace(
        settings, response_cache_bytes=1 << 20, listen_url="postgresql://nobody@127.0.0.1:9/x"
    )
    async with serving(unreachable) as http:
        answers = [await get(http, LIST) for _ in range(3)]
        assert [a.headers["x-cache"] for a in answers] == ["MISS"] * 3
        found = await stats(http)
        assert not found["live"] and found["entries"] == 0 and found["notKept"] == 3


async def test_the_cache_stays_within_its_bytes(settings, pool) -> None:
    async with cached_app(settings, bytes=16_000) as http:
        for n in range(1, 60):
            await get(http, f"query {{ stories(first: {n}) {{ edges {{ node {{ slug }} }} }} }}")
        counts = await stats(http)
        assert counts["evicted"] > 0 and 0 < counts["bytes"] <= 16_000


async def test_feeds_and_rest_are_kept_and_purged(cached, client, newsroom, editor) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    for path in ("/v1/stories/grid-deal", "/feeds/stories.json"):
        assert (await cached.get(path)).headers["x-cache"] == "MISS", path
        await until(functools.partial(cached.get, path), is_hit)
    outlet = {"slug": "left-daily", "name": "Left Daily Renamed", "bias": "LEFT"}
    await ok(client, OUTLET, editor, "upsertOutlet", input=outlet | {"domain": "left-daily.test"})
    await until(
        lambda: cached.get("/v1/stories/grid-deal"),
        lambda r: b"Left Daily Renamed" in r.content,
        PATIENCE_SECONDS,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _process(database_url: str, workers: int = 1, **settings: str) -> Any:
    port = _free_port()
    env = (
        os.environ
        | settings
        | {
            "DATABASE_URL": database_url,
            "NEWSGRAPH_PORT": str(port),
            "NEWSGRAPH_WEBHOOK_WORKER": "false",
            "NEWSGRAPH_ANONYMOUS_RATE_PER_MINUTE": "1000000",
        }
    )
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--no-access-log",
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.seek(0)
            # pytest shows what a test printed when it fails: the server's last words.
            print(f"--- server on port {port} ---", log.read()[-4000:], sep="\n")


@contextlib.asynccontextmanager
async def two_processes(
    database_url: str, client: Any, newsroom: dict[str, Any], editor: str, **settings: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, Any]]]:
    """Two server processes on one database, each holding the published story's page."""
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    with _process(database_url, **settings) as one, _process(database_url, **settings) as two:
        async with httpx.AsyncClient(base_url=one) as a, httpx.AsyncClient(base_url=two) as b:
            for http in (a, b):
                await until(functools.partial(_up, http), bool, 60)
                await until(functools.partial(stats, http), lambda s: s["live"])
                await until(functools.partial(get, http, STORY, slug="grid-deal"), is_hit)
            yield a, b, story


async def test_a_write_on_one_process_shows_on_another(
    database_url, client, newsroom, editor
) -> None:
    async with two_processes(database_url, client, newsroom, editor) as (a, b, story):
        seen = {"title": "Seen everywhere"}
        await ok(a, UPDATE, editor, "updateStory", id=story["id"], version=2, input=seen)
        for http in (a, b):
            await until(
                functools.partial(get, http, STORY, slug="grid-deal"),
                lambda r: r.json()["data"]["story"]["title"] == "Seen everywhere",
                PATIENCE_SECONDS,
            )


async def test_with_redis_url_purge_notices_travel_through_redis(
    database_url, redis_url, client, newsroom, editor
) -> None:
    redis_on = {"REDIS_URL": redis_url}
    async with two_processes(database_url, client, newsroom, editor, **redis_on) as (a, b, story):
        # What the processes hear is Redis's channel: a notice sent there by hand drops
        # the story (they do not LISTEN in PostgreSQL). Before any write, so that no notice
        # of the write's can drop it first (one once did, and this one then found nothing).
        before = (await stats(b))["purged"]
        sender = redis.Redis.from_url(redis_url)
        try:
            await sender.publish(purge.CHANNEL, item_key("story", pk_of(story["id"])))
        finally:
            await sender.aclose()
        await until(functools.partial(stats, b), lambda s: s["purged"] > before)
        # A write on one process is published once it commits; the other hears it.
        seen = {"title": "Heard through Redis"}
        await ok(a, UPDATE, editor, "updateStory", id=story["id"], version=2, input=seen)
        await until(
            functools.partial(get, b, STORY, slug="grid-deal"),
            lambda r: r.json()["data"]["story"]["title"] == "Heard through Redis",
            PATIENCE_SECONDS,
        )


async def test_serve_with_workers_runs_processes_that_act_as_one(
    database_url, client, newsroom, editor
) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    with _process(database_url, workers=2) as served:
        # A connection of its own for every request, so that both processes get some.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=served, limits=fresh) as http:
            await until(functools.partial(_up, http), bool, 60)
            seen: dict[int, bool] = {}

            async def processes() -> dict[int, bool]:
                found = (await http.get("/stats")).json()
                seen[found["process"]] = found["responseCache"]["live"]
                return seen

            await until(processes, lambda s: len(s) == 2 and all(s.values()), 30)
            for _ in range(20):  # both processes keep the story
                await get(http, STORY, slug="grid-deal")
            seen_now = {"title": "Seen by both"}
            await ok(http, UPDATE, editor, "updateStory", id=story["id"], version=2, input=seen_now)

            async def titles() -> set[str]:
                reads = [await get(http, STORY, slug="grid-deal") for _ in range(20)]
                return {r.json()["data"]["story"]["title"] for r in reads}

            await until(titles, lambda found: found == {"Seen by both"}, PATIENCE_SECONDS)


async def _up(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


def pk_of(global_id: str) -> int:
    return from_global_id(global_id)[1]
