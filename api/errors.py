"""HTTP-level errors in the same shape as GraphQL errors, so clients parse one format."""

from __future__ import annotations

from starlette.responses import JSONResponse


def json_error(status_code: int, message: str, code: str) -> JSONResponse:
    response = JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status_code,
    )
    if code == "QUERY_TIMEOUT":
        response.headers["Retry-After"] = RETRY_AFTER_TIMEOUT
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
}
RETRY_AFTER_TIMEOUT = "1"
"""Retry-After (seconds) of an answer whose query timed out."""


def status_for(code: str) -> int:
    """The HTTP status of an error code (500 for anything unexpected)."""
    return _STATUS.get(code, 500)
