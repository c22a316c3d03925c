"""The one place the application is built."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any, TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from api import feeds, graphiql, metrics, migrations, openapi, server, tracing
from api.auth import Gate
from api.cors import cors
from api.errors import DatabaseAway, json_error
from api.fast_lane import FastLane
from api.graphql_view import GraphQLApp
from api.images import Images
from api.limits import BodySizeLimit
from api.logs import configure_logging
from api.observability import RequestLog
from api.reader import Reader
from api.replicas import ReadRouting
from api.response_cache import CachedResponses, Invalidation, ResponseCache
from api.rest import Rest
from api.settings import Settings
from api.sitemaps import Sitemaps
from api.webhooks import Deliverer
from db import embeddings, figures, purge, search
from db.pool import (
    ConnectionSetup,
    Pool,
    StatementTimeout,
    create_pool,
    schema_revision,
)
from db.rate_limits import (
    LeasingRateLimiter,
    PostgresRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from db.replicas import Replicas
from db.secrets import service_secret
from schema.errors import TIMEOUT_MESSAGE
from schema.live import ChangeHub

VERSION = metadata.version("newsgraph")
"""The installed release (pyproject.toml's version), as /healthz reports it."""
log = logging.getLogger("newsgraph")


class State(TypedDict):
    pool: Pool
    """Where this request reads (api.replicas may send a read to a replica)."""
    primary: Pool
    """Where writes go."""
    replicas: Replicas
    rate_limiter: RateLimiter
    preview_secret: bytes
    embeddings: EmbeddingsSwitch
    response_cache: ResponseCache
    live: ChangeHub


class EmbeddingsSwitch:
    """Whether recommendations use story embeddings: looked up at start and then once a
    minute in the background (never inside a request), so a first `newsgraph embed` takes
    effect without a restart."""

    TTL_SECONDS = 60.0

    def __init__(self, pool: Pool) -> None:
        self.pool, self.value = pool, False

    async def on(self) -> bool:
        return self.value

    async def refresh(self) -> None:
        self.value = await embeddings.available(self.pool)

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.TTL_SECONDS)
            try:
                await self.refresh()
            except Exception:  # the database may be away for a moment; keep the last answer
                log.exception("looking up story embeddings failed")


class SchemaOutOfDate(RuntimeError):
    pass


def app_from_env() -> Starlette:
    """The app of the settings in the environment: what each of `serve --workers N`'s
    processes runs (DATABASE_URL names the database `serve` resolved)."""
    tune_garbage_collection()
    settings = Settings.from_env()
    configure_logging(settings.log_format)  # a spawned worker starts with none
    tracing.configure(settings.tracing)
    server.configure(settings)  # this worker's HTTP protocol limits
    return create_app(settings)


