"""The response cache, in one run: throughput of a cached persisted-query GET of HomeFeed
against a bare Starlette plain-text endpoint and against the same GET with the cache off
(wrk, interleaved rounds, medians and spread), then how long a write takes to show on
another process (two processes on one database, a story's title changed through one and
read through the other).

    python bench/cache.py [--rounds 3] [--seconds 10] [--connections 32] [--writes 50]
                          [--workers N]

--workers N adds the same GETs served by `serve --workers N` (cached and uncached), for one
process against N on this machine.

Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/cache-bench, with the demo content). Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from db import keys  # noqa: E402
from db.pool import create_pool  # noqa: E402

PORTS = {"plain text": 8301, "cached": 8302, "uncached": 8303, "second process": 8304}
HOME_FEED = (ROOT / "contract" / "operations" / "HomeFeed.graphql").read_text()
STORY = "query($slug: String!) { story(slug: $slug) { title version } }"
UPDATE = """mutation($id: ID!, $version: Int!, $title: String!) {
  updateStory(id: $id, version: $version, input: {title: $title}) {
    story { version } userErrors { message } } }"""
ID = "query($slug: String!) { story(slug: $slug, preview: true) { id version } }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--workers", type=int, default=0, help="also measure N processes")
    args = parser.parse_args()
    if args.workers > 1:
        PORTS[f"cached x{args.workers}"] = 8305
        PORTS[f"uncached x{args.workers}"] = 8306
    if shutil.which("wrk") is None:
        raise SystemExit("bench/cache.py needs wrk: apt-get install wrk")
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "cache-bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    reader, editor, slug = asyncio.run(_prepare(url))
    env = {**os.environ, "DATABASE_URL": url, "NEWSGRAPH_WEBHOOK_WORKER": "false"}
    processes = _start(env, args.workers)
    try:
        _wait_until_up()
        _throughput(reader, args)
        asyncio.run(_invalidation(reader, editor, slug, args.writes))
        for name in ("cached", "second process"):
            found = httpx.get(f"http://127.0.0.1:{PORTS[name]}/stats").json()["responseCache"]
            print(f"{name}: {json.dumps(found)}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def _prepare(url: str) -> tuple[str, str, str]:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM stories)"):
            subprocess.run(
                [sys.executable, "-m", "api.cli", "demo"],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": url},
                check=True,
            )
        slug = await pool.fetchval(
            "SELECT slug FROM stories WHERE status = 'PUBLISHED' AND published_at <= now() "
            "ORDER BY published_at DESC LIMIT 1"
        )
        _, reader = await keys.create_key(
            pool, name="bench cache", role="PUBLIC", rate_per_minute=10**9, expires_at=None
        )
        _, editor = await keys.create_key(
            pool, name="bench cache editor", role="EDITOR", rate_per_minute=10**9, expires_at=None
        )
        return reader, editor, slug
    finally:
        await pool.close()


def _start(env: dict[str, str], workers: int) -> list[subprocess.Popen[bytes]]:
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    def api(name: str, processes: int = 1, **extra: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "api.cli", "serve", "--no-access-log"]
        command += ["--workers", str(processes)]
        return subprocess.Popen(
            [*command, "--port", str(PORTS[name])], cwd=ROOT, env={**env, **extra}, **quiet
        )

    plain = [sys.executable, "-m", "uvicorn", "bench.plaintext:app", "--no-access-log"]
    return [
        subprocess.Popen(
            [*plain, "--port", str(PORTS["plain text"]), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            **quiet,
        ),
        api("cached"),
        api("uncached", NEWSGRAPH_RESPONSE_CACHE_BYTES="0"),
        api("second process"),
        *(
            [
                api(f"cached x{workers}", workers),
                api(f"uncached x{workers}", workers, NEWSGRAPH_RESPONSE_CACHE_BYTES="0"),
            ]
            if workers > 1
            else []
        ),
    ]


def _wait_until_up() -> None:
    deadline = time.monotonic() + 300
    for name, port in PORTS.items():
        path = "/plaintext" if name == "plain text" else "/healthz"
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).raise_for_status()
                if name == "plain text" or _live(port):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start")
            time.sleep(0.5)


def _live(port: int) -> bool:
    found = httpx.get(f"http://127.0.0.1:{port}/stats").json()["responseCache"]
    return bool(found["live"] or not found["enabled"])


def _persisted_get(port: int, key: str) -> str:
    """The URL of HomeFeed(first: 20) as a persisted-query GET, registered first."""
    digest = hashlib.sha256(HOME_FEED.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    variables = {"first": 20}
    registered = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": HOME_FEED, "variables": variables, "extensions": extensions},
        headers={"Authorization": f"Bearer {key}"},
    )
    registered.raise_for_status()
    query = urllib.parse.urlencode(
        {"variables": json.dumps(variables), "extensions": json.dumps(extensions)}
    )
    url = f"http://127.0.0.1:{port}/graphql?{query}"
    check = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
    if check.status_code != 200 or b'"errors"' in check.content:
        raise SystemExit(f"the persisted GET fails: {check.status_code} {check.text[:300]}")
    return url


def _wrk(url: str, key: str | None, seconds: int, connections: int) -> float:
    headers = ["-H", f"Authorization: Bearer {key}"] if key else []
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            if "Non-2xx" in done.stdout:
                raise SystemExit(f"errors under load at {url}:\n{done.stdout}")
            return float(line.split()[1])
    raise SystemExit(done.stdout + done.stderr)


def _throughput(key: str, args: argparse.Namespace) -> None:
    targets = {
        "plain text": (f"http://127.0.0.1:{PORTS['plain text']}/plaintext", None),
        "cached": (_persisted_get(PORTS["cached"], key), key),
        "uncached": (_persisted_get(PORTS["uncached"], key), key),
    }
    for name in PORTS:
        if " x" in name:
            targets[name] = (_persisted_get(PORTS[name], key), key)
    print(
        f"throughput: wrk -t2 -c{args.connections} -d{args.seconds}s, {args.rounds} "
        "interleaved rounds, requests/s (median, min-max)"
    )
    for url, sent in targets.values():
        _wrk(url, sent, 3, args.connections)  # warm up
    found: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (url, sent) in targets.items():
            found[name].append(_wrk(url, sent, args.seconds, args.connections))
    for name, rates in found.items():
        print(f"  {name:<12} {statistics.median(rates):>9.0f}  ({min(rates):.0f}-{max(rates):.0f})")
    ratios = [c / p for c, p in zip(found["cached"], found["plain text"], strict=True)]
    gains = [c / u for c, u in zip(found["cached"], found["uncached"], strict=True)]
    print(
        f"  cached / plain text: {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}); cached / uncached: "
        f"{statistics.median(gains):.1f} ({min(gains):.1f}-{max(gains):.1f})"
    )


async def _invalidation(reader: str, editor: str, slug: str, writes: int) -> None:
    """Milliseconds from a write's answer on one process to its first sight on another,
    reading through the cache (polled every 2 ms)."""
    headers = {"Authorization": f"Bearer {editor}"}
    reading = {"Authorization": f"Bearer {reader}"}
    one = f"http://127.0.0.1:{PORTS['cached']}/graphql"
    two = f"http://127.0.0.1:{PORTS['second process']}/graphql"
    delays = []
    async with httpx.AsyncClient(timeout=10) as http:

        async def read() -> tuple[str, str | None]:
            params = {"query": STORY, "variables": json.dumps({"slug": slug})}
            response = await http.get(two, params=params, headers=reading)
            return response.json()["data"]["story"]["title"], response.headers.get("x-cache")

        async def write(title: str) -> None:
            nonlocal version
            variables = {"id": story_id, "version": version, "title": title}
            answer = await http.post(
                one, json={"query": UPDATE, "variables": variables}, headers=headers
            )
            version = answer.json()["data"]["updateStory"]["story"]["version"]

        ask = {"query": ID, "variables": {"slug": slug}}
        found = (await http.post(one, json=ask, headers=headers)).json()["data"]["story"]
        story_id, version = found["id"], found["version"]
        original, _ = await read()
        for n in range(writes):
            await read()
            if (await read())[1] != "HIT":
                raise SystemExit("the second process does not serve the story from its cache")
            wanted = f"{original} ({n})"
            await write(wanted)
            written = time.perf_counter()
            while (await read())[0] != wanted:
                await asyncio.sleep(0.002)
            delays.append((time.perf_counter() - written) * 1000)
        await write(original)
    delays.sort()
    p95 = delays[max(0, round(len(delays) * 0.95) - 1)]
    print(
        f"invalidation across two processes ({writes} writes): ms from the write's answer to "
        f"the new title on the other process: p50 {statistics.median(delays):.1f}, "
        f"p95 {p95:.1f}, max {delays[-1]:.1f}"
    )


if __name__ == "__main__":
    main()
