"""The GraphQL endpoint: Strawberry's ASGI view, with errors coded and GraphQL-shaped, a
context per request, Apollo persisted queries, and cache headers for queries over GET."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send
from strawberry.asgi import (
    GraphQL,
    HTTPException,  # type: ignore[attr-defined]  # what its view catches
)
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult

from api import graphiql
from api.errors import RETRY_AFTER_TIMEOUT, json_error
from api.http_cache import cacheable
from api.persisted_queries import PersistedQueries
from api.settings import Settings
from db.pool import Pool
from schema import build_schema
from schema.cache_keys import Collected, collecting, root_keys
from schema.context import Context
from schema.errors import ApiError, coded, timed_out
from schema.loaders import Loaders


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
        if ran is not None and ran.timed_out:
            response.status_code = 503  # the database gave up on it; try again shortly
            response.headers["Retry-After"] = RETRY_AFTER_TIMEOUT
            response.headers["Cache-Control"] = "private, no-store"
        elif request.method == "GET" and response.status_code == 200 and ran is not None:
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
            request.state.graphql_ran = Ran(Collected(), "", None, failed=True, timed_out=False)
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
        errors = result.errors or []
        request.state.graphql_ran = Ran(
            collected, query, name, failed=bool(errors), timed_out=any(map(timed_out, errors))
        )
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
    timed_out: bool
