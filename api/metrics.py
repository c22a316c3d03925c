"""Prometheus metrics at GET /metrics, through prometheus-client (what Prometheus' own Python
client exposes, in its text format). With `serve --workers N` every process writes its values
to PROMETHEUS_MULTIPROC_DIR (`serve` makes one when unset) and a scrape of any process reads
them all, so counts are the service's, not one process's.

Labels stay bounded: routes are their templates (`/v1/stories/{slug}`), and an operation is
named only while a process has seen fewer than MAX_OPERATIONS names (callers choose names)."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from db.webhooks import outbox_depth

MAX_OPERATIONS = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "newsgraph_requests",
    "HTTP requests answered (429s are rate-limit refusals, 503s unavailability)",
    ["route", "method", "status", "operation", "engine", "role"],
)
DURATION = Histogram(
    "newsgraph_request_duration_seconds",
    "Time to answer a request",
    ["route", "engine"],
    buckets=_SECONDS,
)
DATABASE = Histogram(
    "newsgraph_request_database_seconds",
    "Database time spent answering a request",
    ["route"],
    buckets=_SECONDS,
)
STATEMENTS = Histogram(
    "newsgraph_request_statements",
    "SQL statements a request sent",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100),
)
CACHE = Counter("newsgraph_response_cache_lookups", "Response cache lookups by result", ["result"])
POOL = Gauge(
    "newsgraph_pool_connections",
    "Database connections of the pools, by state",
    ["state"],
    multiprocess_mode="livesum",
)
SUBSCRIBERS = Gauge(
    "newsgraph_live_subscribers", "Live subscriptions held", multiprocess_mode="livesum"
)
WEBHOOK_DELIVERIES = Counter(
    "newsgraph_webhook_deliveries", "Webhook delivery attempts by result", ["result"]
)
_operations: set[str] = set()
_children: dict[tuple[object, ...], Any] = {}
"""Labelled series by metric and label values, so that a request does not pay for
prometheus-client's checks and lock to find them (the labels are bounded, so is this)."""
_requests: dict[tuple[Any, ...], tuple[Any, ...]] = {}
"""The five series a request adds to, by its labels: one lookup a request."""
GAUGE_SECONDS = 0.25
"""Gauges (pool connections, subscribers) are read at most this often a process, not on
every request."""
_gauges_at = [-GAUGE_SECONDS]


def route_of(scope: Scope) -> str:
    """The route's template (its parameters' values put back as names), or `unmatched`."""
    if "endpoint" not in scope:  # answered before routing (the response cache)
        kept: str | None = scope.get("state", {}).get("route")
        if kept is not None:
            return kept  # the route of the request that made the cached answer
        for route in getattr(scope.get("app"), "routes", ()):
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope = {**scope, **child}
                break
        else:
            return "unmatched"
    path: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(str(value), "{" + name + "}", 1)
    return path


def operation_label(name: str | None) -> str:
    if name is None:
        return ""
    if not _NAME.fullmatch(name):
        return "(other)"
    if name not in _operations and len(_operations) >= MAX_OPERATIONS:
        return "(other)"
    _operations.add(name)
    return name


def observe(scope: Scope, seconds: float, spent: list[float], found: dict[str, Any]) -> None:
    """One answered request's figures, from the fields of its log line (api.observability
    calls it)."""
    route = route_of(scope)
    labels = (
        route,
        scope["method"],
        found["status"],
        operation_label(found.get("operation")),
        found.get("engine") or "",
        found.get("role") or "",
        found.get("cache"),
    )
    series = _requests.get(labels)
    if series is None:
        series = _requests[labels] = _request_series(*labels)
    requests, duration, database, statements, cache = series
    requests.inc()
    duration.observe(seconds)
    database.observe(spent[0])
    statements.observe(spent[1])
    if cache is not None:
        cache.inc()
    now = time.monotonic()
    if now - _gauges_at[0] < GAUGE_SECONDS:
        return
    _gauges_at[0] = now
    state = scope["state"]
    pool = state.get("pool")
    if pool is not None:
        _series(POOL, "open").set(pool.get_size())
        _series(POOL, "idle").set(pool.get_idle_size())
    live = state.get("live")
    if live is not None:
        SUBSCRIBERS.set(len(live.subscribers))


def _request_series(
    route: str, method: str, status: int, operation: str, engine: str, role: str, cache: str | None
) -> tuple[Any, ...]:
    """The series a request of these labels adds to (labels are bounded, so is _requests)."""
    return (
        _series(REQUESTS, route, method, str(status), operation, engine, role),
        _series(DURATION, route, engine),
        _series(DATABASE, route),
        _series(STATEMENTS, route),
        _series(CACHE, cache.lower()) if cache else None,
    )


def _series(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


async def serve(request: Request) -> Response:
    """GET /metrics: every process's metrics, and the webhook outbox as the database has it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    shared = CollectorRegistry()
    pending = Gauge(
        "newsgraph_webhook_outbox",
        "Webhook deliveries waiting to be sent (the shared outbox)",
        registry=shared,
    )
    pending.set(await outbox_depth(request.state.primary))
    return Response(body + generate_latest(shared), media_type=CONTENT_TYPE_LATEST)
