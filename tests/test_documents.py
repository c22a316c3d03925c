"""Persisted documents: APQ's bounds per key, trusted documents (`newsgraph documents` and
NEWSGRAPH_DOCUMENTS=trusted), `documentId`, anonymous introspection, and each answer's cost."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from api.settings import Settings
from db.pool import Pool
from tests.conftest import bearer, serving
from tests.factories import create_story
from tests.test_cli import newsgraph

LIST = "query Latest { stories(first: 2) { edges { node { title } } } }"
COUNT = "query Count { stories(first: 1) { totalCount } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def apq(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


def limited(settings: Settings, **limits: Any) -> Settings:
    return replace(settings, limits=replace(settings.limits, **limits))


async def store(http: httpx.AsyncClient, query: str, key: str | None = None) -> None:
    ran = await http.post(
        "/graphql", json={"query": query, "extensions": apq(query)}, headers=bearer(key)
    )
    assert ran.status_code == 200 and "errors" not in ran.json(), ran.text


async def stored(pool: Pool, query: str) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM persisted_queries WHERE sha256 = $1", sha(query))
    )


def counting(n: int) -> str:
    return f"{{ stories(first: {n}) {{ totalCount }} }}"


async def test_each_key_keeps_its_quota_and_anonymous_callers_share_one(
    settings: Settings, pool: Pool, make_key: Any
) -> None:
    await pool.execute("DELETE FROM persisted_queries")
    one, two = await make_key("PUBLIC"), await make_key("PARTNER")
    async with serving(limited(settings, persisted_queries_per_key=2)) as http:
        for n in (1, 2, 3):
            await store(http, counting(n), one)
        await store(http, counting(11), two)
        for n in (21, 22, 23):
            await store(http, counting(n))
    # Each caller's oldest gave way to its newest; the others' stayed.
    kept = {n: await stored(pool, counting(n)) for n in (1, 2, 3, 11, 21, 22, 23)}
    assert kept == {1: False, 2: True, 3: True, 11: True, 21: False, 22: True, 23: True}


async def test_bytes_bound_what_callers_keep(settings: Settings, pool: Pool) -> None:
    await pool.execute("DELETE FROM persisted_queries")
    small = [counting(n) for n in (1, 2, 3)]
    size = len("{stories(first:1){totalCount}}")
    async with serving(limited(settings, max_persisted_bytes=2 * size)) as http:
        for query in small:
            await store(http, query)
        large = "{ stories(first: 1) { " + " ".join(["totalCount"] * 10) + " } }"
        await store(http, large)  # larger than all may keep: it runs, unkept
    assert [await stored(pool, q) for q in [*small, large]] == [False, True, True, False]


@pytest.fixture
async def trusted(settings: Settings, pool: Pool) -> Any:
    await pool.execute("DELETE FROM persisted_queries")
    await pool.execute(
        "INSERT INTO persisted_queries (sha256, query, name, trusted) "
        "VALUES ($1, $2, 'Latest', true)",
        sha(LIST),
        LIST,
    )
    await create_story(pool, title="Trusted reading")
    async with serving(limited(settings, trusted_documents=True)) as http:
        yield http


async def test_trusted_mode_runs_registered_documents_only(
    trusted: httpx.AsyncClient, pool: Pool, make_key: Any
) -> None:
    by_hash = await trusted.get("/graphql", params={"extensions": json.dumps(apq(LIST))})
    by_id_get = await trusted.get("/graphql", params={"documentId": f"sha256:{sha(LIST)}"})
    by_id_post = await trusted.post("/graphql", json={"documentId": f"sha256:{sha(LIST)}"})
    as_text = await trusted.post("/graphql", json={"query": LIST})
    answers = [by_hash, by_id_get, by_id_post, as_text]
    assert all(a.status_code == 200 and not codes(a) for a in answers), [a.text for a in answers]
    assert {a.json()["data"]["stories"]["edges"][0]["node"]["title"] for a in answers} == {
        "Trusted reading"
    }

    # Anything else is refused before it runs, and APQ keeps nothing in this mode.
    partner = await make_key("PARTNER")
    for headers in ({"Accept": GRAPHQL_RESPONSE}, {"Accept": GRAPHQL_RESPONSE} | bearer(partner)):
        refused = await trusted.post("/graphql", json={"query": COUNT}, headers=headers)
        assert refused.status_code == 400 and "data" not in refused.json()
        assert codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        assert "newsgraph documents add" in refused.json()["errors"][0]["message"]
    registering = await trusted.post("/graphql", json={"query": COUNT, "extensions": apq(COUNT)})
    assert codes(registering) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    unknown = await trusted.post("/graphql", json={"extensions": apq(COUNT)})
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert not await stored(pool, COUNT)

    # The service's own operations are its own trusted documents.
    for path in ("/v1/stories", "/feeds/stories.json", "/sitemap.xml"):
        assert (await trusted.get(path)).status_code == 200, path
    # Editors and admins may still send any document (GraphiQL, tools), unkept.
    editor = await make_key("EDITOR")
    free = await trusted.post("/graphql", json={"query": COUNT}, headers=bearer(editor))
    assert free.json()["data"]["stories"]["totalCount"] == 1
    assert not await stored(pool, COUNT)


@pytest.mark.parametrize(
    "document_id", ["md5:abc", sha(LIST), "sha256:" + "0" * 64 + "x", 42], ids=repr
)
async def test_a_document_id_is_a_sha256(trusted: httpx.AsyncClient, document_id: Any) -> None:
    refused = await trusted.post("/graphql", json={"documentId": document_id})
    assert refused.status_code == 400 and codes(refused) == ["BAD_REQUEST"], refused.text
    assert '`documentId` must be "sha256:"' in refused.json()["errors"][0]["message"]


def write(folder: Path, name: str, content: Any) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_documents_are_registered_from_client_manifests(make_database, tmp_path: Path) -> None:
    url = make_database()
    graphql_file = write(tmp_path, "Latest.graphql", LIST)
    relay = write(tmp_path, "relay.json", {sha(COUNT): COUNT})
    apollo_query = 'query Topic { topic(slug: "energy") { name } }'
    apollo = write(
        tmp_path,
        "apollo.json",
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                {"id": sha(apollo_query), "name": "Topic", "type": "query", "body": apollo_query}
            ],
        },
    )
    added = newsgraph(
        "documents", "add", str(graphql_file), str(relay), str(apollo), database_url=url
    )
    assert added.returncode == 0, added.stderr
    assert "3 documents registered (3 new)" in added.stdout
    again = newsgraph("documents", "add", str(relay), database_url=url)
    assert "1 documents registered (0 new)" in again.stdout
    listed = newsgraph("documents", "list", database_url=url)
    assert [line.split("\t")[3] for line in listed.stdout.splitlines()[1:]] == [
        "Count",
        "Latest",
        "Topic",
    ]
    removed = newsgraph("documents", "remove", sha(COUNT), database_url=url)
    assert removed.returncode == 0 and "1 of 1 documents unregistered" in removed.stdout
    missing = newsgraph("documents", "remove", sha(COUNT), database_url=url)
    assert missing.returncode == 1 and "0 of 1" in missing.stdout


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("md5.json", {"0cc175b9c0f1b6a831c399e269772661": COUNT}, "is not the SHA-256"),
        ("invalid.graphql", "{ stories { nope } }", "is not valid here"),
        ("broken.graphql", "{ stories(", "does not parse"),
        ("list.json", [COUNT], "expected {hash: document}"),
        ("text.json", "not json", "not JSON"),
    ],
)
def test_a_bad_manifest_registers_nothing_and_says_why(
    make_database, tmp_path: Path, name: str, content: Any, says: str
) -> None:
    url = make_database()
    good = write(tmp_path, "Latest.graphql", LIST)
    bad = write(tmp_path, name, content)
    refused = newsgraph("documents", "add", str(good), str(bad), database_url=url)
    assert refused.returncode == 1
    assert says in refused.stderr and name in refused.stderr, refused.stderr
    assert "nothing was registered" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = newsgraph("documents", "list", database_url=url)
    assert listed.stdout.splitlines()[1:] == []


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_can_need_a_key(settings: Settings, make_key: Any) -> None:
    key = await make_key("PUBLIC")
    async with serving(limited(settings, anonymous_introspection=False)) as http:
        refused = await http.post("/graphql", json={"query": INTROSPECTION})
        assert codes(refused) == ["UNAUTHENTICATED"]
        assert "NEWSGRAPH_ANONYMOUS_INTROSPECTION" in refused.text
        typed = await http.post("/graphql", json={"query": '{ __type(name: "Story") { name } }'})
        assert codes(typed) == ["UNAUTHENTICATED"]
        allowed = await http.post("/graphql", json={"query": INTROSPECTION}, headers=bearer(key))
        assert allowed.json()["data"]["__schema"]["queryType"]["name"] == "Query"
        typename = await http.post("/graphql", json={"query": "{ __typename }"})
        assert typename.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "query, cost",
    [
        ("{ __typename }", 0),
        ("{ stories(first: 5) { totalCount } }", 1),
        # Objects it may return: the connection (1), 5 edges and their 5 stories, each
        # story's sources connection (5) with 3 edges, 3 sources and 3 outlets (15 each)
        (
            "{ stories(first: 5) { edges { node { title "
            "sources(first: 3) { edges { node { title outlet { name } } } } } } } }",
            1 + 5 + 5 + 5 + 15 + 15 + 15,
        ),
    ],
)
async def test_every_answer_reports_its_cost(
    client: httpx.AsyncClient, query: str, cost: int
) -> None:
    for answer in (
        await client.post("/graphql", json={"query": query}),
        await client.get("/graphql", params={"query": query}),
    ):
        assert answer.json()["extensions"]["cost"] == {"requested": cost, "limit": 10_000}


async def test_a_request_over_the_cost_limit_is_refused_with_its_cost(
    settings: Settings,
) -> None:
    query = "{ stories(first: 50) { edges { node { sources(first: 50) { totalCount } } } } }"
    async with serving(limited(settings, max_nodes=100)) as http:
        refused = await http.post("/graphql", json={"query": query})
    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    # 1 connection, 50 edges, 50 stories, 50 sources connections
    assert refused.json()["extensions"]["cost"] == {"requested": 151, "limit": 100}


def objects_in(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(objects_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects_in(v) for v in value)
    return 0


async def test_introspection_costs_the_objects_of_its_answer(client: httpx.AsyncClient) -> None:
    """Introspection lists are as long as this schema makes them (not the 10 an unbounded
    list counts as): the full query GraphiQL and codegen tools send is answered, and costs
    exactly the objects in its answer."""
    query = get_introspection_query(
        descriptions=True, directive_is_repeatable=True, input_value_deprecation=True
    )
    answer = (await client.post("/graphql", json={"query": query})).json()
    assert "errors" not in answer, answer["errors"]
    requested = answer["extensions"]["cost"]["requested"]
    assert requested == objects_in(answer["data"]) - 1  # `data` itself is no object asked for
    assert requested > 1_000  # a real schema's worth, under the default limit


async def test_a_cost_past_any_number_is_reported_as_the_largest_exact_one(
    client: httpx.AsyncClient,
) -> None:
    """Nested `first`s multiply past 64 bits; the answer still says how much, in a number
    a JavaScript client reads exactly."""
    query = (
        "{ stories(first: 100) { edges { node { relatedStories(first: 2000000000) { "
        "relatedStories(first: 2000000000) { relatedStories(first: 2000000000) { slug } } } } } } }"
    )
    refused = await client.post("/graphql", json={"query": query})
    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert refused.json()["extensions"]["cost"]["requested"] == 2**53 - 1
    assert refused.json()["errors"][0]["extensions"]["nodes"] == 2**53 - 1
