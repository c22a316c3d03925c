"""Live updates (schema.live) against a real server: the change feed and a story as streams
over Server-Sent Events (graphql-sse) and WebSocket (graphql-transport-ws), with the change
feed's visibility, resumption by cursor, per-key bounds and revocation."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets

from db.changes import ChangeRecord
from schema import live
from schema.errors import SlowConsumer, TooManySubscriptions
from schema.live import ChangeHub
from tests.conftest import bearer, data
from tests.test_changes import TAKE_DOWN
from tests.test_mutations import PUBLISH, UPDATE, create, ok
from tests.test_response_cache import PATIENCE_SECONDS, _process, _up, until

CHANGES = "subscription($after: String) { changes(after: $after) { cursor change { event slug } } }"
STORY = "subscription($id: ID!) { story(id: $id) { title } }"
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }"


@pytest.fixture(scope="module")
def server(database_url: str) -> Any:
    with _process(database_url, NEWSGRAPH_MAX_SUBSCRIPTIONS_PER_KEY="3") as url:
        yield url


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        await until(lambda: _up(client), bool, 60)
        yield client


class Stream:
    """The events of one SSE subscription, read in the background."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.done = False

    async def read(self, response: httpx.Response) -> None:
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == "next":
                self.events.append(json.loads(line.removeprefix("data: ")))
            elif kind == "complete":
                break
        self.done = True

    def slugs(self) -> list[str]:
        return [e["data"]["changes"]["change"]["slug"] for e in self.events if e.get("data")]


@contextlib.asynccontextmanager
async def sse(
    http: httpx.AsyncClient, query: str, key: str | None = None, **variables: Any
) -> AsyncIterator[Stream]:
    stream = Stream()
    headers = {"Accept": "text/event-stream", **bearer(key)}
    body = {"query": query, "variables": variables}
    async with http.stream("POST", "/graphql", json=body, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        reading = asyncio.create_task(stream.read(response))
        await asyncio.sleep(0.3)  # subscribed
        try:
            yield stream
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await reading


async def test_the_change_feed_streams_what_readers_may_see_and_when(
    http, client, newsroom, editor
) -> None:
    async with sse(http, CHANGES) as stream:
        story = await create(client, editor, category="world", sources=newsroom["sources"])
        await create(client, editor, slug="a-draft", title="A draft")  # never streamed
        due = datetime.now(UTC) + timedelta(seconds=2)
        at = due.isoformat()
        await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1, at=at)
        await asyncio.sleep(1)
        assert stream.slugs() == [], "nothing before its time"
        await until(lambda: _now(stream), lambda s: s == ["grid-deal"], PATIENCE_SECONDS + 2)
        assert datetime.now(UTC) >= due
        event = stream.events[0]["data"]["changes"]
        assert event["change"]["event"] == "PUBLISHED"
    # Resuming from before it gives it again; from its own cursor, nothing.
    async with sse(http, CHANGES, after=event["cursor"]) as resumed:
        updated = {"title": "Grid deal, updated"}
        await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=2, input=updated)
        await until(lambda: _now(resumed), lambda s: s == ["grid-deal"], PATIENCE_SECONDS)
        first = resumed.events[0]["data"]["changes"]
        assert first["change"]["event"] == "UPDATED" and first["cursor"] != event["cursor"]
        resume_from = first["cursor"]
    async with sse(http, CHANGES, after=event["cursor"]) as again:
        await until(lambda: _now(again), lambda s: s == ["grid-deal"], PATIENCE_SECONDS)
        assert again.events[0]["data"]["changes"]["cursor"] == resume_from


async def _now(stream: Stream) -> list[str]:
    return stream.slugs()


