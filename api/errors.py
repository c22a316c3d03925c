"""HTTP-level errors in the same shape as GraphQL errors, so clients parse one format."""

from __future__ import annotations

from starlette.responses import JSONResponse


def json_error(status_code: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status_code,
    )
