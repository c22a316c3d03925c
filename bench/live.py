"""Live updates at scale, in one run: N subscribers of `changes` over Server-Sent Events on one
server process, then W writes (a story's title changed through the API), and for each write
how long until every subscriber had the event (publish-to-client latency, p50/p99/max over
all subscribers and writes), with the server's memory.

    python bench/live.py [--subscribers 10000] [--writes 10] [--pause 2]

Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/cache-bench, with the demo content). The subscribers are raw HTTP/1.1 connections
from this process (a few kB each), which shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.cache import ID, UPDATE, _prepare  # noqa: E402

PORT = 8350
SUBSCRIBE = json.dumps({"query": "subscription { changes { cursor change { event slug } } }"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--pause", type=float, default=2.0)
    args = parser.parse_args()
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "cache-bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    _, editor, slug = asyncio.run(_prepare(url))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NEWSGRAPH_WEBHOOK_WORKER": "false",
        "NEWSGRAPH_ANONYMOUS_RATE_PER_MINUTE": str(10**9),
        # room for every subscriber and the writer's own connection
        "NEWSGRAPH_MAX_CONNECTIONS": str(args.subscribers + 100),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--no-access-log", "--workers", "1"]
    server = subprocess.Popen(
        [*command, "--port", str(PORT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up()
        asyncio.run(_run(args, editor, slug, server.pid))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # thousands of open streams: do not wait on them
            server.kill()
            server.wait()


def _wait_until_up() -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start")


NEXT = b"event: next"


class Subscriber(asyncio.Protocol):
    """One SSE connection, read by the event loop's own callbacks (a Protocol, no task of its
    own): the time an event arrives is taken as its bytes are read, so the client's cost per
    connection does not pass for the server's latency."""

    retries = 0
    """Connections refused or reset while connecting (the listen backlog overflowed)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.ready = asyncio.Event()
        self.closed = asyncio.Event()
        self._tail = b""
        self._status = b""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.create_connection(lambda: self, "127.0.0.1", PORT)
                await self.closed.wait()
                if not self.ready.is_set():
                    raise SystemExit(f"a subscription was refused: {self._status[:300]!r}")
                return
            except OSError:
                if self.ready.is_set():
                    raise
                Subscriber.retries += 1
                await asyncio.sleep(0.2)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        body = SUBSCRIBE.encode()
        cast(asyncio.Transport, transport).write(
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def data_received(self, data: bytes) -> None:
        at = time.perf_counter()
        if not self.ready.is_set():
            self._status += data
            if b"\r\n" not in self._status:
                return
            if b" 200 " not in self._status.split(b"\r\n", 1)[0]:
                self.transport.close()  # run() reports it
                return
            self.ready.set()
        seen = self._tail + data
        self.arrivals.extend(at for _ in range(seen.count(NEXT)))
        self._tail = seen[-(len(NEXT) - 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def _run(args: argparse.Namespace, editor: str, slug: str, pid: int) -> None:
    # This client holds as many connections as the server: collecting garbage across all of
    # them would delay its own clock readings, so collect rarely.
    gc.freeze()
    gc.set_threshold(100_000, 100, 100)
    subscribers = [Subscriber() for _ in range(args.subscribers)]
    tasks = []
    started = time.perf_counter()
    for n, subscriber in enumerate(subscribers):
        tasks.append(asyncio.create_task(subscriber.run()))
        if n % 200 == 199:
            await asyncio.sleep(0.05)  # do not overflow the listen backlog
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), 600)
    print(
        f"{args.subscribers} subscribers connected in {time.perf_counter() - started:.1f} s; "
        f"server memory {_rss_mb(pid):.0f} MB; {Subscriber.retries} connections retried"
    )
    await asyncio.sleep(2)
    headers = {"Authorization": f"Bearer {editor}"}
    written = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as http:
        ask = {"query": ID, "variables": {"slug": slug}}
        answer = (await http.post("/graphql", json=ask, headers=headers)).json()
        if not (answer.get("data") or {}).get("story"):
            raise SystemExit(f"the editor could not read the story: {answer}")
        found = answer["data"]["story"]
        story_id, version = found["id"], found["version"]
        for n in range(args.writes):
            variables = {"id": story_id, "version": version, "title": f"Live {n} {time.time()}"}
            written.append(time.perf_counter())
            answer = await http.post(
                "/graphql", json={"query": UPDATE, "variables": variables}, headers=headers
            )
            version = answer.json()["data"]["updateStory"]["story"]["version"]
            await asyncio.sleep(args.pause)
    await asyncio.sleep(5)
    latencies = []
    missing = 0
    for subscriber in subscribers:
        for n, at in enumerate(written):
            if n < len(subscriber.arrivals):
                latencies.append((subscriber.arrivals[n] - at) * 1000)
            else:
                missing += 1
    for task in tasks:
        task.cancel()
    latencies.sort()
    if not latencies:
        raise SystemExit("no events arrived")

    def at(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * share))]

    print(
        f"publish-to-client over {args.writes} writes x {args.subscribers} subscribers: "
        f"p50 {at(0.5):.0f} ms, p99 {at(0.99):.0f} ms, max {latencies[-1]:.0f} ms; "
        f"{missing} events missing; server memory {_rss_mb(pid):.0f} MB"
    )
    print(f"(mean {statistics.fmean(latencies):.0f} ms)")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
