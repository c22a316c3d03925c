"""CORS (api.cors): pages on the allowed origins may call GraphQL, REST and feeds and read
the headers a client needs; other origins, and every origin by default, get nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.settings import Access, Settings
from tests.conftest import serving

APP = "https://app.example"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-read-after",
}
QUERY = {"query": "{ stories(first: 1) { totalCount } }"}


@pytest.fixture
async def allowed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(replace(settings, cors_origins=(APP, "http://localhost:3000"))) as http:
        yield http


async def test_a_preflight_names_what_a_page_may_send(allowed) -> None:
    answer = await allowed.options("/graphql", headers=PREFLIGHT)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    assert {"GET", "POST"} <= set(answer.headers["access-control-allow-methods"].split(", "))
    allowed_headers = answer.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "x-api-key", "content-type", "x-read-after"):
        assert header in allowed_headers
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers  # keys, not cookies


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/graphql", QUERY),
        ("GET", "/graphql?query={__typename}", None),
        ("GET", "/v1/stories", None),
        ("GET", "/feeds/stories.json", None),
    ],
)
async def test_answers_let_the_page_read_them_and_their_headers(
    allowed, method, path, body
) -> None:
    answer = await allowed.request(method, path, json=body, headers={"Origin": APP})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == APP
    assert "Origin" in answer.headers["vary"]
    exposed = answer.headers["access-control-expose-headers"].lower()
    for header in ("x-ratelimit-remaining", "retry-after", "etag", "server-timing", "x-read-after"):
        assert header in exposed


async def test_another_origin_gets_no_permission(allowed) -> None:
    refused = await allowed.options(
        "/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example"}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    answer = await allowed.post("/graphql", json=QUERY, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200  # the server answers; the browser keeps it from the page
    assert "access-control-allow-origin" not in answer.headers


async def test_no_origin_is_allowed_by_default(client) -> None:
    answer = await client.post("/graphql", json=QUERY, headers={"Origin": APP})
    assert "access-control-allow-origin" not in answer.headers
    assert (await client.options("/graphql", headers=PREFLIGHT)).status_code == 405


async def test_any_origin_with_a_star(settings: Settings) -> None:
    async with serving(replace(settings, cors_origins=("*",))) as http:
        answer = await http.post("/graphql", json=QUERY, headers={"Origin": "https://any.example"})
        assert answer.headers["access-control-allow-origin"] == "*"


async def test_a_refusal_is_readable_by_the_page(settings: Settings) -> None:
    """A 429 carries the CORS headers, so the page can read its Retry-After."""
    strict = replace(settings, cors_origins=(APP,), access=Access(anonymous_rate_per_minute=1))
    async with serving(strict) as http:
        statuses = []
        for _ in range(3):
            answer = await http.post("/graphql", json=QUERY, headers={"Origin": APP})
            statuses.append(answer.status_code)
        assert statuses[-1] == 429
        assert answer.headers["access-control-allow-origin"] == APP
        assert "retry-after" in answer.headers["access-control-expose-headers"].lower()


def test_a_malformed_origin_setting_is_refused_at_start() -> None:
    found = subprocess.run(
        [sys.executable, "-c", "from api.settings import Settings; Settings.from_env()"],
        env={"NEWSGRAPH_CORS_ORIGINS": "https://app.example/path, app.example", "PATH": ""},
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert found.returncode == 1
    assert "NEWSGRAPH_CORS_ORIGINS must list origins" in found.stderr
    assert "'app.example'" in found.stderr and "Traceback" not in found.stderr
