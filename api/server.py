"""Guards below the ASGI app, in uvicorn's HTTP protocol: ASGI middleware only runs once a
request's headers are in, so a client sending half a header (slowloris) or opening thousands of
idle connections is answered here.

- A request must arrive whole (request line, headers and body) within
  NEWSGRAPH_REQUEST_TIMEOUT_SECONDS of its first byte, and a new connection must start one as
  soon: else 408, and the connection closes. Keep-alive idling between requests is uvicorn's
  own 5 s timeout.
- A process holds at most NEWSGRAPH_MAX_CONNECTIONS HTTP connections (live ones included):
  one more is answered 503 with Retry-After and closed at once.
- A request that is not HTTP at all is a 400 in the API's JSON shape (uvicorn's is text)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Settings

log = logging.getLogger("newsgraph.server")


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a receipt deadline and a connection bound."""

    request_seconds: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Coalescing(transport, self.loop))
        if len(self.connections) > self.max_connections:
            log.warning("over NEWSGRAPH_MAX_CONNECTIONS (%d): refused", self.max_connections)
            self._answer(
                503,
                "SERVICE_UNAVAILABLE",
                "The server holds as many connections as it may; try again shortly.",
                retry_after=1,
            )
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self.refused:  # a refused client's request is read and dropped
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._answer(400, "BAD_REQUEST", f"{msg} Send HTTP/1.1.")

    def _arm(self) -> None:
        if self.deadline is None:
            self.deadline = self.loop.call_later(self.request_seconds, self._expired)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # too late for an answer of our own
            return
        seconds = self.request_seconds
        self._answer(
            408,
            "REQUEST_TIMEOUT",
            f"The request did not arrive whole within {seconds:g} s "
            "(NEWSGRAPH_REQUEST_TIMEOUT_SECONDS).",
        )

    def _answer(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        """A JSON error in the API's shape, then close: at once after what the client sent
        was read; else after the client's bytes in flight have come and been dropped (a close
        with unread bytes resets the connection, and the client may lose the answer)."""
        body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
        reasons = {400: "Bad Request", 408: "Request Timeout", 503: "Service Unavailable"}
        head = [
            f"HTTP/1.1 {status} {reasons[status]}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "connection: close",
        ]
        if retry_after:
            head.append(f"retry-after: {retry_after}")
        self.transport.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        if status != 503:
            self.transport.close()
            return
        self.refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(1.0, self.transport.close)


class Coalescing(asyncio.Transport):
    """A connection's transport that sends a response's head with the body's first write:
    uvicorn writes the status line and headers, then the body, each at once, and the second
    send cost a system call and a wake-up of the client of its own (a third of a cached
    answer's time). A write that ends a header block (CRLF CRLF) is held until the next write
    or the end of the loop's turn, whichever comes first; every other write goes out at once,
    after what is held (streams are not delayed). Closing sends what is held; aborting drops
    it."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport, self.loop = transport, loop
        self.pending: list[bytes | bytearray | memoryview] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        if not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def abort(self) -> None:
        self.pending = []
        self.transport.abort()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(len(p) for p in self.pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.transport.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()


def configure(settings: Settings) -> type[GuardedHttp]:
    """The protocol class with this process's limits (each `serve` worker sets its own)."""
    GuardedHttp.request_seconds = settings.limits.request_timeout_seconds
    GuardedHttp.max_connections = settings.limits.max_connections
    return GuardedHttp
