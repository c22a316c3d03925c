"""What operators see of each request: a request id (X-Request-ID, taken when the caller sends
a sane one, else made), W3C trace context (`traceparent` continued, or a trace started; with
NEWSGRAPH_TRACING=otlp also an OpenTelemetry span, api.tracing), and
one log line per request with what it did: the operation, the engine, the caller's key id
(never the key), the status, the time, and the database time and statements.

How lines are written (text, or JSON for log collectors) is api.logs'."""

from __future__ import annotations

import functools
import logging
import random
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics, tracing
from db.pool import timing

if TYPE_CHECKING:
    from opentelemetry.trace import Span

log = logging.getLogger("newsgraph.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class RequestLog:
    """Pure ASGI middleware, outermost but for CORS: every answer carries X-Request-ID and
    `traceparent`; `log_requests` writes the line per request."""

    def __init__(self, app: ASGIApp, *, log_requests: bool) -> None:
        self.app, self.log_requests = app, log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids = begin(scope, Headers(scope=scope))
        request_id = ids[0]
        answered: dict[str, Any] = {"status": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
                sent = MutableHeaders(scope=message)
                answered["cache"] = sent.get("x-cache")
                sent["X-Request-ID"] = request_id
                sent["traceparent"] = scope["state"]["traceparent"]
            await send(message)

        started = time.perf_counter()
        with timing() as spent:
            try:
                await self.app(scope, receive, sending)
            finally:
                took = time.perf_counter() - started
                finish(scope, answered, took, spent, ids, self.log_requests)


def begin(scope: Scope, headers: Mapping[str, str]) -> tuple[str, str, Span | None]:
    """A request's ids, kept in its state (`request_id`, `traceparent`): (request id, trace id,
    its span while tracing is on)."""
    given = headers.get("x-request-id", "")
    request_id = given if given and _REQUEST_ID.fullmatch(given) else _hex(128)
    trace_id, parent_id, flags = _trace(headers.get("traceparent", ""))
    span = tracing.start(scope, trace_id, parent_id, flags)
    trace_id, span_id = tracing.ids(span) if span else (trace_id, _hex(64))
    scope["state"]["request_id"] = request_id
    scope["state"]["traceparent"] = f"00-{trace_id}-{span_id}-{flags}"
    return request_id, trace_id, span


def finish(
    scope: Scope,
    answered: dict[str, Any],
    took: float,
    spent: list[float],
    ids: tuple[str, str, Span | None],
    log_requests: bool,
) -> None:
    """What an answered request leaves behind: its metrics, its span, its log line."""
    request_id, trace_id, span = ids
    fields = _fields(scope, answered, took, spent, request_id, trace_id)
    metrics.observe(scope, took, spent, fields)
    if span is not None:
        tracing.finish(span, metrics.route_of(scope), fields)
    if log_requests:
        log.info(
            "%s %s %s %.1f ms", scope["method"], scope["path"], answered["status"],
            took * 1000, extra={"fields": fields},
        )  # fmt: skip


def _hex(bits: int) -> str:
    """A fresh id of `bits` random bits in lower-case hex, never all zeros (W3C trace context
    forbids those). Ids need to be unique, not secret: Python's generator (reseeded in every
    forked process) costs a fraction of the system's, which took a tenth of a cached answer's
    time when every request read it three times."""
    return f"{random.getrandbits(bits) or 1:0{bits // 4}x}"


def _trace(traceparent: str) -> tuple[str, str | None, str]:
    """(trace id, the caller's span id, flags) of the caller's trace, or of a new one (no
    caller span then)."""
    found = _TRACEPARENT.fullmatch(traceparent.strip()) if traceparent else None
    if found and found[1] != "0" * 32 and found[2] != "0" * 16:
        return found[1], found[2], found[3]
    return _hex(128), None, "01"


def _fields(
    scope: Scope,
    answered: dict[str, Any],
    took: float,
    spent: list[float],
    request_id: str,
    trace_id: str,
) -> dict[str, Any]:
    state = scope["state"]
    viewer = state.get("viewer")
    ran = state.get("graphql_ran")
    fields = {
        "request_id": request_id,
        "trace_id": trace_id,
        "method": scope["method"],
        "path": scope["path"],
        "status": answered["status"],
        "duration_ms": round(took * 1000, 1),
        "db_ms": round(spent[0] * 1000, 1),
        "statements": int(spent[1]),
        "operation": (ran.operation_name or operation_name(ran.query)) if ran else None,
        "engine": ran.engine if ran else None,
        "key_id": viewer.key_id if viewer else None,
        "role": viewer.role.value if viewer else None,
        "cache": answered.get("cache"),
    }
    return {k: v for k, v in fields.items() if v is not None}


@functools.lru_cache(maxsize=1_024)
def operation_name(query: str) -> str:
    """The name of a document's operation (its first), for a request that named none."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return "(unparsed)"
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition.name.value if definition.name else "(unnamed)"
    return "(none)"
