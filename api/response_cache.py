"""The response cache: whole answers kept in each process, dropped the moment they change.

What is kept. A GET (GraphQL, feeds, REST, sitemaps) or a GraphQL POST whose endpoint said
its answer is shared (`request.state.cache_keys`: the keys of what it holds, set only for
answers without errors that show nothing personal) by a caller who cannot preview. The
entry's key is everything the answer depends on: the method, URL (host and query string
included: feeds and REST write absolute links), the Accept and Content-Type headers, a POST's
body, and the caller's class (its role, which decides rights such as a partner's full text,
and whether it is anonymous, which decides Cache-Control). A caller's key itself never
matters: rate limits and refusals happen before the cache (api.auth), on every request.

When it goes. Every write NOTIFYs the keys it changed (db.purge) as it commits; this
process LISTENs on a connection of its own and drops every entry holding one of them. Time
is read the same way: the change events stored ahead for scheduled items are looked up
when they come due. An entry built by a request that overlapped a purge is not kept (it
may have read from before the write). While the listening connection is down, nothing is
kept or served. An entry also lives at most `ttl_seconds`, for what moves with the clock
alone (search freshness, the news sitemap's last two days).

Bounded by `max_bytes` of bodies and headers, least recently used out first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.http_cache import not_modified
from content.access import Permission, Viewer
from db import purge
from db.pool import Pool

log = logging.getLogger("newsgraph.cache")

CACHED_PATHS = ("/graphql", "/v1/", "/feeds/", "/sitemap")
STREAMS = re.compile(r"text/event-stream|multipart/mixed", re.IGNORECASE)
_REPLACED = {b"server-timing", b"x-cache", b"content-length"}


@dataclass(frozen=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keys: tuple[str, ...]
    etag: str | None
    last_modified: datetime | None
    expires: float
    """time.monotonic() past which it is not served."""
    route: str
    """The route that made it (api.metrics labels hits by it)."""

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


@dataclass
class Counts:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    evicted: int = 0
    """Dropped to stay within max_bytes."""
    purged: int = 0
    """Dropped because a write or the clock changed what they hold."""
    expired: int = 0
    not_kept: int = 0
    """Answers not kept: a purge overlapped their request, or they were too large."""
    fast: int = 0
    """Hits answered by api.fast_lane, in front of the middleware stack."""


class ResponseCache:
    def __init__(self, max_bytes: int, ttl_seconds: float) -> None:
        self.max_bytes, self.ttl_seconds = max_bytes, ttl_seconds
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.holding: dict[str, set[bytes]] = {}
        """Purge key: the entries that hold it."""
        self.bytes = 0
        self.generation = 0
        """Moves on every purge: a request that saw another number when it began may have
        read what the purge was about, and its answer is not kept."""
        self.live = False
        """Whether purges are being received: only then is anything kept or served."""
        self.counts = Counts()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: bytes, *, count_miss: bool = True) -> Entry | None:
        """The entry, if it may be served (count_miss=False: a look that is not the last)."""
        entry = self.entries.get(key)
        if entry is None or not self.live:
            self.counts.misses += count_miss
            return None
        if entry.expires <= time.monotonic():
            self._drop(key)
            self.counts.expired += 1
            self.counts.misses += count_miss
            return None
        self.entries.move_to_end(key)
        self.counts.hits += 1
        return entry

    def put(self, key: bytes, entry: Entry, generation: int) -> None:
        if not self.live or generation != self.generation or entry.size > self.max_bytes // 8:
            self.counts.not_kept += 1
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = entry
        self.bytes += entry.size
        for purge_key in entry.keys:
            self.holding.setdefault(purge_key, set()).add(key)
        self.counts.stored += 1
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self.entries)))
            self.counts.evicted += 1

    def purge(self, keys: list[str]) -> None:
        """Drop every entry that holds one of these keys (purge.EVERYTHING: every entry)."""
        self.generation += 1
        if purge.EVERYTHING in keys:
            self.counts.purged += len(self.entries)
            self.entries.clear()
            self.holding.clear()
            self.bytes = 0
            return
        for purge_key in keys:
            for key in self.holding.pop(purge_key, ()):
                if key in self.entries:
                    self._drop(key)
                    self.counts.purged += 1

    def _drop(self, key: bytes) -> None:
        entry = self.entries.pop(key)
        self.bytes -= entry.size
        for purge_key in entry.keys:
            held = self.holding.get(purge_key)
            if held is not None:
                held.discard(key)
                if not held:
                    del self.holding[purge_key]

    def stats(self) -> dict[str, Any]:
        c = self.counts
        looked = c.hits + c.misses
        return {
            "enabled": self.enabled,
            "live": self.live,
            "entries": len(self.entries),
            "bytes": self.bytes,
            "maxBytes": self.max_bytes,
            "hits": c.hits,
            "misses": c.misses,
            "hitRate": round(c.hits / looked, 4) if looked else None,
            "stored": c.stored,
            "evicted": c.evicted,
            "purged": c.purged,
            "expired": c.expired,
            "notKept": c.not_kept,
            "fastLane": c.fast,
        }


class CachedResponses:
    """ASGI middleware, inside api.auth.Gate (it needs the caller, and every request must
    still pass the rate limits): answers from the cache, and keeps what endpoints mark."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        viewer: Viewer | None = scope.get("state", {}).get("viewer")
        method = scope.get("method")
        if (
            scope["type"] != "http"
            or not self.cache.enabled
            or viewer is None
            or viewer.can(Permission.PREVIEW)
            or not scope["path"].startswith(CACHED_PATHS)
            or not (method == "GET" or (method == "POST" and scope["path"] == "/graphql"))
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if STREAMS.search(headers.get("accept", "")):
            await self.app(scope, receive, send)  # a subscription's stream is never kept
            return
        body = b""
        if method == "POST":
            body, receive = await _read_body(receive)
        key = cache_key(scope, headers, viewer.caller_class, body)
        entry = self.cache.get(key)
        if entry is not None:
            scope["state"]["route"] = entry.route
            await answer(entry, headers, method, send)
            return
        generation = self.cache.generation
        status, kept_headers, chunks = 0, [], []

        async def capture(message: Message) -> None:
            nonlocal status, kept_headers
            if message["type"] == "http.response.start":
                status, kept_headers = message["status"], list(message.get("headers", []))
                message.setdefault("headers", []).append((b"x-cache", b"MISS"))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        keys = scope.get("state", {}).get("cache_keys")
        if status != 200 or keys is None:
            return
        entry = _entry(kept_headers, b"".join(chunks), keys, self.cache, metrics.route_of(scope))
        self.cache.put(key, entry, generation)


def cache_key(scope: Scope, headers: Mapping[str, str], caller_class: str, body: bytes) -> bytes:
    """Everything an answer depends on (see the module's text)."""
    parts = [
        scope["method"].encode(),
        scope.get("scheme", "http").encode(),
        headers.get("host", "").encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        headers.get("accept", "").encode(),
        headers.get("content-type", "").encode(),
        caller_class.encode(),
        hashlib.sha256(body).digest() if body else b"",
    ]
    return b"\x00".join(parts)


def _entry(
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    keys: list[str],
    cache: ResponseCache,
    route: str,
) -> Entry:
    found = Headers(raw=headers)
    modified = found.get("last-modified")
    return Entry(
        status=200,
        headers=[(k, v) for k, v in headers if k.lower() not in _REPLACED],
        body=body,
        keys=tuple(dict.fromkeys(keys)),
        etag=found.get("etag"),
        last_modified=parsedate_to_datetime(modified) if modified else None,
        expires=time.monotonic() + cache.ttl_seconds,
        route=route,
    )


async def answer(
    entry: Entry,
    request: Mapping[str, str],
    method: str,
    send: Send,
    after: list[tuple[bytes, bytes]] | None = None,
) -> int:
    """Send a cached answer (a 304 when the request's validators match it), with the headers
    `after` last; its status."""
    sent = [*entry.headers, (b"x-cache", b"HIT"), (b"server-timing", b'cache;desc="hit"')]
    if method == "GET" and entry.etag and not_modified(request, entry.etag, entry.last_modified):
        status, body = 304, b""
    else:
        status, body = entry.status, entry.body
        sent.append((b"content-length", str(len(body)).encode()))
    if after:
        sent += after
    await send({"type": "http.response.start", "status": status, "headers": sent})
    await send({"type": "http.response.body", "body": body})
    return status


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body (api.limits.BodySizeLimit bounds it), and a receive that hands
    it to the app again."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive  # the client left; let the app see it
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body, replayed = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class Invalidation:
    """Keeps a process's cache in step with the database: purge notices as they come, and
    the events stored ahead as they come due (db.purge)."""

    RETRY_SECONDS = 1.0
    LOOK_AT_LEAST_EVERY = 30.0

    def __init__(
        self,
        cache: ResponseCache,
        pool: Pool,
        notices: purge.Notices,
        listeners: Sequence[purge.Listener] = (),
    ) -> None:
        """notices: where the purge notices are heard (PostgreSQL's LISTEN or Redis);
        listeners: what else acts on them (the subscribers' hub, the rate leases)."""
        self.cache, self.pool, self.notices = cache, pool, notices
        self.listeners = listeners
        self.wake = asyncio.Event()

    def notice(self, payload: str) -> None:
        self._purged(purge.keys_of(payload))
        self.wake.set()  # the write may have scheduled something sooner

    def _purged(self, keys: list[str]) -> None:
        self.cache.purge(keys)
        for listener in self.listeners:
            listener.purged(keys)

    async def run(self) -> None:
        delay = self.RETRY_SECONDS
        while True:
            try:
                await self._listen()
                delay = self.RETRY_SECONDS
            except Exception as error:  # the database may be away for a while; keep trying
                log.warning(
                    "cannot listen for purge notices (%s); nothing is cached meanwhile; "
                    "retrying in %.0f s",
                    error,
                    delay,
                )
            finally:
                self.cache.live = False
                self.cache.purge([purge.EVERYTHING])
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.LOOK_AT_LEAST_EVERY)

    async def _listen(self) -> None:
        hearing = await self.notices.hear(self.notice)
        closed = hearing.lost
        try:
            checked = await purge.database_now(self.pool)
            # Anything written before the listener was up has been missed: start empty.
            self.cache.purge([purge.EVERYTHING])
            self.cache.live = True
            log.info("response cache live")
            while not closed.is_set():
                look = await purge.look(self.pool, checked)
                checked = look.now
                if look.keys:  # a scheduled event came due
                    self._purged(look.keys)
                wait = self.LOOK_AT_LEAST_EVERY
                if look.next_due is not None:
                    wait = min(wait, max(0.0, (look.next_due - look.now).total_seconds()) + 0.01)
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(self.wake, closed), wait)
        finally:
            self.cache.live = False
            with contextlib.suppress(Exception):
                await hearing.close()


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