async def test_a_story_streams_over_websocket_as_it_changes(
    server, http, client, newsroom, editor, make_key
) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    url = server.replace("http://", "ws://") + "/graphql"
    protocols = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, subprotocols=protocols) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        message = {"query": STORY, "variables": {"id": story["id"]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": message}))

        async def shown() -> Any:
            while True:
                found = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE_SECONDS))
                if found["type"] == "next":
                    return found["payload"]["data"]["story"]

        assert (await shown())["title"] == "Grid deal"
        live = {"title": "Grid deal, live"}
        await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=2, input=live)
        assert (await shown())["title"] == "Grid deal, live"
        # A takedown is pushed at once: the story is no longer there for readers.
        admin = await make_key("ADMIN")
        reason = {"reason": "Legal request"}
        await ok(client, TAKE_DOWN, admin, "takeDownStory", id=story["id"], version=3, **reason)
        assert await shown() is None


async def test_a_revoked_keys_stream_ends(http, client, make_key) -> None:
    reader, admin = await make_key("PUBLIC", name="reader"), await make_key("ADMIN")
    listed = (await data(client, "{ apiKeys { id name } }", key=admin))["apiKeys"]
    reader_id = next(k["id"] for k in listed if k["name"] == "reader")
    async with sse(http, CHANGES, key=reader) as stream:
        await data(client, REVOKE, key=admin, id=reader_id)
        await until(lambda: _done(stream), bool, PATIENCE_SECONDS)
    errors = [e for e in stream.events if e.get("errors")]
    assert errors and errors[0]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def _done(stream: Stream) -> bool:
    return stream.done


async def test_streams_are_refused_past_a_keys_bound(server, make_key) -> None:
    key = await make_key("PUBLIC")
    async with (
        httpx.AsyncClient(base_url=server, timeout=30) as http,
        contextlib.AsyncExitStack() as held,
    ):
        streams = [await held.enter_async_context(sse(http, CHANGES, key=key)) for _ in range(3)]
        assert not any(s.done for s in streams)
        async with sse(http, CHANGES, key=key) as refused:
            await until(lambda: _done(refused), bool, PATIENCE_SECONDS)
    codes = [e["errors"][0]["extensions"]["code"] for e in refused.events if e.get("errors")]
    assert codes == ["TOO_MANY_SUBSCRIPTIONS"]


async def test_a_subscriber_too_far_behind_is_dropped_not_buffered(pool) -> None:
    hub = ChangeHub(pool)
    with hub.subscribe(key_id=None) as subscriber:
        record = ChangeRecord(1, "story", 1, "s", "UPDATED", None, datetime.now(UTC), [])
        event = live.HubEvent(record)
        for _ in range(live.QUEUE + 1):
            subscriber.offer(event)
        assert subscriber.queue.qsize() == live.QUEUE  # bounded
        with pytest.raises(SlowConsumer):
            await subscriber.next()
    assert hub.subscribers == set()


async def test_a_keys_subscriptions_are_bounded_on_a_process(pool) -> None:
    hub = ChangeHub(pool, max_per_key=2)
    with hub.subscribe(7), hub.subscribe(7), hub.subscribe(None), hub.subscribe(8):
        third = hub.subscribe(7)
        with pytest.raises(TooManySubscriptions):
            third.__enter__()
    assert hub.subscribers == set()


async def test_a_websocket_is_its_keys_when_connection_init_names_one(server, make_key) -> None:
    key = await make_key("PUBLIC")
    url = server.replace("http://", "ws://") + "/graphql"
    protocols = [websockets.Subprotocol("graphql-transport-ws")]

    async def connect(payload: dict[str, Any]) -> Any:
        ws = await websockets.connect(url, subprotocols=protocols)
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return ws

    # A key that is not valid closes the connection; no key leaves it anonymous.
    refused = await connect({"Authorization": "Bearer ng_nope_nope"})
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await refused.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    # Its key's bound applies (3 a key here): the fourth subscription is refused.
    ws = await connect({"Authorization": f"Bearer {key}"})
    try:
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for n in range(1, 5):
            payload = {"query": CHANGES, "variables": {}}
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
        found = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE_SECONDS))
        assert found["id"] == "4" and found["type"] == "next", found
        codes = [e["extensions"]["code"] for e in found["payload"]["errors"]]
        assert codes == ["TOO_MANY_SUBSCRIPTIONS"]
    finally:
        await ws.close()


