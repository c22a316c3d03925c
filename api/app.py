"""The one place the application is built."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypedDict

from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import (
    GraphQL,
    HTTPException,  # type: ignore[attr-defined]  # what its view catches
)
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult

from api import feeds, graphiql, migrations, openapi
from api.auth import Gate
from api.errors import json_error
from api.http_cache import cacheable
from api.limits import BodySizeLimit
from api.persisted_queries import PersistedQueries
from api.reader import Reader
from api.rest import Rest
from api.settings import Settings
from api.sitemaps import Sitemaps
from api.webhooks import Deliverer
from db import embeddings, search
from db.pool import ConnectionSetup, Pool, create_pool, schema_revision
from db.rate_limits import PostgresRateLimiter, RateLimiter, RedisRateLimiter
from db.secrets import service_secret
from schema import build_schema
from schema.cache_keys import Collected, collecting, root_keys
from schema.context import Context
from schema.errors import ApiError, coded
from schema.loaders import Loaders

log = logging.getLogger("newsgraph")


class State(TypedDict):
    pool: Pool
    rate_limiter: RateLimiter
    preview_secret: bytes
    embeddings: EmbeddingsSwitch


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        limits = settings.limits
        schema = build_schema(
            max_depth=limits.max_depth,
            max_tokens=limits.max_tokens,
            max_aliases=limits.max_aliases,
        )
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.public_url = settings.public_url
        self.publisher_name = settings.publisher_name
        self.language = settings.language
        self.default_key_rate = settings.access.key_rate_per_minute
        self.webhook_allow_private = settings.webhooks.allow_private
        self.max_age = settings.feed_max_age
        self.persisted = PersistedQueries()
        self.ide_page = graphiql.page()

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Here rather than in a schema extension: parse errors skip extensions' post-processing.
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
        return process_result(result)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        # Strawberry answers malformed requests in plain text; clients expect GraphQL's shape.
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = json_error(error.status_code, error.reason, "BAD_REQUEST")
        ran: Ran | None = getattr(request.state, "graphql_ran", None)
        if request.method == "GET" and response.status_code == 200 and ran is not None:
            response = self._cacheable(request, response, ran)
        await response(scope, receive, send)

    def _cacheable(self, request: Request, response: Any, ran: Ran) -> Any:
        """A query over GET, as shared caches may keep it: ETag and 304, Cache-Control by
        caller, and the keys a change event purges it by. Errors are never stored."""
        if ran.failed or ran.collected.personal:
            response.headers["Cache-Control"] = "private, no-store"
            return response
        return cacheable(
            request.headers,
            bytes(response.body),
            response.media_type or "application/json",
            viewer=request.state.viewer,
            max_age=self.max_age,
            surrogate_keys=[*ran.collected.keys, *root_keys(ran.query, ran.operation_name)],
        )

    async def execute_single(  # type: ignore[override]
        self, *, request: Request, request_data: GraphQLRequestData, **options: Any
    ) -> ExecutionResult:
        pool: Pool = request.state.pool
        try:
            request_data = await self.persisted.resolve(pool, request_data)
        except ApiError as error:
            request.state.graphql_ran = Ran(Collected(), "", None, failed=True)
            return ExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        with collecting() as collected:
            result = await super().execute_single(
                request=request, request_data=request_data, **options
            )
        if not result.errors:
            await self.persisted.keep(pool, request_data)
        query, name = request_data.query or "", request_data.operation_name
        request.state.graphql_ran = Ran(collected, query, name, failed=bool(result.errors))
        return result

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted query carries no `query` either; it wants the answer.
        persisted = "extensions" in request.query_params
        return not persisted and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.ide_page)

    async def get_context(self, request: Any, response: Any = None) -> Context:
        pool: Pool = request.state.pool
        semantic = await request.state.embeddings.on()
        return Context(
            pool=pool,
            loaders=Loaders.for_request(pool, semantic=semantic),
            semantic=semantic,
            public_url=self.public_url,
            viewer=request.state.viewer,
            preview_secret=request.state.preview_secret,
            default_key_rate=self.default_key_rate,
            publisher_name=self.publisher_name,
            language=self.language,
            webhook_allow_private=self.webhook_allow_private,
        )


@dataclass(frozen=True)
class Ran:
    """What one GraphQL operation read, for its cache headers."""

    collected: Collected
    query: str
    operation_name: str | None
    failed: bool


class EmbeddingsSwitch:
    """Whether recommendations use story embeddings: looked up at most once a minute, so a
    first `newsgraph embed` takes effect without a restart."""

    TTL_SECONDS = 60.0

    def __init__(self, pool: Pool) -> None:
        self.pool, self.value, self.checked = pool, False, -math.inf

    async def on(self) -> bool:
        if time.monotonic() - self.checked > self.TTL_SECONDS:
            self.value = await embeddings.available(self.pool)
            self.checked = time.monotonic()
        return self.value


class SchemaOutOfDate(RuntimeError):
    pass


def create_app(settings: Settings, *, connection_setup: ConnectionSetup | None = None) -> Starlette:
    """The Starlette app; settings.database_url must name a reachable, migrated database.

    connection_setup runs whenever a pooled connection is acquired (tests and benchmarks attach a
    statement counter there).
    """
    assert settings.database_url, "resolve the database URL before building the app"
    database_url = settings.database_url

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        pool = await create_pool(
            database_url,
            statement_timeout_ms=settings.statement_timeout_ms,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            setup=connection_setup,
        )
        limiter: RateLimiter = (
            RedisRateLimiter(settings.access.redis_url)
            if settings.access.redis_url
            else PostgresRateLimiter(pool)
        )
        worker: asyncio.Task[None] | None = None
        try:
            await _check_revision(pool)
            await _ensure_search_index(pool, settings.search_config)
            secret = await service_secret(pool, "preview-tokens")
            if settings.webhooks.worker:
                worker = asyncio.create_task(Deliverer(pool, settings.webhooks).run())
            yield {
                "pool": pool,
                "rate_limiter": limiter,
                "preview_secret": secret,
                "embeddings": EmbeddingsSwitch(pool),
            }
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await limiter.close()
            await pool.close()

    graphql = GraphQLApp(settings)
    reader = Reader(graphql)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *feeds.routes(reader, settings),
            *Rest(reader, settings).routes(),
            Route("/v1/openapi.json", openapi.serve, methods=["GET"]),
            *Sitemaps(settings).routes(),
            Route("/healthz", health, methods=["GET"]),
            Mount(
                graphiql.MOUNT.rstrip("/"), StaticFiles(directory=graphiql.ASSETS, check_dir=False)
            ),
        ],
        middleware=[
            Middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes),
            Middleware(Gate, access=settings.access),
        ],
        lifespan=lifespan,
    )


def with_lifespan_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    """The app as an ASGI server runs it after lifespan startup: a copy of the lifespan state
    in every request's scope. For in-process clients, which do not run the lifespan."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": dict(state)}, receive, send)

    return served


async def health(request: Request) -> JSONResponse:
    """Liveness and database reachability, for load balancers."""
    revision = await schema_revision(request.state.pool)
    return JSONResponse({"status": "ok", "schemaRevision": revision})


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
