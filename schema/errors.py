"""User errors with a stable `extensions.code`, and the extension that codes or masks all errors."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from graphql import GraphQLError

from db.pool import DatabaseUnavailable, StatementTimeout

log = logging.getLogger("newsgraph.errors")

MASKED_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "The database cannot be reached just now; try again in a few seconds."
TIMEOUT_MESSAGE = (
    "The query took longer than the database allows and was cancelled: ask for fewer items "
    "or fields (totalCount of a filtered list counts every match), or retry later."
)
INTROSPECTION_MARKER = "introspection fields found"
"""In schema.limits.OneSchemaIntrospection's message."""
_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found",
    "Document contains more than",
    INTROSPECTION_MARKER,
)


class ApiError(Exception):
    """An error the caller can act on; its message and code reach the client unchanged."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code, **extensions}


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class SlowConsumer(ApiError):
    """A subscriber fell too far behind its stream (schema.live)."""

    code = "SLOW_CONSUMER"


class TooManySubscriptions(ApiError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class Unavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"


def timed_out(error: GraphQLError) -> bool:
    """True when a statement behind the error hit the statement timeout."""
    return isinstance(error.original_error, StatementTimeout)


def unavailable(error: GraphQLError) -> bool:
    """True when the database behind the error could not be reached."""
    return isinstance(error.original_error, DatabaseUnavailable)


def _database_failure(error: GraphQLError) -> tuple[str, str] | None:
    """(message, code) when the database failed the operation, not the caller or our code."""
    if timed_out(error):
        return TIMEOUT_MESSAGE, "QUERY_TIMEOUT"
    if unavailable(error):
        return UNAVAILABLE_MESSAGE, "SERVICE_UNAVAILABLE"
    return None


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors raised by our own code or libraries rather than by the caller."""
    original = error.original_error
    expected = (ApiError, GraphQLError, StatementTimeout)
    return original is not None and not isinstance(original, expected)


def _code_for(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code
    if any(marker in error.message for marker in _TOO_COMPLEX_MARKERS):
        return "QUERY_TOO_COMPLEX"
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def coded(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: unexpected ones masked, every one with a code."""
    replaced = _database_failure(error)
    if replaced is None and is_unexpected(error):
        replaced = MASKED_MESSAGE, "INTERNAL_SERVER_ERROR"
    if replaced is not None:
        message, code = replaced
        return GraphQLError(message, nodes=error.nodes, path=error.path, extensions={"code": code})
    extensions = {**(error.extensions or {}), "code": _code_for(error)}
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def log_unexpected(errors: list[GraphQLError], operation: str | None = None) -> None:
    """Log our own failures, and statements that timed out, with the operation's name."""
    name = operation or "an unnamed operation"
    for error in errors:
        if timed_out(error):
            log.warning("statement timeout in %s at %s", name, error.path)
        elif is_unexpected(error):
            log.error(
                "unexpected error in %s at %s", name, error.path, exc_info=error.original_error
            )


class PersistedQueryNotFound(ApiError):
    """Apollo APQ: the hash is unknown; the client sends the query with it next."""

    code = "PERSISTED_QUERY_NOT_FOUND"


class DocumentNotTrusted(ApiError):
    """The trusted-documents mode: the operation is not one the operator registered."""

    code = "PERSISTED_QUERY_NOT_IN_LIST"  # Apollo Router's code for the same refusal
