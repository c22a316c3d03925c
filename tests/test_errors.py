"""Errors carry a stable extensions.code; limits are enforced; nothing a caller sends is a 500."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import asyncpg
import httpx
import pytest

from api.settings import Settings
from db.pool import create_pool
from tests.conftest import data, error_codes, graphql, operation, server_address, serving
from tests.factories import create_story, slug_of
from tests.test_response_cache import _process, _up, until


@pytest.mark.parametrize(
    "query, variables",
    [
        ("query($s: String!) { story(slug: $s) { id } }", {"s": "nul\x00byte"}),
        ("query($s: String!) { deepDive(slug: $s) { id } }", {"s": "Not A Slug"}),
        ("query($s: String!) { topic(slug: $s) { id } }", {"s": "x" * 201}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "!!not-base64!!"}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "\x00"}),
        ("query($q: String!) { search(query: $q) { totalCount } }", {"q": "   "}),
        ("query($q: String!) { search(query: $q) { totalCount } }", {"q": "a\x00b"}),
        ("query($q: String!) { search(query: $q) { totalCount } }", {"q": "x" * 501}),
        (
            "query($f: StoryFilter) { stories(filter: $f) { totalCount } }",
            {"f": {"publishedAfter": "2026-01-01T00:00:00"}},
        ),
        (
            "query($f: StoryFilter) { stories(filter: $f) { totalCount } }",
            {"f": {"category": "a\x00"}},
        ),
        (
            "query($f: StoryFilter) { stories(filter: $f) { totalCount } }",
            {"f": {"sentiment": "HAPPY"}},
        ),
        ("query($n: Int) { stories(first: $n) { totalCount } }", {"n": "ten"}),
    ],
)
async def test_bad_input_is_bad_user_input(client, pool, query: str, variables: dict) -> None:
    body = await graphql(client, query, **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert "Traceback" not in json.dumps(body)


async def test_a_failing_field_leaves_the_same_item_elsewhere_in_the_answer_intact(
    client, demo
) -> None:
    """`x` fails (a bad page size under a non-null list) while `y` waits for the same deep
    dives: graphql-core cancels x's other fields, which must not fail y's (found by the
    generated queries: the whole request died of a CancelledError)."""
    related = "relatedStories(first: 5) { slug deepDive { slug } }"
    query = f"""query($slug: String!) {{
      x: story(slug: $slug) {{ relatedStories(first: 5) {{
        deepDive {{ slug }} relatedStories(first: 101) {{ slug }} }} }}
      y: story(slug: $slug) {{ {related} }}
    }}"""
    slug = "qatar-shrapnel-advisory"
    body = await graphql(client, query, slug=slug)
    assert body["data"]["x"] is None
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}
    alone = await data(
        client, f"query($slug: String!) {{ y: story(slug: $slug) {{ {related} }} }}", slug=slug
    )
    assert body["data"]["y"] == alone["y"]
    assert any(item["deepDive"] for item in alone["y"]["relatedStories"])


async def test_unknown_slugs_and_ids_are_null_not_errors(client, pool) -> None:
    query = """query { story(slug: "no-such-story") { id } deepDive(slug: "nope") { id }
                       topic(slug: "nope") { id } node(id: "U3Rvcnk6OTk5OTk") { id }
                       other: node(id: "V2lkZ2V0OjE") { id } }"""
    assert await data(client, query) == {
        "story": None,
        "deepDive": None,
        "topic": None,
        "node": None,
        "other": None,
    }


async def test_query_depth_is_limited(client, pool) -> None:
    nested = "slug"
    for _ in range(10):
        nested = f"relatedStories {{ {nested} }}"
    deep = f"{{ stories {{ edges {{ node {{ {nested} }} }} }} }}"
    body = await graphql(client, deep)
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body.get("data") is None


async def test_aliases_are_limited(client, pool) -> None:
    many = "{ " + " ".join(f"a{i}: stories(first: 1) {{ totalCount }}" for i in range(16)) + " }"
    assert error_codes(await graphql(client, many)) == ["QUERY_TOO_COMPLEX"]


NESTED = """query($n: Int!, $m: Int = 5) { story(slug: "item") {
  relatedStories(first: $n) { relatedStories(first: $n) {
    relatedStories(first: $m) { slug } } } } }"""


async def test_the_objects_an_operation_can_return_are_limited(client, pool) -> None:
    await create_story(pool, slug="item")
    # 100 x 100 x 5 stories could come back: refused before any statement runs, whoever runs it.
    body = await graphql(client, NESTED, n=100)
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "nodes": 1 + 100 + 100 * 100 + 100 * 100 * 5,
        "limit": 10_000,
    }
    assert "10,000" in body["errors"][0]["message"] and body.get("data") is None
    # Variables count as their values, defaults as theirs; a page well inside the limit runs.
    assert error_codes(await graphql(client, NESTED, n=30, m=20)) == ["QUERY_TOO_COMPLEX"]
    assert error_codes(await graphql(client, NESTED, n=20)) == []
    # Fragments, connections (edges count as `first` items) and lists without `first`.
    fragment = """query { ...F } fragment F on Query {
      stories(first: 100) { edges { node { topics { stories(first: 10) { edges { node {
        slug } } } } } } } }"""
    assert error_codes(await graphql(client, fragment)) == ["QUERY_TOO_COMPLEX"]
    fine = """{ stories(first: 100) { edges { node {
      topics { slug } sources(first: 5) { edges { node { url } } } } } } }"""
    assert error_codes(await graphql(client, fine)) == []


async def test_tokens_are_limited(client, pool) -> None:
    huge = "{ " + "__typename " * 2_100 + "}"
    assert error_codes(await graphql(client, huge)) == ["QUERY_TOO_COMPLEX"]


async def test_validation_and_syntax_errors_are_coded(client, pool) -> None:
    assert error_codes(await graphql(client, "{ nope }")) == ["GRAPHQL_VALIDATION_FAILED"]
    assert error_codes(await graphql(client, "{ stories { ")) == ["GRAPHQL_PARSE_FAILED"]


async def test_request_body_size_is_limited(client, pool) -> None:
    padding = "#" + "x" * 70_000 + "\n"
    response = await client.post("/graphql", json={"query": padding + "{ __typename }"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks():
        for _ in range(80):
            yield b" " * 1_000

    chunked = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413


@pytest.mark.breaks_the_database
async def test_unexpected_errors_are_masked_and_logged(client, pool, caplog) -> None:
    slug = await slug_of(pool, "stories", await create_story(pool, leans=["LEFT"]))
    await pool.execute("ALTER TABLE story_topics RENAME TO story_topics_gone")
    try:
        body = await graphql(client, operation("StoryPage"), slug=slug)
    finally:
        await pool.execute("ALTER TABLE story_topics_gone RENAME TO story_topics")
    assert body["data"] == {"story": None}  # non-null fields failed: null reaches `story`
    assert set(error_codes(body)) == {"INTERNAL_SERVER_ERROR"}
    text = json.dumps(body["errors"])
    assert "story_topics" not in text and "relation" not in text
    assert {e["message"] for e in body["errors"]} == {"Internal server error."}
    assert any("story_topics" in (r.exc_text or "") for r in caplog.records)


async def test_statements_are_cancelled_after_the_configured_timeout(database_url) -> None:
    pool = await create_pool(database_url, statement_timeout_ms=50, min_size=1, max_size=1)
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.execute("SELECT pg_sleep(2)")
    finally:
        await pool.close()


@pytest.mark.parametrize("value", ["32", "-1", "3000000", "lots"])
def test_a_work_mem_postgresql_would_refuse_stops_the_start(monkeypatch, value) -> None:
    monkeypatch.setenv("NEWSGRAPH_WORK_MEM_KB", value)
    with pytest.raises(SystemExit, match="NEWSGRAPH_WORK_MEM_KB"):
        Settings.from_env()


async def test_sessions_do_not_compile_statements(database_url) -> None:
    # JIT compiling would add 15-20 ms to every statement PostgreSQL estimates as costly.
    pool = await create_pool(
        database_url, statement_timeout_ms=1_000, min_size=1, max_size=1, work_mem_kb=20_480
    )
    try:
        assert await pool.fetchval("SELECT current_setting('jit')") == "off"
        assert await pool.fetchval("SELECT current_setting('work_mem')") == "20MB"
        plan = await pool.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 10000000)"
        )
        assert "JIT" not in plan
    finally:
        await pool.close()


@pytest.mark.parametrize(
    "request_kwargs, message",
    [
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            "Unable to parse request body as JSON",
        ),
        ({"json": [1, 2]}, "Batching is not enabled"),
        ({"content": b"42", "headers": {"content-type": "application/json"}}, "JSON object"),
        ({"content": b"null", "headers": {"content-type": "application/json"}}, "JSON object"),
        ({"content": b'"x"', "headers": {"content-type": "application/json"}}, "JSON object"),
        (
            {"content": b'{"query": "{ \xff }"}', "headers": {"content-type": "application/json"}},
            "UTF-8",
        ),
        (
            {
                "content": b'{"query": "{ __typename }", "variables": {"a": "\xfe"}}',
                "headers": {"content-type": "application/json"},
            },
            "UTF-8",
        ),
        ({"json": {"query": 5}}, "must be a string"),
        ({"json": {"variables": {}}}, "No GraphQL query found"),
        ({"json": {"query": "{ __typename }", "variables": "x"}}, "must be an object"),
        (
            {"content": b"query=x", "headers": {"content-type": "text/plain"}},
            "Unsupported content type",
        ),
    ],
)
async def test_malformed_requests_get_400_with_a_graphql_shaped_body(
    client, request_kwargs: dict, message: str
) -> None:
    response = await client.post("/graphql", **request_kwargs)
    assert response.status_code == 400
    body = response.json()
    assert error_codes(body) == ["BAD_REQUEST"]
    assert message in body["errors"][0]["message"]


async def test_a_statement_timeout_is_a_coded_503_and_logged_with_the_operation(
    settings, pool, caplog
) -> None:
    slug = await slug_of(pool, "stories", await create_story(pool, leans=["LEFT"]))
    locker = await asyncpg.connect(settings.database_url)
    async with serving(replace(settings, statement_timeout_ms=300)) as client:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE stories IN ACCESS EXCLUSIVE MODE")  # reads must wait
        try:
            graphql_answer = await client.post(
                "/graphql", json={"query": operation("StoryPage"), "variables": {"slug": slug}}
            )
            rest_answer = await client.get("/v1/stories")
            sitemap_answer = await client.get("/sitemap.xml")
        finally:
            await transaction.rollback()
            await locker.close()
    for response in (graphql_answer, rest_answer, sitemap_answer):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert error_codes(response.json()) == ["QUERY_TIMEOUT"]
        assert "cancelled" in response.json()["errors"][0]["message"]
    assert graphql_answer.headers["cache-control"] == "private, no-store"
    assert any("statement timeout in StoryPage" in record.getMessage() for record in caplog.records)


class Outage:
    """A TCP proxy in front of the test database that can be cut (every connection dropped,
    new ones refused) and mended, for a server process to meet a database that is away."""

    def __init__(self, database_url: str) -> None:
        self.host, self.port, _ = server_address(database_url)
        self.listen = 0
        self.server: asyncio.Server | None = None
        self.held: set[asyncio.StreamWriter] = set()

    def url(self, database_url: str) -> str:
        database = server_address(database_url)[2]
        return f"postgresql://postgres@127.0.0.1:{self.listen}/{database}"

    async def mend(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.listen)
        self.listen = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.held):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.host.startswith("/"):
            up_reader, up_writer = await asyncio.open_unix_connection(
                f"{self.host}/.s.PGSQL.{self.port}"
            )
        else:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self.held |= {writer, up_writer}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self.held -= {writer, up_writer}


OUTAGE_REQUESTS = [
    ("POST", "/graphql", {"query": "{ stories(first: 1) { totalCount } }"}),  # compiled
    ("POST", "/graphql", {"query": "{ stories(first: 1) { totalCount } __schema { __typename } }"}),
    ("GET", "/v1/stories", None),
    ("GET", "/feeds/stories.json", None),
    ("GET", "/healthz", None),
]


async def test_with_the_database_away_every_answer_is_a_coded_503(database_url) -> None:
    outage = Outage(database_url)
    await outage.mend()
    settings = {"NEWSGRAPH_RESPONSE_CACHE_BYTES": "0"}
    serving = _process(outage.url(database_url), **settings)
    served = serving.__enter__()
    try:
        async with httpx.AsyncClient(base_url=served, timeout=30) as http:
            await until(lambda: _up(http), bool, 60)
            for method, path, body in OUTAGE_REQUESTS:
                answer = await http.request(method, path, json=body)
                assert answer.status_code == 200, (path, answer.text)
            await outage.cut()
            for method, path, body in OUTAGE_REQUESTS * 2:
                answer = await http.request(method, path, json=body)
                assert answer.status_code == 503, (path, answer.status_code, answer.text)
                assert answer.headers["content-type"].startswith("application/json")
                assert answer.headers["retry-after"] == "5"
                assert error_codes(answer.json()) == ["SERVICE_UNAVAILABLE"], answer.text
            await outage.mend()  # back: the pool reconnects on its own
            await until(lambda: _up(http), bool, 30)
            answer = await http.post("/graphql", json=OUTAGE_REQUESTS[0][2])
            assert answer.status_code == 200, answer.text
    finally:  # in a thread: the proxy runs on this loop, and the server stops through it
        await asyncio.to_thread(serving.__exit__, None, None, None)


@pytest.mark.parametrize(
    "path",
    ["/feeds/stories.rss", "/feeds/stories.json", "/v1/stories", "/sitemaps/news.xml"],
)
async def test_caller_limits_are_not_applied_to_the_services_own_operations(
    settings, pool, path: str
) -> None:
    """Strict limits on what callers send (depth 3, one alias, 60 tokens) leave feeds, REST
    and sitemaps, which run documents of the service's own, answering."""
    await create_story(pool, leans=["LEFT", "RIGHT"])
    strict = replace(
        settings, limits=replace(settings.limits, max_depth=3, max_aliases=1, max_tokens=60)
    )
    async with serving(strict) as http:
        answer = await http.get(path)
        assert answer.status_code == 200, answer.text
        deep = "{ stories { edges { node { category { stories { totalCount } } } } } }"
        refused = await graphql(http, deep)
        assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]  # callers still meet them