def tune_garbage_collection() -> None:
    """For a serving process, which holds many long-lived objects (thousands of connections
    and subscribers): what startup made is frozen out of collection, and the youngest
    generation is collected after 100,000 allocations instead of 700. With the defaults,
    collections over every connection's objects took most of the time of a live event's
    fan-out (bench/live.py: p99 5.5 s against 1.4 s at 10,000 subscribers)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 100, 100)


def create_app(
    settings: Settings,
    *,
    connection_setup: ConnectionSetup | None = None,
    fast_lane: bool = True,
) -> Starlette:
    """The Starlette app; settings.database_url must name a reachable, migrated database.

    connection_setup runs whenever a pooled connection is acquired (tests and benchmarks attach a
    statement counter there). fast_lane=False sends cache hits through the whole middleware
    stack too (tests compare the two).
    """
    assert settings.database_url, "resolve the database URL before building the app"
    database_url = settings.database_url

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        redis_notices = purge.redis_notices(settings.access.redis_url)
        notices = redis_notices or purge.PostgresNotices(settings.listen_url or database_url)
        pool = await create_pool(
            database_url,
            statement_timeout_ms=settings.statement_timeout_ms,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            setup=connection_setup,
            publisher=redis_notices,
            transaction_pooler=settings.transaction_pooler,
            work_mem_kb=settings.work_mem_kb,
        )
        # The process's own readers (purges, due events, the change log for subscribers)
        # keep off the requests' pool.
        background = await create_pool(
            database_url,
            statement_timeout_ms=settings.statement_timeout_ms,
            min_size=1,
            max_size=2,
            transaction_pooler=settings.transaction_pooler,
        )
        replicas = Replicas(
            pool,
            [
                await create_pool(
                    url,
                    statement_timeout_ms=settings.statement_timeout_ms,
                    min_size=1,
                    transaction_pooler=settings.transaction_pooler,
                    work_mem_kb=settings.work_mem_kb,
                )
                for url in settings.replica_urls
            ],
        )
        limiter = LeasingRateLimiter(
            RedisRateLimiter(settings.access.redis_url)
            if settings.access.redis_url
            else PostgresRateLimiter(pool)
        )
        workers: list[asyncio.Task[None]] = []
        cache.purge([purge.EVERYTHING])  # a lifespan may start again (tests)
        try:
            await _check_revision(pool)
            await _ensure_search_index(pool, settings.search_config)
            if await figures.ensure_current(pool):
                log.info("stored figures computed")
            secret = await service_secret(pool, "preview-tokens")
            switch = EmbeddingsSwitch(pool)
            await switch.refresh()
            workers.append(asyncio.create_task(switch.keep_fresh()))
            workers.append(asyncio.create_task(_drain_figures(pool)))
            hub = ChangeHub(
                background,
                max_per_key=settings.limits.max_subscriptions_per_key,
                sharing=settings.live_sharing,
            )
            workers.append(asyncio.create_task(hub.run()))
            # Purge notices feed the response cache, the subscribers and the rate leases.
            invalidation = Invalidation(cache, background, notices, [hub, limiter, replicas])
            workers.append(asyncio.create_task(invalidation.run()))
            if replicas.replicas:
                workers.append(asyncio.create_task(replicas.run()))
            if settings.webhooks.worker:
                workers.append(asyncio.create_task(Deliverer(pool, settings.webhooks).run()))
            yield {
                "pool": pool,
                "primary": pool,
                "replicas": replicas,
                "rate_limiter": limiter,
                "preview_secret": secret,
                "embeddings": switch,
                "response_cache": cache,
                "live": hub,
            }
        finally:
            for worker in workers:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await limiter.close()
            await replicas.close()
            await background.close()
            await pool.close()

    cache = ResponseCache(settings.response_cache_bytes, settings.response_cache_seconds)
    graphql = GraphQLApp(settings)
    reader = Reader(graphql)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),  # live updates (graphql-transport-ws)
            *feeds.routes(reader, settings),
            *Rest(reader, settings).routes(),
            Route("/v1/openapi.json", openapi.endpoint(settings.api_url), methods=["GET"]),
            *Sitemaps(settings).routes(),
            *Images(settings).routes(),
            Route("/healthz", health, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
            Route("/metrics", metrics.serve, methods=["GET"]),
            Route("/stats", stats, methods=["GET"]),
            Mount(
                graphiql.MOUNT.rstrip("/"), StaticFiles(directory=graphiql.ASSETS, check_dir=False)
            ),
        ],
        middleware=[
            *(
                [
                    Middleware(
                        FastLane,
                        cache=cache,
                        access=settings.access,
                        log_requests=settings.access_log,
                        cross_origin=bool(settings.cors_origins),
                    )
                ]
                if fast_lane
                else []
            ),
            Middleware(RequestLog, log_requests=settings.access_log),
            *cors(settings.cors_origins),
            Middleware(DatabaseAway),
            Middleware(
                BodySizeLimit,
                max_bytes=settings.limits.max_body_bytes,
                own_bounds=("/v1/images",),
            ),
            Middleware(Gate, access=settings.access),
            Middleware(CachedResponses, cache=cache),
            Middleware(ReadRouting),
        ],
        # Exception: what nothing else caught, as ServerErrorMiddleware answers it (outside
        # every middleware: a database away at the key check lands here too).
        exception_handlers={
            StatementTimeout: _timed_out,
            HTTPException: _http_error,
            Exception: _failed,
        },
        lifespan=lifespan,
    )


async def _failed(request: Request, error: Exception) -> JSONResponse:
    """An error nothing answered: a 500 in GraphQL's shape (the server logs the error)."""
    message = "Something failed on our side; it has been logged."
    return json_error(500, message, "INTERNAL_SERVER_ERROR")


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Routing's own refusals (no such path, a method the path does not take) in the
    API's JSON shape, with their headers (Allow)."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    if status == 404:
        message = f"There is nothing at {request.url.path}: see /v1/openapi.json and /graphql."
    elif status == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed at {request.url.path}; it takes {allowed}."
    else:
        message = error.detail
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    response = json_error(status, message, codes.get(status, "BAD_REQUEST"))
    response.headers.update(error.headers or {})
    return response


async def _timed_out(request: Request, error: Exception) -> JSONResponse:
    """A statement of a feed, REST or sitemap read hit the statement timeout."""
    log.warning("statement timeout serving %s %s", request.method, request.url.path)
    return json_error(503, TIMEOUT_MESSAGE, "QUERY_TIMEOUT")


def with_lifespan_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """The app as an ASGI server runs it after lifespan startup: a copy of the lifespan state
    in every request's scope. For in-process clients, which do not run the lifespan."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    return served


async def health(request: Request) -> JSONResponse:
    """Liveness and database reachability, for load balancers."""
    revision = await schema_revision(request.state.primary)
    return JSONResponse({"status": "ok", "version": VERSION, "schemaRevision": revision})


async def ready(request: Request) -> JSONResponse:
    """Readiness, for orchestrators: the database answers and is at this code's revision
    (503 with the reason otherwise, e.g. during a deploy whose migration has not run)."""
    revision, needed = await schema_revision(request.state.primary), migrations.head_revision()
    if revision != needed:
        reason = f"the database is at revision {revision}; this code needs {needed}"
        body = {"status": "not ready", "reason": reason, "schemaRevision": revision}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "schemaRevision": revision})


async def stats(request: Request) -> JSONResponse:
    """What this process's response cache holds and how it has done (api.response_cache),
    and its live subscribers (schema.live)."""
    cache: ResponseCache = request.state.response_cache
    live: ChangeHub = request.state.live
    replicas: Replicas = request.state.replicas
    return JSONResponse(
        {
            "process": os.getpid(),
            "responseCache": cache.stats(),
            "live": live.stats(),
            "database": replicas.stats(),
        }
    )


async def _drain_figures(pool: Pool, every_seconds: float = 30.0) -> None:
    """Finish recomputing stories that a re-rated outlet queued, should the process that
    re-rated it have stopped before it was done (db.figures.drain)."""
    while True:
        try:
            await figures.drain(pool)
        except Exception:  # the database may be away for a moment; keep going
            log.exception("recomputing queued figures failed")
        await asyncio.sleep(every_seconds)


async def _ensure_search_index(pool: Pool, config: str) -> None:
    try:
        await search.ensure_index(pool, config)
    except search.UnknownConfig as error:
        raise SystemExit(f"NEWSGRAPH_SEARCH_CONFIG: {error}") from None


async def _check_revision(pool: Pool) -> None:
    current, head = await schema_revision(pool), migrations.head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at revision {current}, this code needs {head}: "
            "run `newsgraph migrate`"
        )
