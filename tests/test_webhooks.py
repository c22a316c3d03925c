"""Webhooks end to end: an admin registers a real receiver on loopback, editors publish, and
the service's own worker delivers, signed, retried, logged; through GraphQL and HTTP only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from api import outbound
from api.settings import Settings, Webhooks
from schema.relay import from_global_id, to_global_id
from tests.conftest import ROOT, data, error_codes, graphql, serving
from tests.test_mutations import PUBLISH, UPDATE, create, ok

REGISTER = """mutation($input: RegisterWebhookInput!) { registerWebhook(input: $input) {
  secret webhook { id url events description } } }"""
WEBHOOKS = """{ webhooks { id url events lastDelivery { state attempts lastStatus lastError
  attemptLog { status error } } } }"""
DELIVERIES = """query($id: ID!, $after: String) { webhookDeliveries(webhookId: $id, first: 1,
  after: $after) { totalCount pageInfo { hasNextPage endCursor }
  edges { node { id event itemId slug state attempts nextAttemptAt deliveredAt
    attemptLog { status error durationMs } } } } }"""
REDELIVER = """mutation($id: ID!) { redeliverWebhook(id: $id) { state } }"""
DELETE = """mutation($id: ID!) { deleteWebhook(id: $id) }"""
TAKE_DOWN = """mutation($id: ID!, $version: Int!) {
  takeDownStory(id: $id, version: $version, reason: "Court order") { userErrors { code } } }"""


class Receiver:
    """A webhook endpoint on loopback that answers with `statuses` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None, port: int = 0) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None, port: int = 0) -> Receiver:
        started.append(Receiver(statuses, port))
        return started[-1]

    yield start
    for each in started:
        each.stop()


@pytest.fixture
async def admin(make_key: Any) -> str:
    key: str = await make_key("ADMIN", name="integrations")
    return key


@pytest.fixture
def publish(client: Any, editor: str, newsroom: dict[str, Any]) -> Any:
    """Makes a story and publishes it now, or at `at`; returns the story as created."""

    async def publish_one(at: datetime | None = None) -> dict[str, Any]:
        story = await create(client, editor, sources=newsroom["sources"][:1])
        when = {"at": at.isoformat()} if at else {}
        await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1, **when)
        return story

    return publish_one


