"""The fast lane (api.fast_lane) answers cache hits in front of the middleware stack. It must
send what the stack would have sent, header for header and byte for byte, leave the same
metrics and log line, and let through every request it may not answer alone."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from api.settings import Settings
from tests.conftest import bearer, data, serving
from tests.test_live import REVOKE
from tests.test_mutations import PUBLISH, create, ok
from tests.test_response_cache import LIST, PATIENCE_SECONDS, stats, until

REQUEST_ID = "fast-lane-twin"
TRACEPARENT = f"00-{'ab' * 16}-{'cd' * 8}-01"
SENT = {"X-Request-ID": REQUEST_ID, "traceparent": TRACEPARENT}


@contextlib.asynccontextmanager
async def cached(settings: Settings, *, fast_lane: bool) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(
        replace(settings, response_cache_bytes=8 << 20), fast_lane=fast_lane
    ) as http:
        await until(lambda: stats(http), lambda s: s["live"])
        yield http


@pytest.fixture
async def lane(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with cached(settings, fast_lane=True) as http:
        yield http


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with cached(settings, fast_lane=False) as http:
        yield http


async def fast_answer(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    """The first answer the fast lane gives to this request (a busy caller's lease holds
    spare tokens after a few requests), and the access log's fields of it."""
    for _ in range(30):
        before = (await stats(http))["fastLane"]
        with _access_log() as lines:
            response = await http.get(path, headers=headers)
        if (await stats(http))["fastLane"] == before + 1:
            return response, lines[-1]
    raise AssertionError(f"the fast lane never answered {path}")


async def stack_answer(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    """The first cache hit of this request through the whole stack that took no statement
    (the key's lease paid for it, as for every fast answer), and its log fields."""
    for _ in range(30):
        with _access_log() as lines:
            response = await http.get(path, headers=headers)
        if response.headers.get("x-cache") == "HIT" and lines[-1]["statements"] == 0:
            assert (await stats(http))["fastLane"] == 0
            return response, lines[-1]
    raise AssertionError(f"{path} was never a hit")


@contextlib.contextmanager
def _access_log() -> Any:
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(dict(getattr(record, "fields", {})))

    handler, logger = Keep(), logging.getLogger("newsgraph.access")
    logger.addHandler(handler)
    was = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(was)


def comparable(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers in order, body; the parts that move between two requests (the bucket's
    count, the server's new span id) checked for form and masked."""
    headers = []
    for name, value in response.headers.raw:
        if name in (b"x-ratelimit-remaining", b"x-ratelimit-reset"):
            assert value.isdigit(), (name, value)
            value = b"#"
        elif name == b"traceparent":
            version, trace, span, flags = value.split(b"-")
            assert re.fullmatch(rb"[0-9a-f]{16}", span) and span != b"0" * 16, value
            value = b"-".join([version, trace, b"#", flags])
        headers.append((name, value))
    return response.status_code, headers, response.content


async def test_a_fast_answer_is_the_stacks_answer(
    lane, stack, client, newsroom, editor, make_key
) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    callers = {
        "anonymous": {},
        "public key": bearer(await make_key("PUBLIC")),
        "partner key": bearer(await make_key("PARTNER")),
        "X-API-Key": {"X-API-Key": await make_key("PUBLIC")},
    }
    paths = [
        "/graphql?" + str(httpx.QueryParams({"query": LIST})),
        "/v1/stories/grid-deal",
        "/feeds/stories.json",
        "/feeds/stories.rss",
        "/sitemaps/news.xml",
    ]
    compared = 0
    for caller, key in callers.items():
        for path in paths:
            headers = SENT | key
            fast, fast_fields = await fast_answer(lane, path, headers)
            slow, slow_fields = await stack_answer(stack, path, headers)
            assert comparable(fast) == comparable(slow), (caller, path)
            assert fast.headers["x-request-id"] == REQUEST_ID
            assert fast.headers["traceparent"].startswith(TRACEPARENT[:36])
            fast_fields.pop("duration_ms"), slow_fields.pop("duration_ms")
            assert fast_fields == slow_fields, (caller, path)
            # A revalidation: the same 304 both ways.
            validator = {"If-None-Match": fast.headers["etag"]}
            fast, _ = await fast_answer(lane, path, headers | validator)
            slow, _ = await stack_answer(stack, path, headers | validator)
            assert fast.status_code == 304 and comparable(fast) == comparable(slow)
            compared += 2
    assert compared == 40


async def test_a_fast_answer_is_counted_in_the_metrics(lane) -> None:
    labels = {"route": "/graphql", "method": "GET", "status": "200", "operation": ""}
    labels |= {"engine": "", "role": "PUBLIC"}

    def counted() -> float:
        return REGISTRY.get_sample_value("newsgraph_requests_total", labels) or 0.0

    path = "/graphql?" + str(httpx.QueryParams({"query": LIST}))
    await fast_answer(lane, path, {})
    for _ in range(30):
        before, fast = counted(), (await stats(lane))["fastLane"]
        assert (await lane.get(path)).headers["x-cache"] == "HIT"
        if (await stats(lane))["fastLane"] == fast + 1:
            assert counted() == before + 1
            return
    raise AssertionError("the fast lane never answered")


async def test_a_revoked_keys_fast_answers_end(lane, client, make_key) -> None:
    reader, admin = await make_key("PUBLIC", name="reader"), await make_key("ADMIN")
    path = "/graphql?" + str(httpx.QueryParams({"query": LIST}))
    await fast_answer(lane, path, bearer(reader))
    listed = (await data(client, "{ apiKeys { id name } }", key=admin))["apiKeys"]
    reader_id = next(k["id"] for k in listed if k["name"] == "reader")
    await data(client, REVOKE, key=admin, id=reader_id)
    refused = await until(
        lambda: lane.get(path, headers=bearer(reader)),
        lambda r: r.status_code == 401,
        PATIENCE_SECONDS,
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_what_the_lane_leaves_to_the_stack(settings, lane, make_key, editor) -> None:
    path = "/graphql?" + str(httpx.QueryParams({"query": LIST}))
    # A modest rate: every request is counted where the bucket is shared, and refused past it.
    slow = bearer(await make_key("PUBLIC", rate=2))
    answers = [await lane.get(path, headers=slow) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["x-cache"] == "HIT"
    # Editors preview: their answers are their own.
    for _ in range(3):
        assert "x-cache" not in (await lane.get(path, headers=bearer(editor))).headers
    # A header sent twice is read by the stack (the first one counts).
    twice = [("X-Request-ID", "first"), ("X-Request-ID", "second")]
    for _ in range(5):
        answered = await lane.get(path, headers=twice)
    assert (answered.headers["x-cache"], answered.headers["x-request-id"]) == ("HIT", "first")
    assert (await stats(lane))["fastLane"] == 0
    # A browser's cross-origin read gets CORS's headers from the stack.
    origin = "https://web.test"
    async with cached(replace(settings, cors_origins=(origin,)), fast_lane=True) as browsers:
        for _ in range(5):
            answered = await browsers.get(path, headers={"Origin": origin})
            assert answered.headers["access-control-allow-origin"] == origin
        assert answered.headers["x-cache"] == "HIT"
        assert (await stats(browsers))["fastLane"] == 0