async def test_the_schema_is_introspected_once_per_operation(client, pool) -> None:
    one = "{ __schema { types { name fields { name } } } }"
    assert (await data(client, one))["__schema"]["types"]
    copies = " ".join(f"s{n}: __schema {{ types {{ name fields {{ name }} }} }}" for n in range(15))
    refused = await graphql(client, "{ " + copies + " }")
    assert error_codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert "__schema" in refused["errors"][0]["message"]
    hidden = "{ ...A ...B } fragment A on Query { a: __schema { __typename } } " + (
        "fragment B on Query { b: __schema { __typename } }"
    )
    assert error_codes(await graphql(client, hidden)) == ["QUERY_TOO_COMPLEX"]
    assert await data(client, '{ a: __type(name: "Story") { name } __schema { __typename } }')


@pytest.mark.parametrize(
    "method, path, status, code, allow",
    [
        ("GET", "/no/such/path", 404, "NOT_FOUND", None),
        ("DELETE", "/v1/outlets", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"),
        ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"),
        ("POST", "/feeds/stories.rss", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"),
    ],
)
async def test_routing_refusals_answer_in_json(
    client, method: str, path: str, status: int, code: str, allow: str | None
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == code
    allowed = response.headers.get("allow")
    assert (allowed and set(allowed.split(", "))) == (allow and set(allow.split(", ")))
