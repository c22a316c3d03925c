"""Latency of search, recommendations and blindspots through GraphQL, p50/p95/p99.

    python bench/discovery.py [--requests 200]

Requests go one at a time through the whole application in this process (ASGI, no network),
so each figure is the server's own time for one request: GraphQL, loaders and every SQL
statement. Search queries are drawn from published stories' titles: one word, two words,
and a quoted two-word phrase (the contract's Search operation, with totalCount). Uses
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
    return {
        "queries": queries,
        "stories": [row["slug"] for row in stories],
        "dives": [row["slug"] for row in dives],
        "topics": [row["slug"] for row in topics],
    }


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


async def _run(settings: Settings, requests: int) -> None:
    assert settings.database_url
    rng = random.Random(7)
    found = await inventory(settings.database_url, rng)
    search = (OPERATIONS / "Search.graphql").read_text()
    more_like_this = (OPERATIONS / "DeepDivePage.graphql").read_text()
    cases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("Search (first 10, totalCount)", search, lambda: {"q": rng.choice(found["queries"])}),
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


def bench_settings() -> Settings:
    """Settings for an in-process benchmark: the configured (or embedded bench) database,
    migrated; no rate limit; a statement timeout long enough to measure slow statements."""
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    access = Access(anonymous_rate_per_minute=1_000_000_000)
    webhooks = replace(settings.webhooks, worker=False)  # no polling in the measurements
    return replace(
        settings, database_url=url, access=access, webhooks=webhooks, statement_timeout_ms=60_000
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
    args = parser.parse_args()
    asyncio.run(_run(bench_settings(), args.requests))


if __name__ == "__main__":
    main()
