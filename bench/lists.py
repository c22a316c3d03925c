"""Latency of the big lists and their counts through GraphQL, p50/p95/p99.

    python bench/lists.py [--requests 50]

The home feed, the largest category, topic and outlet, the blindspots and the deep dives of
the largest topic: each page with and without `totalCount`, and the count alone, one request
at a time through the whole application in this process (ASGI, no network). The second page
of each list is read with the first page's cursor. Uses DATABASE_URL, else the embedded
PostgreSQL in NEWSGRAPH_DATA_DIR (default .newsgraph/bench); generate content first
(`newsgraph generate --stories 1000000`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from bench.discovery import bench_settings, in_process, percentiles  # noqa: E402
from db.pool import create_pool  # noqa: E402

STORY = "edges { cursor node { slug publishedAt sourceCount coverageLabel } }"
DEEP_DIVE = "edges { cursor node { slug publishedAt readTimeMinutes } }"
LISTS = {
    "home feed": "stories(first: 20, after: $after) {{ {} }}",
    "largest category": "stories(first: 20, after: $after, filter: {{category: $slug}}) {{ {} }}",
    "largest topic": "topic(slug: $slug) {{ stories(first: 20, after: $after) {{ {} }} }}",
    "largest outlet": "outlet(slug: $slug) {{ stories(first: 20, after: $after) {{ {} }} }}",
    "blindspots": "blindspots(first: 20, after: $after) {{ {} }}",
    "deep dives": "deepDives(first: 20, after: $after) {{ {} }}",
    "largest topic's deep dives": (
        "topic(slug: $slug) {{ deepDives(first: 20, after: $after) {{ {} }} }}"
    ),
}
SLOW_MS = 1_000
_BIGGEST = {
    "largest category": """SELECT t.slug FROM stories s JOIN topics t ON t.id = s.category_id
        GROUP BY t.slug ORDER BY count(*) DESC LIMIT 1""",
    "largest topic": """SELECT t.slug FROM story_topics st JOIN topics t ON t.id = st.topic_id
        WHERE t.kind <> 'CATEGORY' GROUP BY t.slug ORDER BY count(*) DESC LIMIT 1""",
    "largest outlet": """SELECT o.slug FROM sources so JOIN outlets o ON o.id = so.outlet_id
        GROUP BY o.slug ORDER BY count(*) DESC LIMIT 1""",
}
_BIGGEST["largest topic's deep dives"] = _BIGGEST["largest topic"]


async def biggest(url: str) -> dict[str, str | None]:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        return {name: await pool.fetchval(sql) for name, sql in _BIGGEST.items()}
    finally:
        await pool.close()


def page(name: str) -> str:
    return "pageInfo { endCursor } " + (DEEP_DIVE if "deep dives" in name else STORY)


def document(name: str, selection: str) -> str:
    body = LISTS[name].format(selection)
    slug = "$slug: String!, " if "$slug" in body else ""
    return f"query({slug}$after: String) {{ {body} }}"


def connection_of(data: dict[str, Any]) -> dict[str, Any]:
    found = next(iter(data.values()))
    return next(iter(found.values())) if "edges" not in found else found


async def _time(client: Any, query: str, variables: dict[str, Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or b'"errors"' in response.content:
            raise RuntimeError(response.text[:300])
    return samples


async def _run(settings: Settings, requests: int) -> None:
    assert settings.database_url
    slugs = await biggest(settings.database_url)
    async with in_process(settings) as client:
        count = await client.post("/graphql", json={"query": "{ stories { totalCount } }"})
        print(f"stories visible: {count.json()['data']['stories']['totalCount']}")
        for name in LISTS:
            slug = slugs.get(name)
            variables = {"slug": slug} if slug else {}
            first = await client.post(
                "/graphql", json={"query": document(name, page(name)), "variables": variables}
            )
            if first.status_code != 200 or b'"errors"' in first.content:
                raise RuntimeError(first.text[:300])
            after = connection_of(first.json()["data"])["pageInfo"]["endCursor"]
            cases = {
                "page 1": (page(name), None),
                "page 2": (page(name), after),
                "page 1 + totalCount": (f"totalCount {page(name)}", None),
                "totalCount alone": ("totalCount", None),
            }
            for case, (selection, cursor) in cases.items():
                variables = {"slug": slug, "after": cursor} if slug else {"after": cursor}
                query = document(name, selection)
                warm = await _time(client, query, variables, 1)
                n = requests if warm[0] < SLOW_MS else 3  # seconds each: a few samples do
                samples = await _time(client, query, variables, n)
                label = f"{name}, {case}"
                print(f"{label:<46} n={n:<4} {percentiles(samples)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(_run(bench_settings(), args.requests))


if __name__ == "__main__":
    main()
