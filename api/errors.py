"""HTTP-level errors in the same shape as GraphQL errors, so clients parse one format."""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.pool import DatabaseUnavailable
from schema.errors import UNAVAILABLE_MESSAGE

log = logging.getLogger("newsgraph")


def json_error(status_code: int, message: str, code: str) -> JSONResponse:
    response = JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status_code,
    )
    if code in ("QUERY_TIMEOUT", "SERVICE_UNAVAILABLE"):
        response.headers["Retry-After"] = RETRY_AFTER[code]
    if status_code >= 500:
        response.headers["Cache-Control"] = "private, no-store"
    return response


_STATUS = {
    "BAD_USER_INPUT": 400,
    "QUERY_TOO_COMPLEX": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
    "QUERY_TIMEOUT": 503,
    "SERVICE_UNAVAILABLE": 503,
}
RETRY_AFTER_TIMEOUT = "1"
"""Retry-After (seconds) of an answer whose query timed out."""
RETRY_AFTER = {"QUERY_TIMEOUT": RETRY_AFTER_TIMEOUT, "SERVICE_UNAVAILABLE": "5"}


def status_for(code: str) -> int:
    """The HTTP status of an error code (500 for anything unexpected)."""
    return _STATUS.get(code, 500)


class DatabaseAway:
    """ASGI middleware: a request that meets a database it cannot reach (at the key check, in
    a read, in a write) is answered 503 with Retry-After in GraphQL's shape, not a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except DatabaseUnavailable as error:
            if started:
                raise  # too late to answer otherwise: the server ends the response
            log.warning(
                "database unreachable serving %s %s: %s", scope["method"], scope["path"], error
            )
            await json_error(503, UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE")(scope, receive, send)
