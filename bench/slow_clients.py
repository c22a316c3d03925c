"""Slow clients against a running server: N connections each send half a request header and
then nothing; prints how long the server held them (and what it answered), and the latency
of ordinary requests sent meanwhile.

    python bench/slow_clients.py [--url http://127.0.0.1:8000] [--connections 1000]

Start the server first (`newsgraph serve --workers 1`); NEWSGRAPH_REQUEST_TIMEOUT_SECONDS is
what is measured. Traffic goes to the given address only (use one on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx

HALF = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: "


async def slow(host: str, port: int, deadline: float) -> tuple[float, str]:
    """(seconds held, the status line the server answered, or what ended it)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        return 0.0, f"connect failed: {error.__class__.__name__}"
    try:
        writer.write(HALF)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), deadline)
        return time.monotonic() - started, line.decode().strip() or "closed"
    except TimeoutError:
        return time.monotonic() - started, f"still held after {deadline:g} s"
    except OSError as error:
        return time.monotonic() - started, error.__class__.__name__
    finally:
        writer.close()


async def ordinary(url: str, seconds: float) -> list[float]:
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await http.get("/healthz")
            took.append(time.monotonic() - started)
            await asyncio.sleep(0.2)
    return took


async def main(url: str, connections: int, deadline: float) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    slow_ones = [slow(host, port, deadline) for _ in range(connections)]
    found, took = await asyncio.gather(asyncio.gather(*slow_ones), ordinary(url, min(deadline, 15)))
    held = [seconds for seconds, _ in found]
    answers = Counter(answer for _, answer in found)
    print(
        f"{connections} slow connections: held median {statistics.median(held):.1f} s, "
        f"max {max(held):.1f} s"
    )
    for answer, count in answers.most_common():
        print(f"  {count:5d}  {answer}")
    took.sort()
    print(
        f"ordinary requests meanwhile: {len(took)}, p50 {took[len(took) // 2] * 1000:.0f} ms, "
        f"max {took[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--deadline", type=float, default=40.0, help="seconds to wait at most")
    options = parser.parse_args()
    asyncio.run(main(options.url, options.connections, options.deadline))