@contextlib.asynccontextmanager
async def worker(settings: Settings, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The service with its webhook worker running (fast retries, loopback allowed)."""
    hooks = Webhooks(poll_seconds=0.05, retry_base_seconds=0.05, allow_private=True)
    async with serving(replace(settings, webhooks=replace(hooks, **options))) as http:
        yield http


async def until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """What check() returns once it is truthy (check may be async); fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found or time.monotonic() > deadline:
            assert found, "timed out waiting"
            return found
        await asyncio.sleep(0.05)


async def register(client: Any, admin: str, url: str, events: list[str]) -> dict[str, Any]:
    variables = {"input": {"url": url, "events": events, "description": "Acme sync"}}
    result: dict[str, Any] = (await data(client, REGISTER, key=admin, **variables))[
        "registerWebhook"
    ]
    return result


def readme_verify() -> Callable[[str, str, bytes], bool]:
    """The verification example the README gives receivers, run as written."""
    text = (ROOT / "README.md").read_text()
    [example] = [
        block.split("```")[0] for block in text.split("```python\n") if "def verify(" in block
    ]
    namespace: dict[str, Any] = {}
    exec(example, namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What the README tells receivers to do, written independently of the service's code."""
    fields = dict(part.split("=", 1) for part in headers["Newsgraph-Signature"].split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) < 300
    return fresh and hmac.compare_digest(expected, fields["v1"])


async def test_deliveries_are_signed_retried_and_logged(
    client: Any,
    settings: Settings,
    admin: str,
    editor: str,
    newsroom: dict[str, Any],
    receiver: Any,
) -> None:
    endpoint = receiver([500, 503])  # fails twice, then recovers
    async with worker(settings) as service:
        hook = await register(service, admin, endpoint.url, ["PUBLISHED", "TAKEN_DOWN"])
        assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
        story = await create(client, editor, sources=newsroom["sources"][:1])
        await ok(client, UPDATE, editor, "updateStory", id=story["id"], version=1, input={})
        await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
        await until(lambda: len(endpoint.received) >= 3)
        # An UPDATED event is not subscribed to; a takedown is.
        await ok(
            client, UPDATE, editor, "updateStory", id=story["id"], version=2, input={"title": "X"}
        )
        await data(client, TAKE_DOWN, key=admin, id=story["id"], version=3)
        await until(lambda: len(endpoint.received) >= 4)
        hooks = (await data(service, WEBHOOKS, key=admin))["webhooks"]

    pk = from_global_id(story["id"])[1]
    bodies = [json.loads(body) for _, body in endpoint.received]
    assert [body["event"] for body in bodies] == ["PUBLISHED"] * 3 + ["TAKEN_DOWN"]
    assert len(endpoint.received) == 4, "the UPDATED event was not sent"
    first = bodies[0]
    assert first["kind"] == "STORY" and first["itemId"] == story["id"]
    assert first["slug"] == "grid-deal" and first["reason"] is None
    assert f"story-{pk}" in first["purgeKeys"] and "stories" in first["purgeKeys"]
    assert bodies[3]["reason"] == "Court order"
    verify = readme_verify()
    for headers, body in endpoint.received:
        assert headers["Content-Type"] == "application/json"
        assert verified(hook["secret"], headers, body)
        assert verify(hook["secret"], headers["Newsgraph-Signature"], body)
        assert not verify(hook["secret"], headers["Newsgraph-Signature"], body + b" ")
        assert not verified("whsec_wrong", headers, body)
        assert headers["Newsgraph-Event"] == json.loads(body)["event"]
    retried = {headers["Newsgraph-Delivery"] for headers, _ in endpoint.received[:3]}
    assert len(retried) == 1, "a retry is the same delivery"
    assert retried == {first["deliveryId"]}

    [shown] = hooks
    assert shown["events"] == ["PUBLISHED", "TAKEN_DOWN"]
    assert shown["lastDelivery"]["state"] == "DELIVERED"

    log = await data(client, DELIVERIES, key=admin, id=hook["webhook"]["id"])
    page = log["webhookDeliveries"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"] is True
    older = await data(
        client, DELIVERIES, key=admin, id=hook["webhook"]["id"], after=page["pageInfo"]["endCursor"]
    )
    [published] = [edge["node"] for edge in older["webhookDeliveries"]["edges"]]
    assert published["event"] == "PUBLISHED" and published["state"] == "DELIVERED"
    assert published["attempts"] == 3 and published["nextAttemptAt"] is None
    assert published["id"] == first["deliveryId"], "the body names the delivery as GraphQL does"
    assert [a["status"] for a in published["attemptLog"]] == [500, 503, 200]
    assert published["attemptLog"][0]["error"] == "answered HTTP 500"
    assert published["attemptLog"][2]["error"] is None


async def test_a_receiver_that_is_down_gets_the_event_when_it_is_back(
    client: Any, settings: Settings, admin: str, publish: Any, receiver: Any
) -> None:
    with socket.socket() as probe:  # a port with nobody listening on it, yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with worker(settings) as service:
        hook = await register(service, admin, f"http://127.0.0.1:{port}/hooks", ["PUBLISHED"])
        story = await publish()

        async def failing() -> bool:
            [shown] = (await data(service, WEBHOOKS, key=admin))["webhooks"]
            last = shown["lastDelivery"]
            return bool(last and last["attempts"] >= 2)

        await until(failing)
        [shown] = (await data(service, WEBHOOKS, key=admin))["webhooks"]
        assert shown["lastDelivery"]["state"] == "PENDING"
        assert shown["lastDelivery"]["lastStatus"] is None
        assert "ConnectError" in shown["lastDelivery"]["lastError"]

        endpoint = receiver(port=port)
        await until(lambda: endpoint.received)
    [(headers, body)] = endpoint.received
    assert verified(hook["secret"], headers, body)
    assert json.loads(body)["itemId"] == story["id"]


async def test_the_outbox_outlives_the_process_that_wrote_it(
    client: Any, settings: Settings, admin: str, publish: Any, receiver: Any
) -> None:
    endpoint = receiver()
    async with worker(settings) as service:  # (the session app refuses loopback endpoints)
        hook = await register(service, admin, endpoint.url, ["PUBLISHED"])
    # No process delivers now (the session app runs no worker): the event waits in PostgreSQL.
    story = await publish()
    await asyncio.sleep(0.3)
    waiting = await data(client, DELIVERIES, key=admin, id=hook["webhook"]["id"])
    [node] = [edge["node"] for edge in waiting["webhookDeliveries"]["edges"]]
    assert (node["state"], node["attempts"], endpoint.received) == ("PENDING", 0, [])

    async with worker(settings):  # a new process starts and finds it
        await until(lambda: endpoint.received)
    assert json.loads(endpoint.received[0][1])["itemId"] == story["id"]


async def test_a_delivery_out_of_attempts_fails_and_can_be_sent_again(
    client: Any, settings: Settings, admin: str, editor: str, publish: Any, receiver: Any
) -> None:
    endpoint = receiver([500, 500])
    async with worker(settings, max_attempts=2) as service:
        hook = await register(service, admin, endpoint.url, ["PUBLISHED"])
        await publish()

        async def failed() -> dict[str, Any] | None:
            page = await data(service, DELIVERIES, key=admin, id=hook["webhook"]["id"])
            [node] = [edge["node"] for edge in page["webhookDeliveries"]["edges"]]
            return node if node["state"] == "FAILED" else None

        node = await until(failed)
        assert node["attempts"] == 2 and node["nextAttemptAt"] is None
        await asyncio.sleep(0.3)
        assert len(endpoint.received) == 2, "no attempt after the last"

        again = await data(service, REDELIVER, key=admin, id=node["id"])
        assert again["redeliverWebhook"]["state"] == "PENDING"
        await until(lambda: len(endpoint.received) == 3)
    unknown = to_global_id("WebhookDelivery", 10**9)
    assert (await data(client, REDELIVER, key=admin, id=unknown))["redeliverWebhook"] is None
    assert error_codes(await graphql(client, REDELIVER, key=editor, id=node["id"])) == ["FORBIDDEN"]


async def test_a_scheduled_publish_is_delivered_at_its_time(
    client: Any, settings: Settings, admin: str, publish: Any, receiver: Any
) -> None:
    endpoint = receiver()
    async with worker(settings) as service:
        await register(service, admin, endpoint.url, ["PUBLISHED"])
        at = datetime.now(UTC) + timedelta(seconds=1.5)
        await publish(at)
        await asyncio.sleep(0.7)
        assert endpoint.received == [], "nothing leaves before the publish time"
        await until(lambda: endpoint.received)
    assert datetime.now(UTC) >= at
    assert datetime.fromisoformat(json.loads(endpoint.received[0][1])["at"]) == at


async def test_only_admins_register_and_only_sound_endpoints(
    client: Any, admin: str, editor: str
) -> None:
    good = {"url": "https://partner.example/hooks", "events": ["PUBLISHED"]}
    forbidden = await graphql(client, REGISTER, key=editor, input=good)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    assert error_codes(await graphql(client, WEBHOOKS, key=editor)) == ["FORBIDDEN"]
    refused = [
        {"url": "ftp://partner.example/hooks"},
        {"url": "partner.example/hooks"},
        {"url": "https://user:pass@partner.example/hooks"},
        {"url": "http://127.0.0.1:9000/hooks"},  # this service's settings refuse loopback
        {"url": "http://10.1.2.3/hooks"},
        {"url": "http://[::1]/hooks"},
        {"url": "http://localhost/hooks"},
        # Other spellings of loopback and private addresses that resolvers accept.
        {"url": "http://localhost./hooks"},
        {"url": "http://LOCALHOST/hooks"},
        {"url": "http://127.1/hooks"},
        {"url": "http://0x7f000001/hooks"},
        {"url": "http://2130706433/hooks"},
        {"url": "http://0177.0.0.1/hooks"},
        {"url": "http://0/hooks"},
        {"url": "http://10.1/hooks"},
        {"url": "http://[::ffff:127.0.0.1]/hooks"},
        {"url": "http://[::ffff:7f00:1]/hooks"},
        {"url": "http://127.0.0.1./hooks"},
        {"url": "https://partner.example:99999/hooks"},
        {"url": "https://partner.example/" + "x" * 2_000},
        {"events": []},
    ]
    for change in refused:
        body = await graphql(client, REGISTER, key=admin, input=good | change)
        assert error_codes(body) == ["BAD_USER_INPUT"], change
        assert "input." in body["errors"][0]["message"], body
    assert (await data(client, WEBHOOKS, key=admin))["webhooks"] == []

    made = await register(client, admin, good["url"], ["UPDATED", "UPDATED", "ARCHIVED"])
    assert made["webhook"]["events"] == ["UPDATED", "ARCHIVED"]
    [listed] = (await data(client, WEBHOOKS, key=admin))["webhooks"]
    assert listed["lastDelivery"] is None and "secret" not in listed
    assert (await data(client, DELETE, key=admin, id=made["webhook"]["id"]))["deleteWebhook"]
    assert not (await data(client, DELETE, key=admin, id=made["webhook"]["id"]))["deleteWebhook"]
    assert (await data(client, WEBHOOKS, key=admin))["webhooks"] == []


async def test_delivery_connects_to_the_address_it_checked(
    client: Any, settings: Settings, admin: str, publish: Any, receiver: Any, monkeypatch: Any
) -> None:
    """The endpoint's name is resolved once, the address checked, and the connection made to
    that address with the name as Host: no second lookup that a rebinding resolver could
    answer with another address. Here the one lookup (the only resolver that knows the name)
    says loopback: allowed, it is delivered there; refused, it is not delivered at all."""
    endpoint = receiver()
    port = endpoint.server.server_port
    looked_up: list[str] = []

    async def resolver(host: str, _port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"] if host == "rebind.test" else []

    monkeypatch.setattr(outbound, "resolve", resolver)
    async with worker(settings) as service:  # loopback allowed
        await register(service, admin, f"http://rebind.test:{port}/hooks", ["PUBLISHED"])
        await publish()
        await until(lambda: endpoint.received)
    headers, _ = endpoint.received[0]
    assert headers["Host"] == f"rebind.test:{port}"
    assert looked_up == ["rebind.test"]


async def test_an_endpoint_that_resolves_privately_is_not_delivered(
    client: Any, settings: Settings, admin: str, publish: Any, receiver: Any, monkeypatch: Any
) -> None:
    endpoint = receiver()
    port = endpoint.server.server_port

    async def resolver(host: str, _port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]  # a public answer beside a private one

    monkeypatch.setattr(outbound, "resolve", resolver)
    async with worker(settings, allow_private=False, max_attempts=1) as service:
        made = await register(service, admin, f"http://partner.example:{port}/hooks", ["PUBLISHED"])
        await publish()

        async def failed() -> Any:
            hooks = (await data(service, WEBHOOKS, key=admin))["webhooks"]
            last = hooks[0]["lastDelivery"]
            return last if last and last["state"] == "FAILED" else None

        last = await until(failed)
    assert "resolves to a private address" in last["lastError"]
    assert endpoint.received == [] and made["webhook"]["url"].startswith("http://partner")
