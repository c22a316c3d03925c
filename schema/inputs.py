"""Checks on caller-supplied strings, shared by every field that takes one."""

from __future__ import annotations

import re
from datetime import datetime

from schema.errors import BadUserInput

MAX_SLUG_LENGTH = 200
MAX_QUERY_LENGTH = 500
SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
"""What a slug is (lower-case letters and digits joined by single hyphens)."""
_SLUG = re.compile(SLUG_PATTERN)


def checked_text(value: str, field: str, *, max_length: int) -> str:
    if "\x00" in value:
        raise BadUserInput(f"`{field}` must not contain NUL characters.", field=field)
    if len(value) > max_length:
        raise BadUserInput(
            f"`{field}` is {len(value)} characters long; at most {max_length} are allowed.",
            field=field,
        )
    return value


def checked_slug(value: str, field: str = "slug") -> str:
    checked_text(value, field, max_length=MAX_SLUG_LENGTH)
    if not _SLUG.fullmatch(value):
        raise BadUserInput(
            f"`{field}` must be lower-case letters and digits joined by single hyphens, "
            f"got {value[:60]!r}.",
            field=field,
        )
    return value


def checked_query(value: str, field: str = "query") -> str:
    checked_text(value, field, max_length=MAX_QUERY_LENGTH)
    if not value.strip():
        raise BadUserInput(f"`{field}` must contain at least one word.", field=field)
    return value


def optional_slug(value: str | None, field: str) -> str | None:
    return checked_slug(value, field) if value is not None else None


def aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise BadUserInput(
            f"`{field}` needs a time zone offset, e.g. 2026-03-01T00:00:00Z.", field=field
        )
    return value
