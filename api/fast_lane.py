"""Cache hits answered in front of the middleware stack.

The commonest request a busy deployment serves is a GET the response cache holds, from a
caller whose rate-limit lease still holds a token. Everything such a request needs is in
this process's memory, and passing it through every layer of the stack (request log, database
guard, body limit, key check, cache) cost more than half of its time. This layer, outermost
but for CORS, answers it at once with what the stack would have sent, header for header:
the cached answer (a 304 when the validators match), the rate-limit headers of the token it
spends, the request id and traceparent, then the same metrics and log line.

Anything else goes the full way, unchanged: a miss, a caller whose key or bucket must be
checked against the store (no lease, or a lease spent), a key that may preview, a request
with a body or a stream's Accept, a browser's cross-origin request (CORS adds its headers),
and every request while tracing is on. tests/test_fast_lane.py holds the two ways to the same
bytes.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api import observability, tracing
from api.auth import Rejected, anonymous_bucket, presented_key, rate_headers
from api.response_cache import CACHED_PATHS, STREAMS, ResponseCache, answer, cache_key
from api.settings import Access
from content.access import ANONYMOUS, Permission, Role, Viewer
from db.keys import ApiKey
from db.rate_limits import Lease, LeasingRateLimiter, key_lease

MAX_VIEWERS = 10_000
"""Callers a process keeps made (a key's viewer is built once, not on every request)."""
_NOT_SPENT = [0.0, 0.0]
"""Database time and statements of an answer from memory."""


class FastLane:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: ResponseCache,
        access: Access,
        log_requests: bool,
        cross_origin: bool,
    ) -> None:
        self.app, self.cache, self.access = app, cache, access
        self.log_requests, self.cross_origin = log_requests, cross_origin
        self.viewers: dict[int, tuple[str, str, Viewer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not self.cache.enabled
            or not self.cache.live
            or not scope["path"].startswith(CACHED_PATHS)
            or tracing.on()
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw = scope["headers"]
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
        if len(headers) < len(raw):
            await self.app(scope, receive, send)  # a header sent twice: the stack's reading
            return
        found = self._caller(scope, headers)
        if found is None:
            await self.app(scope, receive, send)
            return
        viewer, lease, limiter = found
        key = cache_key(scope, headers, viewer.caller_class, b"")
        entry = self.cache.get(key, count_miss=False)
        if entry is None:
            await self.app(scope, receive, send)
            return
        decision = limiter.spend(lease)  # nothing ran since holding(): the token is there
        self.cache.counts.fast += 1
        state = scope["state"]
        state["viewer"], state["route"] = viewer, entry.route
        ids = observability.begin(scope, headers)
        rates = rate_headers(decision).items()
        after = [
            *((name.lower().encode(), value.encode()) for name, value in rates),
            (b"x-request-id", ids[0].encode()),
            (b"traceparent", state["traceparent"].encode()),
        ]
        answered: dict[str, Any] = {"status": 500, "cache": "HIT"}
        try:
            answered["status"] = await answer(entry, headers, "GET", send, after)
        finally:
            took = time.perf_counter() - started
            observability.finish(scope, answered, took, _NOT_SPENT, ids, self.log_requests)

    def _caller(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[Viewer, Lease, LeasingRateLimiter] | None:
        """Who calls and the lease that pays for the request, when memory alone can say and
        the request is one this lane answers; else None (the full stack decides)."""
        if (
            "content-length" in headers
            or "transfer-encoding" in headers
            or (self.cross_origin and "origin" in headers)
            or STREAMS.search(headers.get("accept", ""))
        ):
            return None
        limiter = scope["state"].get("rate_limiter")
        if not isinstance(limiter, LeasingRateLimiter):
            return None
        try:
            presented = presented_key(headers)
        except Rejected:
            return None  # the key check answers it
        if presented is None:
            if not self.access.anonymous:
                return None
            lease = limiter.holding(anonymous_bucket(scope))
            return None if lease is None else (ANONYMOUS, lease, limiter)
        lease = limiter.holding(key_lease(presented))
        if lease is None or lease.key is None:
            return None
        viewer = self._viewer(lease.key)
        return None if viewer is None else (viewer, lease, limiter)

    def _viewer(self, found: ApiKey) -> Viewer | None:
        """The caller a live key makes, None for one that may preview (its answers are its
        own): kept by key id, as long as the key's name and role are the same."""
        kept = self.viewers.get(found.id)
        if kept is None or kept[0] != found.role or kept[1] != found.name:
            viewer = Viewer(Role(found.role), found.name, found.id)
            if len(self.viewers) >= MAX_VIEWERS:
                self.viewers.clear()
            kept = (found.role, found.name, None if viewer.can(Permission.PREVIEW) else viewer)
            self.viewers[found.id] = kept
        return kept[2]
