"""A small open-loop HTTP/1.1 load client: requests are sent at a constant rate whether or not
earlier ones have been answered, and each is timed from when it was due, so a server that
falls behind shows it in the latency (no coordinated omission). Keep-alive connections on
asyncio streams keep the client's own CPU small; it reports that share.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_CONNECTIONS = 64


@dataclass(frozen=True)
class Requests:
    """What to send: the method, the URL, and the bodies (POST) or paths (GET) to cycle."""

    method: str
    url: str
    items: list[str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Rates:
    p50: float
    p95: float
    p99: float
    sent: int
    late: int
    """Requests that had to wait for a free connection."""
    failed: int
    cpu: float
    """The client's CPU time as a share of the wall time."""


def _raw(requests: Requests) -> list[bytes]:
    parts = urlsplit(requests.url)
    host = f"{parts.hostname}:{parts.port}"
    found = []
    for item in requests.items:
        path, body = (
            (parts.path or "/", item.encode()) if requests.method == "POST" else (item, b"")
        )
        head = [f"{requests.method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
        head += [f"{name}: {value}" for name, value in requests.headers.items()]
        if requests.method == "POST":
            head.append(f"Content-Length: {len(body)}")
        found.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return found


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one response; its status."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while (size := int((await reader.readline()).strip() or b"0", 16)) > 0:
        await reader.readexactly(size + 2)
    await reader.readline()
    return status


async def _run(requests: Requests, rate: float, seconds: float) -> Rates:
    raw = _raw(requests)
    parts = urlsplit(requests.url)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0
    free = asyncio.Condition()
    latencies: list[float] = []
    late = failed = 0

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal opened, late
        async with free:
            if not idle and opened >= MAX_CONNECTIONS:
                late += 1
                await free.wait_for(lambda: bool(idle))
            if idle:
                return idle.pop()
            opened += 1
        return await asyncio.open_connection(parts.hostname, parts.port)

    async def send(n: int, due: float) -> None:
        nonlocal failed, opened
        conn = await connection()
        try:
            conn[1].write(raw[n % len(raw)])
            status = await _response(conn[0])
            latencies.append(time.perf_counter() - due)
            failed += not 200 <= status < 400
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            failed += 1
            conn[1].close()
            async with free:
                opened -= 1
                free.notify()
            return
        async with free:
            idle.append(conn)
            free.notify()

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for _, writer in idle:
        writer.close()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Rates(
        p50=cuts[49] * 1000,
        p95=cuts[94] * 1000,
        p99=cuts[98] * 1000,
        sent=total,
        late=late,
        failed=failed,
        cpu=(usage.ru_utime + usage.ru_stime - cpu_before) / wall,
    )


def constant_rate(requests: Requests, rate: float, seconds: float) -> Rates:
    """Send `rate` requests a second for `seconds`; their latencies from when each was due."""
    return asyncio.run(_run(requests, rate, seconds))
