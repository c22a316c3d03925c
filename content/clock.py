"""The time a read is made at: now, or a time fixed for a block (the differential test runs
one request through both engines at one time, so that time-stamped cursors agree)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_fixed: ContextVar[datetime | None] = ContextVar("newsgraph_now", default=None)


def now() -> datetime:
    return _fixed.get() or datetime.now(UTC)


@contextlib.contextmanager
def fixed(at: datetime) -> Iterator[None]:
    token = _fixed.set(at)
    try:
        yield
    finally:
        _fixed.reset(token)
