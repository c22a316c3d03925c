"""The server's own guards (api.server), against a real `newsgraph serve` over raw sockets: slow
or silent clients are answered 408 and cut off, connections past the bound are refused with
503, and a request that is not HTTP gets a JSON 400."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from api.server import Coalescing
from tests.test_response_cache import _process, _up, until

TIMEOUT_SECONDS = 1.0


@pytest.fixture(scope="module")
def address(database_url: str) -> AsyncIterator[tuple[str, int]]:
    settings = {
        "NEWSGRAPH_REQUEST_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "NEWSGRAPH_MAX_CONNECTIONS": "4",
    }
    with _process(database_url, **settings) as url:

        async def started() -> None:
            async with httpx.AsyncClient(base_url=url) as http:
                await until(lambda: _up(http), bool, 60)

        asyncio.run(started())
        parts = urlsplit(url)
        assert parts.hostname and parts.port
        yield parts.hostname, parts.port


async def answer_to(
    address: tuple[str, int], sent: bytes, wait: float = 5.0
) -> tuple[bytes, float]:
    """What the server answers to these bytes (read until it closes), and after how long."""
    reader, writer = await asyncio.open_connection(*address)
    started = time.monotonic()
    try:
        writer.write(sent)
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), wait)
        return received, time.monotonic() - started
    finally:
        writer.close()


def parsed(received: bytes) -> tuple[str, dict[str, str], dict]:
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return status, headers, orjson.loads(body)


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # half a header
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"query"',  # a body that stops
    ],
    ids=["silent", "half a header", "half a body"],
)
async def test_a_request_that_does_not_arrive_in_time_gets_408(
    address: tuple[str, int], sent: bytes
) -> None:
    received, took = await answer_to(address, sent)
    status, headers, body = parsed(received)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert "NEWSGRAPH_REQUEST_TIMEOUT_SECONDS" in body["errors"][0]["message"]
    assert TIMEOUT_SECONDS - 0.1 <= took < TIMEOUT_SECONDS + 2  # its clock starts first


async def test_whole_requests_are_answered_and_keep_alive_works(address: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*address)
    try:
        for _ in range(2):  # the second on the same connection, after the first deadline
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            await asyncio.sleep(TIMEOUT_SECONDS * 1.2)  # idle between requests: keep-alive's
    finally:
        writer.close()


async def test_connections_past_the_bound_are_refused_with_503(address: tuple[str, int]) -> None:
    held = [await asyncio.open_connection(*address) for _ in range(4)]
    try:
        await asyncio.sleep(0.2)
        received, took = await answer_to(address, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = parsed(received)
        assert status == "HTTP/1.1 503 Service Unavailable" and took < TIMEOUT_SECONDS
        assert headers["retry-after"] == "1"
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        for _, writer in held:
            writer.close()
    await asyncio.sleep(0.2)
    received, _ = await answer_to(
        address, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert received.startswith(b"HTTP/1.1 200")


async def test_a_request_that_is_not_http_gets_a_json_400(address: tuple[str, int]) -> None:
    received, _ = await answer_to(address, b"HELLO THERE\r\n\r\n")
    status, headers, body = parsed(received)
    assert status == "HTTP/1.1 400 Bad Request"
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert headers["content-type"] == "application/json"


async def test_pipelined_requests_are_answered_whole_and_in_order(
    address: tuple[str, int],
) -> None:
    # api.server.Coalescing holds each answer's head for its body: nothing is lost, reordered
    # or left behind when the connection closes.
    paths = ["/healthz", "/readyz", "/nowhere", "/healthz"]
    last = {3: "Connection: close"}
    sent = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: x\r\n{last.get(n, 'X: y')}\r\n\r\n".encode()
        for n, path in enumerate(paths)
    )
    received, _ = await answer_to(address, sent)
    statuses = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        status, *lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines)
        length = int(headers["content-length"])
        body, received = rest[:length], rest[length:]
        assert len(body) == length and orjson.loads(body)
        statuses.append(status)
    assert statuses == [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 404 Not Found",
        "HTTP/1.1 200 OK",
    ]


class Recording(asyncio.Transport):
    """A transport that keeps what it is asked to send, one item a write."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


async def test_a_turns_writes_leave_as_one() -> None:
    loop = asyncio.get_running_loop()
    inner = Recording()
    transport = Coalescing(inner, loop)
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    transport.write(b"hello")
    assert inner.sent == [] and transport.get_write_buffer_size() == 43
    await asyncio.sleep(0)
    assert inner.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
    transport.write(b"bye")
    transport.close()  # sends what is held first
    assert inner.sent[-1] == b"bye" and inner.closed
    dropped = Coalescing(Recording(), loop)
    dropped.write(b"never")
    dropped.abort()
    await asyncio.sleep(0)
    assert dropped.transport.sent == []  # type: ignore[attr-defined]
