"""Throughput and latency of HomeFeed(first: 20) and StoryPage against the "floor" (the same
data from one hand-written SQL statement behind a bare Starlette endpoint), in one run.

    python bench/run.py [--stories 100000] [--seconds 10] [--concurrency 16]

Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/bench), generating the stories first when the database has fewer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.app import create_app, with_lifespan_state  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from db.pool import StatementCounter, create_pool  # noqa: E402

OPERATIONS = ROOT / "contract" / "operations"
API_PORT, FLOOR_PORT = 8100, 8101
Request = Callable[[httpx.AsyncClient], Any]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    env = {**os.environ, "DATABASE_URL": url}
    migrations.upgrade(url)
    stories, slugs = asyncio.run(_inventory(url))
    if stories < args.stories:
        print(f"generating {args.stories - stories} stories ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "api.cli",
                "generate",
                "--stories",
                str(args.stories - stories),
                "--seed",
                str(int(time.time())),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        stories, slugs = asyncio.run(_inventory(url))
    # A frontend's key, as in production: each API request is authenticated and rate-limited
    # (a bucket large enough never to refuse the benchmark).
    create_key = ["keys", "create", "--name", "bench", "--role", "public", "--rate", "1000000000"]
    key = subprocess.run(
        [sys.executable, "-m", "api.cli", *create_key],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(API_PORT), "--workers", "1"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen([sys.executable, "bench/floor.py", str(FLOOR_PORT)], cwd=ROOT, env=env),
    ]
    try:
        asyncio.run(_bench(args, replace(settings, database_url=url), stories, slugs, key))
    finally:
        for server in servers:
            server.terminate()
            server.wait()


async def _inventory(url: str) -> tuple[int, list[str]]:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        count = await pool.fetchval("SELECT count(*) FROM stories")
        rows = await pool.fetch(
            "SELECT slug FROM stories WHERE status = 'PUBLISHED' AND published_at <= now() "
            "ORDER BY md5(slug) LIMIT 500"
        )
        return count, [row["slug"] for row in rows]
    finally:
        await pool.close()


def _graphql(name: str, variables: Callable[[], dict[str, Any]], key: str) -> Request:
    query = (OPERATIONS / f"{name}.graphql").read_text()
    headers = {"Authorization": f"Bearer {key}"}

    async def send(client: httpx.AsyncClient) -> httpx.Response:
        response = await client.post(
            f"http://127.0.0.1:{API_PORT}/graphql",
            json={"query": query, "variables": variables()},
            headers=headers,
        )
        if response.status_code == 200 and b'"errors"' in response.content:
            raise RuntimeError(response.text[:300])
        return response

    return send


def _get(path: Callable[[], str]) -> Request:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(f"http://127.0.0.1:{FLOOR_PORT}{path()}")

    return send


async def _bench(
    args: argparse.Namespace, settings: Settings, stories: int, slugs: list[str], key: str
) -> None:
    rng = random.Random(7)
    targets = {
        ("HomeFeed", "api"): _graphql("HomeFeed", lambda: {"first": 20}, key),
        ("HomeFeed", "floor"): _get(lambda: "/home"),
        ("StoryPage", "api"): _graphql("StoryPage", lambda: {"slug": rng.choice(slugs)}, key),
        ("StoryPage", "floor"): _get(lambda: f"/story/{rng.choice(slugs)}"),
    }
    await _wait_until_up()
    results = {}
    for target, request in targets.items():
        await _load(request, args.concurrency, 2.0)  # warm up caches and connections
        results[target] = await _load(request, args.concurrency, args.seconds)
    statements = await _statements_per_request(settings, slugs[0], key)
    print(
        f"\n{stories} stories; {args.concurrency} concurrent clients, {args.seconds:g} s each; "
        f"{os.cpu_count()} cores shared by client, servers and PostgreSQL\n"
    )
    print(
        f"{'page':10} {'server':6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'SQL/req':>7}"
    )
    for (page, server), r in results.items():
        sql = statements[page] if server == "api" else 1
        print(
            f"{page:10} {server:6} {r['rps']:8.1f} {r['p50']:8.1f} {r['p95']:8.1f} "
            f"{r['p99']:8.1f} {r['errors']:6d} {sql:7d}"
        )
    print()
    for page in ("HomeFeed", "StoryPage"):
        api, floor = results[(page, "api")], results[(page, "floor")]
        print(
            f"{page}: API throughput is {api['rps'] / floor['rps']:.2f}x the floor's; "
            f"p95 latency {api['p95'] / floor['p95']:.2f}x"
        )


async def _wait_until_up() -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                await client.get(f"http://127.0.0.1:{API_PORT}/healthz")
                await client.get(f"http://127.0.0.1:{FLOOR_PORT}/home")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("servers did not start")


async def _load(request: Request, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await request(client)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)
            except (httpx.HTTPError, RuntimeError):
                errors += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1e3,
        "p95": cuts[94] * 1e3,
        "p99": cuts[98] * 1e3,
        "errors": errors,
    }


async def _statements_per_request(settings: Settings, slug: str, key: str) -> dict[str, int]:
    """SQL statements one warm request sends, counted in-process with a query logger."""
    counter = StatementCounter()
    app = create_app(settings, connection_setup=counter.attach)
    found = {}
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_lifespan_state(app, dict(state)))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for page, variables in (("HomeFeed", {"first": 20}), ("StoryPage", {"slug": slug})):
                query = (OPERATIONS / f"{page}.graphql").read_text()
                body = {"query": query, "variables": variables}
                headers = {"Authorization": f"Bearer {key}"}
                await client.post("/graphql", json=body, headers=headers)
                repeat = client.post("/graphql", json=body, headers=headers)
                _, found[page] = await counter.spent_by(repeat)
    return found


if __name__ == "__main__":
    main()
