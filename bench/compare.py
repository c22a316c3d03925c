"""Newsgraph against PostGraphile v4 and the hand-written SQL floor, over one database, in one
run: throughput of HomeFeed(first: 20) and StoryPage under wrk, interleaved rounds, medians,
ratios and their spread; then p95 latency at a constant arrival rate of 80% of Newsgraph's
measured maximum; then the round trips one request costs.

    python bench/compare.py [--stories 100000] [--rounds 3] [--seconds 12]

Needs wrk (`apt-get install wrk`) and npm (PostGraphile 4.14.1 is installed into the data
folder). Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/compare), generating the stories first when there are fewer. One process each;
the client, the three servers and PostgreSQL share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.app import create_app, with_lifespan_state  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.open_loop import Requests, constant_rate  # noqa: E402
from db.pool import create_pool  # noqa: E402

OPERATIONS = ROOT / "contract" / "operations"
PEER = Path(__file__).resolve().parent / "peer"
PORTS = {"newsgraph": 8200, "postgraphile": 8201, "floor": 8202}
PAGES = ("HomeFeed", "StoryPage")


@dataclass(frozen=True)
class Target:
    """One page as one server is asked for it."""

    server: str
    page: str
    requests: Requests

    @property
    def lua(self) -> str:
        """A wrk script cycling through the request bodies (POST) or paths (GET)."""
        r = self.requests
        lines = [f'wrk.method = "{r.method}"']
        lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in r.headers.items()]
        lines.append("local items = {" + ",".join(json.dumps(item) for item in r.items) + "}")
        build = (
            "wrk.format(nil, nil, nil, items[n])"
            if r.method == "POST"
            else ("wrk.format(nil, items[n])")
        )
        lines.append(f"local n = 0\nrequest = function() n = n % #items + 1 return {build} end")
        return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate-seconds", type=int, default=15)
    args = parser.parse_args()
    for tool in ("wrk", "npm", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/compare.py needs {tool} (wrk: apt-get install wrk)")
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "compare"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "NEWSGRAPH_WEBHOOK_WORKER": "off"}
    if asyncio.run(_stories(url)) < args.stories:
        _cli(
            env,
            "generate",
            "--stories",
            str(args.stories - asyncio.run(_stories(url))),
            "--seed",
            str(int(time.time())),
        )
    key = _cli(
        env,
        "keys",
        "create",
        "--name",
        "bench",
        "--role",
        "public",
        "--rate",
        "1000000000",
        capture=True,
    ).strip()
    slugs = asyncio.run(_slugs(url))
    asyncio.run(_peer_schema(url))
    work = settings.data_dir / "peer"
    servers = _start(env, url, work)
    try:
        _wait_until_up()
        targets = _targets(key, slugs)
        _throughput(targets, args)
        _constant_rate(targets, args)
        asyncio.run(_round_trips(replace(settings, database_url=url), key, slugs[0]))
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def _cli(env: dict[str, str], *args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=capture,
        text=True,
    )
    return done.stdout or ""


async def _stories(url: str) -> int:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        count: int = await pool.fetchval("SELECT count(*) FROM stories")
        return count
    finally:
        await pool.close()


async def _slugs(url: str) -> list[str]:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        rows = await pool.fetch(
            "SELECT slug FROM stories WHERE status = 'PUBLISHED' AND published_at <= now() "
            "ORDER BY md5(slug) LIMIT 500"
        )
        return [row["slug"] for row in rows]
    finally:
        await pool.close()


async def _peer_schema(url: str) -> None:
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=1)
    try:
        await pool.execute((PEER / "setup.sql").read_text())
    finally:
        await pool.close()


def _start(env: dict[str, str], url: str, work: Path) -> list[subprocess.Popen[bytes]]:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(PEER / "package.json", work / "package.json")
    if not (work / "node_modules" / ".bin" / "postgraphile").exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=work, check=True
        )
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "api.cli", "serve", "--no-access-log", "--workers", "1"),
                *("--port", str(PORTS["newsgraph"])),
            ],
            cwd=ROOT,
            env=env,
            **quiet,
        ),
        subprocess.Popen(
            [
                "node",
                "node_modules/.bin/postgraphile",
                "-c",
                url,
                "--schema",
                "public,peer_pg",
                "--host",
                "127.0.0.1",
                "--port",
                str(PORTS["postgraphile"]),
                "--disable-query-log",
                "--no-setof-functions-contain-nulls",
                "--simple-collections",
                "both",
                "--disable-graphiql",
                "--legacy-relations",
                "omit",
                "--max-pool-size",
                "10",
            ],
            cwd=work,
            env={**env, "NODE_ENV": "production"},
            **quiet,
        ),
        subprocess.Popen(
            [sys.executable, "bench/floor.py", str(PORTS["floor"])], cwd=ROOT, env=env, **quiet
        ),
    ]


def _wait_until_up() -> None:
    probes = {
        "newsgraph": ("GET", "/healthz", None),
        "postgraphile": ("POST", "/graphql", {"query": "{ __typename }"}),
        "floor": ("GET", "/home", None),
    }
    deadline = time.monotonic() + 300
    for server, (method, path, body) in probes.items():
        while True:
            try:
                httpx.request(
                    method, f"http://127.0.0.1:{PORTS[server]}{path}", json=body, timeout=5
                ).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{server} did not start") from None
                time.sleep(0.5)


def _targets(key: str, slugs: list[str]) -> list[Target]:
    json_headers = {"Content-Type": "application/json"}
    ours = {page: (OPERATIONS / f"{page}.graphql").read_text() for page in PAGES}
    theirs = {page: (PEER / f"{page.lower()}.graphql").read_text() for page in PAGES}
    variables = {"HomeFeed": [{"first": 20}], "StoryPage": [{"slug": slug} for slug in slugs]}
    paths = {"HomeFeed": ["/home"], "StoryPage": [f"/story/{slug}" for slug in slugs]}
    found = []
    for page in PAGES:

        def bodies(query: str) -> list[str]:
            return [json.dumps({"query": query, "variables": v}) for v in variables[page]]  # noqa: B023

        graphql = "http://127.0.0.1:{}/graphql".format
        keyed = json_headers | {"Authorization": f"Bearer {key}"}
        found += [
            Target(
                "newsgraph",
                page,
                Requests("POST", graphql(PORTS["newsgraph"]), bodies(ours[page]), keyed),
            ),
            Target(
                "postgraphile",
                page,
                Requests(
                    "POST", graphql(PORTS["postgraphile"]), bodies(theirs[page]), json_headers
                ),
            ),
            Target(
                "floor",
                page,
                Requests("GET", f"http://127.0.0.1:{PORTS['floor']}", paths[page], {}),
            ),
        ]
    return found


def _wrk(target: Target, seconds: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(target.lua)
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, target.requests.url],
        check=True,
        capture_output=True,
        text=True,
    )
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise SystemExit(f"{target.server} {target.page}: {errors.group(1)} failed requests")
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    assert found, done.stdout
    return float(found.group(1))


MEASURED: dict[tuple[str, str], list[float]] = {}


def _throughput(targets: list[Target], args: argparse.Namespace) -> None:
    print(
        f"throughput: wrk -t2 -c{args.connections} -d{args.seconds}s, {args.rounds} "
        f"interleaved rounds, one process each, {os.cpu_count()} cores shared\n",
        flush=True,
    )
    for target in targets:
        _wrk(target, 3, args.connections)  # warm up: plans, prepared statements, JIT
    for n in range(args.rounds):
        for page in PAGES:
            for target in (t for t in targets if t.page == page):
                rps = _wrk(target, args.seconds, args.connections)
                MEASURED.setdefault((page, target.server), []).append(rps)
                print(f"  round {n + 1} {page:10} {target.server:12} {rps:9.1f} req/s", flush=True)
    print(f"\n{'page':10} {'server':12} {'median':>9} {'min':>9} {'max':>9}")
    for (page, server), found in MEASURED.items():
        print(
            f"{page:10} {server:12} {statistics.median(found):9.1f} {min(found):9.1f} "
            f"{max(found):9.1f}"
        )
    print()
    for page in PAGES:
        ours = MEASURED[(page, "newsgraph")]
        for other in ("postgraphile", "floor"):
            ratios = [a / b for a, b in zip(ours, MEASURED[(page, other)], strict=True)]
            print(
                f"{page}: Newsgraph / {other} = {statistics.median(ratios):.2f} "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
            )
    print(flush=True)


def _constant_rate(targets: list[Target], args: argparse.Namespace) -> None:
    print(
        "latency at a constant arrival rate of 80% of Newsgraph's median throughput "
        "(open loop: each request is timed from when it was due)"
    )
    for page in PAGES:
        rate = 0.8 * statistics.median(MEASURED[(page, "newsgraph")])
        for target in (t for t in targets if t.page == page and t.server != "floor"):
            found = constant_rate(target.requests, rate, args.rate_seconds)
            print(
                f"  {page:10} {target.server:12} {rate:7.1f}/s  p50 {found.p50:7.1f}  "
                f"p95 {found.p95:7.1f}  p99 {found.p99:7.1f} ms  sent {found.sent}, "
                f"late {found.late}, failed {found.failed}, client CPU {found.cpu:.0%}",
                flush=True,
            )
    print()


class _EveryStatement:
    def __init__(self) -> None:
        self.count = 0

    def log(self, record: Any) -> None:
        self.count += 1

    async def attach(self, conn: Any) -> None:
        conn.add_query_logger(self.log)


async def _round_trips(settings: Settings, key: str, slug: str) -> None:
    """Statements one warm request sends, everything the driver sends included."""
    counter = _EveryStatement()
    app = create_app(settings, connection_setup=counter.attach)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_lifespan_state(app, dict(state)))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for page, variables in (("HomeFeed", {"first": 20}), ("StoryPage", {"slug": slug})):
                body = {
                    "query": (OPERATIONS / f"{page}.graphql").read_text(),
                    "variables": variables,
                }
                headers = {"Authorization": f"Bearer {key}"}
                await client.post("/graphql", json=body, headers=headers)
                await asyncio.sleep(0.1)
                before = counter.count
                answer = await client.post("/graphql", json=body, headers=headers)
                await asyncio.sleep(0.1)
                print(
                    f"{page}: {counter.count - before} round trips to PostgreSQL "
                    f"({answer.headers['server-timing']})"
                )


if __name__ == "__main__":
    main()
