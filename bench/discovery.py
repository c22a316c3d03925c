"""Latency of search, recommendations and blindspots through GraphQL, p50/p95/p99.

    python bench/discovery.py [--requests 200] [--only search|others] [--per-class 30]

Requests go one at a time through the whole application in this process (ASGI, no network),
so each figure is the server's own time for one request: GraphQL, loaders and every SQL
statement; the response cache is off, so a query drawn twice is answered twice. Search is
measured per query class (rare, medium and common words by how many stories they match, two
and three words, a quoted phrase, OR, a negation, a common word narrowed by a category,
topic, outlet or date, a word that matches nothing), each class a rotating set of
--per-class queries drawn from the stored stories' words at that frequency (one fixed term
hides bad plans), on page 1 and page 5, with and without totalCount. Uses
DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default .newsgraph/bench);
generate content first (`newsgraph generate --stories 1000000`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.app import create_app, with_lifespan_state  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Access, Settings  # noqa: E402
from db.pool import create_pool  # noqa: E402

OPERATIONS = ROOT / "contract" / "operations"
RELATED = """query($slug: String!) { story(slug: $slug) {
  relatedStories(first: 5) { slug sourceCount coverageLabel reason { signals } } } }"""
FOR_YOU = """query($topics: [String!]!) { forYou(topics: $topics, first: 10) {
  slug coverageLabel reason { signals } } }"""
BLINDSPOTS = """{ blindspots(first: 20) { totalCount edges { node { slug blindspot } } } }"""
COMPLETIONS = """query($q: String!) {
  searchCompletions(query: $q, first: 8) { query storyCount } }"""
DID_YOU_MEAN = """query($q: String!) { search(query: $q, first: 10) {
  edges { node { __typename } } suggestions { query } } }"""
BLINDSPOTS_PAGE = """{ blindspots(first: 20) { edges { node { slug blindspot } } } }"""


async def inventory(url: str, rng: random.Random) -> dict[str, list[Any]]:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        stories = await pool.fetch(
            """SELECT slug, title FROM stories TABLESAMPLE SYSTEM (1) REPEATABLE (7)
               WHERE status = 'PUBLISHED' AND published_at <= now() LIMIT 400"""
        )
        dives = await pool.fetch(
            """SELECT d.slug FROM deep_dives d TABLESAMPLE SYSTEM (5) REPEATABLE (7)
               WHERE d.status = 'PUBLISHED' AND d.published_at <= now() LIMIT 400"""
        )
        topics = await pool.fetch(
            "SELECT slug FROM topics WHERE kind <> 'CATEGORY' ORDER BY md5(slug) LIMIT 400"
        )
    finally:
        await pool.close()
    queries = []
    for row in stories:
        words = row["title"].lower().split()
        start = rng.randrange(max(1, len(words) - 1))
        queries += [
            words[start],
            " ".join(rng.sample(words, 2)),
            '"' + " ".join(words[start : start + 2]) + '"',
        ]
    words = [w for q in queries for w in q.strip('"').split() if len(w) >= 5]
    return {
        "queries": queries,
        "words": words,
        "stories": [row["slug"] for row in stories],
        "dives": [row["slug"] for row in dives],
        "topics": [row["slug"] for row in topics],
    }


def _slip(word: str, rng: random.Random) -> str:
    """The word with two neighbouring letters swapped: a typing slip."""
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return f"p50 {cuts[49]:7.1f}  p95 {cuts[94]:7.1f}  p99 {cuts[98]:7.1f} ms"


async def _measure(
    client: httpx.AsyncClient, requests: int, query: str, variables: Callable[[], dict[str, Any]]
) -> list[float]:
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query, "variables": variables()})
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or b'"errors"' in response.content:
            raise RuntimeError(response.text[:300])
    return samples


SEARCH_PAGE = """query($q: String!, $after: String, $filter: SearchFilter) {
  search(query: $q, first: 10, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { cursor highlight node { __typename ... on Story { id slug title publishedAt }
      ... on DeepDive { id slug title publishedAt } } } } }"""
SEARCH_COUNTED = SEARCH_PAGE.replace("pageInfo {", "totalCount pageInfo {")
SAMPLE_STORIES = 20_000


async def search_classes(url: str, rng: random.Random, per_class: int) -> dict[str, list[Any]]:
    """Queries by class: (query, filter) pairs drawn from the words of a sample of stories,
    classed by the share of sampled stories whose title or summary has them."""
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        rows = await pool.fetch(
            f"""SELECT title, summary FROM stories TABLESAMPLE SYSTEM (5) REPEATABLE (11)
               WHERE status = 'PUBLISHED' LIMIT {SAMPLE_STORIES}"""
        )
        categories = [
            r[0] for r in await pool.fetch("SELECT slug FROM topics WHERE kind = 'CATEGORY'")
        ]
        topics = [
            r[0]
            for r in await pool.fetch(
                "SELECT slug FROM topics WHERE kind <> 'CATEGORY' ORDER BY md5(slug) LIMIT 50"
            )
        ]
        outlets = [
            r[0] for r in await pool.fetch("SELECT slug FROM outlets ORDER BY md5(slug) LIMIT 50")
        ]
    finally:
        await pool.close()
    documents = [set((r["title"] + " " + r["summary"]).lower().split()) for r in rows]
    titles = [r["title"].lower().split() for r in rows]
    share: dict[str, float] = {}
    for words in documents:
        for word in words:
            share[word] = share.get(word, 0) + 1 / len(documents)
    by_share = sorted(share, key=lambda w: (share[w], w))

    def band(low: float, high: float) -> list[str]:
        found = [w for w in by_share if low <= share[w] < high]
        return found or by_share[:1]

    rare, medium, common = band(0, 0.003), band(0.05, 0.15), band(0.4, 2)

    def pick(words: list[str]) -> str:
        return rng.choice(words)

    def from_title(n: int) -> list[str]:
        title = rng.choice([t for t in titles if len(t) >= n])
        return rng.sample(title, n)

    def phrase() -> str:
        title = rng.choice(titles)
        start = rng.randrange(len(title) - 1)
        return '"' + " ".join(title[start : start + 2]) + '"'

    def narrowed() -> tuple[str, dict[str, Any]]:
        kind = rng.choice(("category", "topic", "outlet", "publishedAfter"))
        value = {
            "category": lambda: rng.choice(categories),
            "topic": lambda: rng.choice(topics),
            "outlet": lambda: rng.choice(outlets),
            "publishedAfter": lambda: f"2026-{rng.randint(1, 10):02d}-01T00:00:00Z",
        }[kind]()
        return pick(common), {kind: value}

    makers: dict[str, Callable[[], tuple[str, dict[str, Any] | None]]] = {
        "rare word": lambda: (pick(rare), None),
        "medium word": lambda: (pick(medium), None),
        "common word": lambda: (pick(common), None),
        "two words": lambda: (" ".join(from_title(2)), None),
        "three words": lambda: (" ".join(from_title(3)), None),
        "quoted phrase": lambda: (phrase(), None),
        "OR": lambda: (f"{pick(medium)} or {pick(medium)}", None),
        "negation": lambda: (f"{pick(common)} -{pick(medium)}", None),
        "common + filter": narrowed,
        "no match": lambda: (f"zq{rng.randrange(10**6)}x", None),
    }
    return {name: [make() for _ in range(per_class)] for name, make in makers.items()}


async def _search_once(
    client: httpx.AsyncClient, query: str, search_filter: Any, page: int, counted: bool
) -> float:
    """Milliseconds for page `page` of the search (earlier pages are read, not timed)."""
    after = None
    for n in range(1, page + 1):
        document = SEARCH_COUNTED if counted and n == page else SEARCH_PAGE
        variables = {"q": query, "after": after, "filter": search_filter}
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": document, "variables": variables})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or b'"errors"' in response.content:
            raise RuntimeError(f"{query!r} {search_filter}: {response.text[:300]}")
        info = response.json()["data"]["search"]["pageInfo"]
        if n < page and not info["hasNextPage"]:
            return float("nan")
        after = info["endCursor"]
    return elapsed


async def server_facts(url: str) -> str:
    """What the figures depend on besides the code: the server and its memory settings,
    as the service's own sessions see them, and the archive's size."""
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        row = await pool.fetchrow(
            """SELECT current_setting('server_version') AS version,
                      current_setting('shared_buffers') AS shared_buffers,
                      current_setting('work_mem') AS work_mem, current_setting('jit') AS jit,
                      (SELECT reltuples::bigint FROM pg_class WHERE relname = 'stories')
                          AS stories"""
        )
    finally:
        await pool.close()
    return (
        f"PostgreSQL {row['version']}, shared_buffers {row['shared_buffers']}, work_mem "
        f"{row['work_mem']}, jit {row['jit']}; about {row['stories']:,} stories"
    )


async def _run_search(settings: Settings, per_class: int) -> None:
    assert settings.database_url
    rng = random.Random(7)
    classes = await search_classes(settings.database_url, rng, per_class)
    print(await server_facts(settings.database_url))
    async with in_process(settings) as client:
        await _search_once(client, "warm", None, 1, True)
        print(f"search, {per_class} queries a class (ms):")
        for name, queries in classes.items():
            for page, counted in ((1, False), (1, True), (5, False), (5, True)):
                samples = []
                for query, search_filter in queries:
                    took = await _search_once(client, query, search_filter, page, counted)
                    if took == took:  # a query with fewer than `page` pages has no page 5
                        samples.append(took)
                label = f"{name} p{page}{' +count' if counted else ''}"
                if len(samples) < 2:
                    print(f"  {label:<28} n={len(samples):<3} (too few pages)")
                    continue
                print(f"  {label:<28} n={len(samples):<3} {percentiles(samples)}", flush=True)


async def _run(settings: Settings, requests: int) -> None:
    assert settings.database_url
    rng = random.Random(7)
    found = await inventory(settings.database_url, rng)
    more_like_this = (OPERATIONS / "DeepDivePage.graphql").read_text()
    cases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("relatedStories(first: 5)", RELATED, lambda: {"slug": rng.choice(found["stories"])}),
        (
            "DeepDivePage (moreLikeThis 3)",
            more_like_this,
            lambda: {"slug": rng.choice(found["dives"])},
        ),
        (
            "forYou(3 topics, first: 10)",
            FOR_YOU,
            lambda: {"topics": rng.sample(found["topics"], 3)},
        ),
        (
            "searchCompletions (2-5 letters)",
            COMPLETIONS,
            lambda: {"q": (w := rng.choice(found["words"]))[: rng.randint(2, min(5, len(w)))]},
        ),
        (
            "search + suggestions, a slip",
            DID_YOU_MEAN,
            lambda: {"q": _slip(rng.choice(found["words"]), rng)},
        ),
        ("blindspots(first: 20)", BLINDSPOTS_PAGE, dict),
        ("blindspots + totalCount", BLINDSPOTS, dict),
    ]
    async with in_process(settings) as client:
        for name, query, variables in cases:
            # Counting blindspots evaluates every story's coverage: a few samples suffice.
            n = 3 if query is BLINDSPOTS else requests
            await _measure(client, 1, query, variables)  # warm up
            samples = await _measure(client, n, query, variables)
            print(f"{name:<32} n={n:<4} {percentiles(samples)}", flush=True)


def bench_settings(*, response_cache: bool = True) -> Settings:
    """Settings for an in-process benchmark: the configured (or embedded bench) database,
    migrated; no rate limit; a statement timeout long enough to measure slow statements;
    response_cache=False: no response cache (api.response_cache)."""
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    access = Access(anonymous_rate_per_minute=1_000_000_000)
    webhooks = replace(settings.webhooks, worker=False)  # no polling in the measurements
    return replace(
        settings,
        database_url=url,
        access=access,
        webhooks=webhooks,
        statement_timeout_ms=60_000,
        response_cache_bytes=settings.response_cache_bytes if response_cache else 0,
    )


@contextlib.asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the whole app in this process, its lifespan running (ASGI, no network)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_lifespan_state(app, dict(state)))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--only", choices=("search", "others"))
    args = parser.parse_args()
    # No response cache: a class that draws the same query twice would time the cache.
    settings = bench_settings(response_cache=False)
    if args.only != "others":
        asyncio.run(_run_search(settings, args.per_class))
    if args.only != "search":
        asyncio.run(_run(settings, args.requests))


if __name__ == "__main__":
    main()
