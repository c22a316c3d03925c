"""Cacheable GraphQL over GET: Cache-Control by caller, ETag and 304, surrogate keys that the
change feed's purge keys match, and automatic persisted queries (Apollo APQ)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.settings import Settings
from db.pool import Pool
from schema.relay import to_global_id
from tests.conftest import bearer, data, error_codes, serving
from tests.factories import create_story, create_topic, slug_of

LIST = "{ stories(first: 5) { edges { node { title topics { slug } } } } }"
CHANGES = "{ changes { edges { node { event purgeKeys } } } }"
UPDATE = """mutation($id: ID!, $version: Int!) {
  updateStory(id: $id, version: $version, input: {title: "Changed"}) { userErrors { code } } }"""


async def get(
    client: httpx.AsyncClient,
    query: str | None,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> httpx.Response:
    if query is not None:
        params["query"] = query
    for name in ("variables", "extensions"):
        if name in params:
            params[name] = json.dumps(params[name])
    sent = bearer(key) | {"Accept": "application/json"} | (headers or {})
    return await client.get("/graphql", params=params, headers=sent)


def keys_of(response: httpx.Response) -> list[str]:
    return response.headers["Surrogate-Key"].split()


def apq(query: str) -> dict[str, Any]:
    sha256 = hashlib.sha256(query.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def test_anonymous_get_is_public_with_etag_and_the_keys_events_purge(
    client: httpx.AsyncClient, pool: Pool, make_key: Any
) -> None:
    topic = await create_topic(pool, slug="energy")
    story = await create_story(pool, topic_ids=[topic])
    await create_story(pool)
    response = await get(client, LIST)
    assert response.status_code == 200 and len(response.json()["data"]["stories"]["edges"]) == 2
    assert response.headers["Cache-Control"] == "public, max-age=60"
    keys = keys_of(response)
    assert {f"story-{story}", "topic-energy", "stories"} <= set(keys)
    assert response.headers["Cache-Tag"] == ",".join(keys)

    etag = response.headers["ETag"]
    again = await get(client, LIST, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    # An editor's update names a key this cached response carries: a CDN purges exactly it.
    editor = await make_key("EDITOR")
    await data(client, UPDATE, key=editor, id=to_global_id("Story", story), version=1)
    [change] = (await data(client, CHANGES))["changes"]["edges"]
    assert change["node"]["event"] == "UPDATED"
    assert f"story-{story}" in set(change["node"]["purgeKeys"]) & set(keys)
    changed = await get(client, LIST, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


async def test_cache_control_follows_the_caller(
    client: httpx.AsyncClient, pool: Pool, make_key: Any
) -> None:
    slug = await slug_of(pool, "stories", await create_story(pool))
    one = "query($slug: String!) { story(slug: $slug) { title } }"
    variables = {"slug": slug}
    partner = await get(client, one, key=await make_key("PARTNER"), variables=variables)
    assert partner.headers["Cache-Control"] == "private, max-age=60"
    editor = await get(client, one, key=await make_key("EDITOR"), variables=variables)
    assert editor.headers["Cache-Control"] == "private, no-store"
    assert "deep-dives" not in keys_of(partner) and "stories" in keys_of(partner)

    failed = await get(client, "{ stories(first: 500) { totalCount } }")
    assert failed.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert failed.headers["Cache-Control"] == "private, no-store", "errors are never cached"
    assert "ETag" not in failed.headers

    posted = await client.post("/graphql", json={"query": one, "variables": variables})
    assert "ETag" not in posted.headers and "Surrogate-Key" not in posted.headers


async def test_a_preview_token_read_is_never_stored(
    client: httpx.AsyncClient, pool: Pool, make_key: Any
) -> None:
    story = await create_story(pool, status="DRAFT", published_at=None)
    mint = """mutation($id: ID!) { createPreviewToken(id: $id) { token } }"""
    minted = await data(client, mint, key=await make_key("EDITOR"), id=to_global_id("Story", story))
    token = minted["createPreviewToken"]["token"]
    read = """query($slug: String!, $token: String) {
      story(slug: $slug, previewToken: $token) { title } }"""
    variables = {"slug": await slug_of(pool, "stories", story), "token": token}
    response = await get(client, read, variables=variables)
    assert response.json()["data"]["story"] is not None
    assert response.headers["Cache-Control"] == "private, no-store"


async def test_mutations_are_refused_over_get(client: httpx.AsyncClient, pool: Pool) -> None:
    mutation = 'mutation { createStory(input: {slug: "x", title: "X"}) { story { id } } }'
    response = await get(client, mutation)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "mutations are not allowed when using GET" in response.json()["errors"][0]["message"]
    assert await pool.fetchval("SELECT count(*) FROM stories") == 0


async def test_automatic_persisted_queries(
    client: httpx.AsyncClient, pool: Pool, settings: Settings
) -> None:
    await create_story(pool)
    missing = await get(client, None, extensions=apq(LIST))
    assert missing.status_code == 200
    [error] = missing.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert missing.headers["Cache-Control"] == "private, no-store"

    full = await get(client, LIST, extensions=apq(LIST))
    assert "errors" not in full.json()
    # Sent as curl or a browser would (Accept: */*), a hash-only GET still gets the answer.
    short = await get(client, None, extensions=apq(LIST), headers={"Accept": "*/*"})
    assert short.json() == full.json() and short.headers["ETag"] == full.headers["ETag"]
    assert short.headers["Cache-Control"] == "public, max-age=60"
    async with serving(settings) as other_process:  # stored in PostgreSQL, not one process
        elsewhere = await get(other_process, None, extensions=apq(LIST))
        assert elsewhere.json() == full.json()

    mismatch = await get(client, "{ stories(first: 1) { totalCount } }", extensions=apq(LIST))
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for bad in (
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "XYZ"}},
        {"persistedQuery": "yes"},
    ):
        refused = await get(client, None, extensions=bad)
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad

    broken = "{ stories(first: 1) { nope } }"
    failed = await get(client, broken, extensions=apq(broken))
    assert failed.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    never_kept = await get(client, None, extensions=apq(broken))
    assert never_kept.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert await pool.fetchval("SELECT count(*) FROM persisted_queries") >= 1


@pytest.mark.parametrize("over", ["GET", "POST"])
@pytest.mark.parametrize(
    "query, engine",
    [
        ("{ stories(first: 1) { totalCount } }", "compiled"),
        ("{ __schema { queryType { name } } }", "standard"),
    ],
)
async def test_every_answer_names_its_engine_and_database_time(
    client: httpx.AsyncClient, over: str, query: str, engine: str
) -> None:
    """Server-Timing, on GETs too (their response is rebuilt for the cache headers)."""
    if over == "GET":
        answer = await get(client, query)
    else:
        answer = await client.post("/graphql", json={"query": query})
    assert answer.status_code == 200
    timing = answer.headers["Server-Timing"]
    assert re.fullmatch(rf'engine;desc="{engine}", db;dur=\d+\.\d', timing), timing


async def test_persisted_queries_are_stored_small_and_the_oldest_give_way(
    settings: Settings, pool: Pool
) -> None:
    """A stored query keeps no comments or spare whitespace (which cost no tokens), and no
    more than NEWSGRAPH_MAX_PERSISTED_QUERIES are kept: past it, the oldest give way."""
    await pool.execute("DELETE FROM persisted_queries")
    most = replace(settings.limits, max_persisted_queries=2)
    queries = [
        "# " + "padding " * 4_000 + "\n{ stories(first: 2) {\n  totalCount\n} }",
        "{ stories(first: 3) { totalCount } }",
        "{ stories(first: 4) { totalCount } }",
    ]
    async with serving(replace(settings, limits=most)) as http:
        for query in queries:
            ran = await http.post("/graphql", json={"query": query, "extensions": apq(query)})
            assert ran.status_code == 200 and "errors" not in ran.json(), ran.text
            if query is queries[0]:
                stored = await pool.fetchval("SELECT query FROM persisted_queries")
                assert stored == "{stories(first:2){totalCount}}"
    async with serving(replace(settings, limits=most)) as http:  # nothing remembered
        for query, kept in zip(queries, (False, True, True), strict=True):
            answer = (await get(http, None, extensions=apq(query))).json()
            codes = [e["extensions"]["code"] for e in answer.get("errors", [])]
            assert codes == ([] if kept else ["PERSISTED_QUERY_NOT_FOUND"]), (query[-40:], answer)
    assert await pool.fetchval("SELECT count(*) FROM persisted_queries") == 2


GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize("over", ["GET", "POST"])
async def test_graphql_over_http_media_type_and_request_errors(
    client: httpx.AsyncClient, over: str
) -> None:
    """GraphQL over HTTP: a client that prefers application/graphql-response+json gets it,
    and a request error (nothing executed) is then a 400 with no `data`; with
    application/json every well-formed request is a 200, as before."""

    async def send(query: str, accept: str) -> httpx.Response:
        if over == "GET":
            return await get(client, query, headers={"Accept": accept})
        body = {"query": query}
        return await client.post("/graphql", json=body, headers={"Accept": accept})

    preferred = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"  # what Apollo Client sends
    good = await send("{ stories(first: 1) { totalCount } }", preferred)
    assert good.status_code == 200 and good.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert good.json()["data"]["stories"]["totalCount"] >= 0
    assert "Accept" in good.headers["vary"]
    for broken, code in (
        ("{ stories { ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
    ):
        refused = await send(broken, preferred)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in refused.json() and error_codes(refused.json()) == [code]
        legacy = await send(broken, "application/json")
        assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(
            "application/json"
        )
        assert error_codes(legacy.json()) == [code]
    older = await send("{ __typename }", f"application/json, {GRAPHQL_RESPONSE};q=0.5")
    assert older.headers["content-type"].startswith("application/json")
