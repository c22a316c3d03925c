"""Latency of feeds, REST (JSON and ninjs) and sitemaps, against the same data through GraphQL.

    python bench/syndication.py [--requests 100]

Requests go one at a time through the whole application in this process (ASGI, no network).
The reference is a GraphQL POST of `stories(first: 50)` selecting what a feed item needs (the
StoryItem fragment); feeds and REST run that same kind of operation in-process and then render,
so the ratio (format p50 / reference p50) is what rendering, caching headers and the
Last-Modified lookup cost. The same operation over GET shows what cache headers cost GraphQL,
and what a revalidation (304) or a persisted-query hash saves. Uses DATABASE_URL, else the
embedded PostgreSQL in NEWSGRAPH_DATA_DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.reader import STORY_ITEM  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.discovery import bench_settings, in_process, inventory, percentiles  # noqa: E402

REFERENCE = f"""query {{ stories(first: 50) {{
  pageInfo {{ hasNextPage endCursor }} edges {{ node {{ ...StoryItem }} }} }} }}
{STORY_ITEM}"""


async def _measure(client: httpx.AsyncClient, n: int, request: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = await request()  # type: ignore[misc]
        samples.append((time.perf_counter() - started) * 1000)
        wrong = b'"errors"' in response.content[:2000] or b"<html" in response.content[:200]
        if response.status_code not in (200, 304) or wrong:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return samples


async def _run(settings: Settings, requests: int) -> None:
    assert settings.database_url
    rng = random.Random(7)
    found = await inventory(settings.database_url, rng)
    async with in_process(settings) as client:
        get = client.get
        listed = re.findall(r"/sitemaps/([0-9-]+)\.xml", (await get("/sitemap.xml")).text)
        month = listed[-1]  # the newest month (or day) with pages
        as_get = {"query": REFERENCE}
        etag = (await get("/graphql", params=as_get)).headers["ETag"]
        sha256 = hashlib.sha256(REFERENCE.encode()).hexdigest()
        hashed = {
            "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256}})
        }
        await get("/graphql", params=as_get | hashed)  # persists it
        cases: list[tuple[str, int, Callable[[], object]]] = [
            ("GraphQL stories(first: 50) [ref]", requests,
             lambda: client.post("/graphql", json={"query": REFERENCE})),
            ("GraphQL same, GET", requests, lambda: get("/graphql", params=as_get)),
            ("GraphQL same, GET If-None-Match (304)", requests,
             lambda: get("/graphql", params=as_get, headers={"If-None-Match": etag})),
            ("GraphQL same, GET APQ hash only", requests,
             lambda: get("/graphql", params=hashed)),
            ("/feeds/stories.rss", requests, lambda: get("/feeds/stories.rss")),
            ("/feeds/stories.json", requests, lambda: get("/feeds/stories.json")),
            ("/feeds/topics/{slug}.atom", requests,
             lambda: get(f"/feeds/topics/{rng.choice(found['topics'])}.atom")),
            ("/feeds/deep-dives.rss", requests, lambda: get("/feeds/deep-dives.rss")),
            ("/v1/stories?first=50", requests, lambda: get("/v1/stories?first=50")),
            ("/v1/stories?first=50&format=ninjs", requests,
             lambda: get("/v1/stories?first=50&format=ninjs")),
            ("/v1/stories/{slug}?format=ninjs", requests,
             lambda: get(f"/v1/stories/{rng.choice(found['stories'])}?format=ninjs")),
            ("/v1/deep-dives/{slug}", requests,
             lambda: get(f"/v1/deep-dives/{rng.choice(found['dives'])}")),
            ("/sitemaps/news.xml", 5, lambda: get("/sitemaps/news.xml")),
            (f"/sitemaps/{month}.xml", 3, lambda: get(f"/sitemaps/{month}.xml")),
            ("/sitemap.xml", 3, lambda: get("/sitemap.xml")),
        ]  # fmt: skip
        reference = None
        for name, n, request in cases:
            await _measure(client, 1, request)  # warm up
            samples = await _measure(client, n, request)
            p50 = statistics.median(samples)
            reference = reference or p50
            print(f"{name:<40} n={n:<4} {percentiles(samples)}  x{p50 / reference:5.2f}",
                  flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(_run(bench_settings(), args.requests))


if __name__ == "__main__":
    main()