SHARED_DOCUMENTS: list[tuple[str, bool]] = [
    # (document, whether it takes the story's id)
    (
        "subscription { changes { cursor change { event at kind itemId slug reason purgeKeys "
        "item { __typename id ... on Story { title sourceCount bias { left center right } "
        "sources(first: 2) { totalCount edges { node { title outlet { name } } } } } } } } }",
        False,
    ),
    (
        "subscription Named { live: changes { position: cursor change { ...Parts } } } "
        "fragment Parts on ContentChange { __typename kind event }",
        False,
    ),
    (
        "subscription($id: ID!) { story(id: $id) { title version summary sourceCount "
        "coverageLabel jsonLd topics { slug } sources { edges { node { url } } } } }",
        True,
    ),
    ("subscription($id: ID!) { story(id: $id) { headline: title dive: deepDive { id } } }", True),
]


async def _raw_stream(
    stack: contextlib.AsyncExitStack, http: httpx.AsyncClient, body: dict[str, Any], key: str | None
) -> list[bytes]:
    """The `data:` lines of one SSE subscription, as the server wrote them."""
    lines: list[bytes] = []
    headers = {"Accept": "text/event-stream", **bearer(key)}
    response = await stack.enter_async_context(
        http.stream("POST", "/graphql", json=body, headers=headers)
    )
    assert response.status_code == 200, await response.aread()

    async def read() -> None:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                lines.append(line.removeprefix("data: ").encode())

    reading = asyncio.create_task(read())
    stack.callback(reading.cancel)
    return lines


async def test_shared_renders_are_the_bytes_each_subscriber_would_get_alone(
    database_url, client, newsroom, editor, make_key
) -> None:
    """Differential: a process rendering each event once per distinct operation
    (SharingExecutor) sends every subscriber the same bytes as one rendering it for each."""
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    reader = await make_key("PUBLIC")
    with (
        _process(database_url) as sharing,
        _process(database_url, NEWSGRAPH_LIVE_SHARING="false") as alone,
    ):
        async with (
            httpx.AsyncClient(base_url=sharing, timeout=30) as one,
            httpx.AsyncClient(base_url=alone, timeout=30) as other,
            contextlib.AsyncExitStack() as stack,
        ):
            await until(lambda: _up(one), bool, 60)
            await until(lambda: _up(other), bool, 60)
            pairs = []  # (the sharing process's two streams, the general one's, how many)
            for document, takes_id in SHARED_DOCUMENTS:
                body = {"query": document, "variables": {"id": story["id"]} if takes_id else {}}
                for key in (None, reader):
                    twins = [await _raw_stream(stack, one, body, key) for _ in range(2)]
                    single = await _raw_stream(stack, other, body, key)
                    pairs.append((twins, single, int(takes_id)))  # a story is shown at once
            await asyncio.sleep(0.5)  # subscribed
            for version in (2, 3):
                edit = {"id": story["id"], "version": version}
                new = {"title": f"Grid deal, take {version}"}
                await ok(client, UPDATE, editor, "updateStory", **edit, input=new)
                # Every stream has the write before the next: `item` shows the story as it is.
                await until(lambda w=version - 1: _arrived(pairs, w), bool, PATIENCE_SECONDS)
            stats = (await one.get("/stats")).json()["live"]["renders"]
            assert (await other.get("/stats")).json()["live"]["renders"] is None
    for twins, single, _ in pairs:
        assert twins[0] == twins[1] == single
    assert any(b"Grid deal, take 3" in line for _, single, _ in pairs for line in single)
    # Each event's operations were executed once per distinct document and caller class.
    assert stats["executed"] > 0 and stats["shared"] >= stats["executed"], stats


async def _arrived(pairs: list[tuple[list[list[bytes]], list[bytes], int]], writes: int) -> bool:
    return all(
        len(lines) >= writes + initial
        for twins, single, initial in pairs
        for lines in (*twins, single)
    )
