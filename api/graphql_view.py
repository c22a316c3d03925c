"""The GraphQL endpoint: Strawberry's ASGI view, with errors coded and GraphQL-shaped, a
context per request, Apollo persisted queries, and cache headers for queries over GET."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, cast

import orjson
from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import (
    GraphQL,
    HTTPException,  # type: ignore[attr-defined]  # what its view catches
)
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from api import graphiql
from api.addresses import public_base
from api.auth import Rejected, presented_key
from api.errors import RETRY_AFTER, json_error
from api.http_cache import cacheable
from api.persisted_queries import PersistedQueries, with_document_id
from api.replicas import route_read, routing
from api.settings import Settings
from content.access import Permission, Role, Viewer
from db.json_sql import KEY_END, KEY_START, SKIP_MARK
from db.persisted_queries import Bounds
from db.pool import DatabaseUnavailable, Pool, StatementTimeout, fetchval_planned, timing
from schema import build_schema
from schema.cache_keys import Collected, collecting, root_keys
from schema.context import Context
from schema.errors import (
    ApiError,
    BadUserInput,
    PersistedQueryNotFound,
    QueryTooComplex,
    Unauthenticated,
    coded,
    timed_out,
    unavailable,
)
from schema.limits import introspects
from schema.loaders import Loaders
from schema.planner import Caller, Fallback

log = logging.getLogger("newsgraph.engine")
_KEY = re.compile(
    re.escape(KEY_START.encode()) + b"([^" + KEY_END.encode() + b"]*)" + re.escape(KEY_END.encode())
)


LIVE_PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
"""Subscriptions over WebSocket (graphql-transport-ws, and the older graphql-ws) and over
Server-Sent Events (graphql-sse, distinct connections mode)."""


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        limits = settings.limits
        schema = build_schema(
            max_depth=limits.max_depth,
            max_tokens=limits.max_tokens,
            max_aliases=limits.max_aliases,
        )
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            subscription_protocols=LIVE_PROTOCOLS,
            max_subscriptions_per_connection=limits.max_subscriptions_per_connection,
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.public_url = settings.public_url
        self.api_url = settings.api_url
        self.image_widths = settings.images.widths
        self.publisher_name = settings.publisher_name
        self.language = settings.language
        self.default_key_rate = settings.access.key_rate_per_minute
        self.webhook_allow_private = settings.webhooks.allow_private
        self.max_age = settings.feed_max_age
        self.execution = settings.execution
        self.max_nodes = limits.max_nodes
        self.caching = settings.response_cache_bytes > 0
        self.persisted = PersistedQueries(
            Bounds(
                documents=limits.max_persisted_queries,
                bytes=limits.max_persisted_bytes,
                per_caller=limits.persisted_queries_per_key,
            ),
            trusted=limits.trusted_documents,
        )
        self.anonymous_introspection = limits.anonymous_introspection
        self.ide_page = graphiql.page()
        self.internal = build_schema(max_depth=100, max_tokens=100_000, max_aliases=1_000)
        """The same schema without the callers' limits, for the operations the service runs
        for itself (feeds, REST, sitemaps: api.reader): its documents are its own."""

    def parse_json(self, data: str | bytes) -> Any:
        """A request's JSON (its body, or a GET's `variables` and `extensions`): UTF-8, and an
        object (or, for a body, an array of them: a batch, which is refused as such)."""
        try:
            found = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if "UTF-8" in str(error):
                raise HTTPException(
                    400, "The request is not valid UTF-8: send JSON encoded as UTF-8."
                ) from None
            raise HTTPException(400, f"Unable to parse request body as JSON ({error}).") from None
        if not isinstance(found, dict | list):
            sent = "null" if found is None else type(found).__name__
            example = '{"query": "{ stories { totalCount } }"}'
            raise HTTPException(
                400,
                f"The request's JSON must be a JSON object (a body such as {example}), not {sent}.",
            )
        return found

    def encode_json(self, data: object) -> bytes:
        # Compact UTF-8 (orjson), as the compiled engine writes its answers: both engines'
        # bytes are the same.
        if isinstance(data, Raw):
            return data.body
        return orjson.dumps(data)

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        if not isinstance(data, GraphQLRequestData) or data.query is not None:
            return data
        if request.method == "GET":
            document_id = request.query_params.get("documentId")
        else:
            body = orjson.loads(await request.get_body())  # parsed once already: it is JSON
            document_id = body.get("documentId")
        if document_id is None:
            return data
        try:
            return with_document_id(data, document_id)
        except BadUserInput as error:
            raise HTTPException(400, str(error)) from None

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        if isinstance(result, Compiled):
            return cast(GraphQLHTTPResponse, Raw(result.body))
        # Here rather than in a schema extension: parse errors skip extensions' post-processing.
        if result.errors:
            result.errors = [coded(error) for error in in_document_order(result.errors)]
        cost = getattr(request.state, "graphql_cost", None)
        if cost is not None:
            result.extensions = {**(result.extensions or {}), "cost": cost}
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
            if request.method == "GET" and "not allowed when using GET" in error.reason:
                response.status_code = 405  # a mutation or subscription: POST it
                response.headers["Allow"] = "POST"
        ran: Ran | None = getattr(request.state, "graphql_ran", None)
        if ran is not None and (ran.timed_out or ran.unavailable):
            response.status_code = 503  # the database gave up on it, or is away: try again
            response.headers["Retry-After"] = RETRY_AFTER[
                "QUERY_TIMEOUT" if ran.timed_out else "SERVICE_UNAVAILABLE"
            ]
            response.headers["Cache-Control"] = "private, no-store"
        elif request.method == "GET" and response.status_code == 200 and ran is not None:
            response = self._cacheable(request, response, ran)
        elif self.caching and response.status_code == 200 and ran and self._shared(request, ran):
            request.state.cache_keys = self._keys(ran)  # a POST the response cache may keep
        if ran is not None:  # on the response as sent (a GET's is built anew for caching)
            response.headers["Server-Timing"] = (
                f'engine;desc="{ran.engine}", db;dur={ran.db_seconds * 1000:.1f}'
            )
        json_body = response.headers.get("content-type", "").startswith("application/json")
        if json_body and wants_graphql_response(request):
            response = graphql_response(response, ran)
        await response(scope, receive, send)

    @staticmethod
    def _shared(request: Request, ran: Ran) -> bool:
        """Whether the answer is the same for every caller of its class (api.response_cache)."""
        viewer = request.state.viewer
        return not (ran.failed or ran.collected.personal or viewer.can(Permission.PREVIEW))

    @staticmethod
    def _keys(ran: Ran) -> list[str]:
        return [*ran.collected.keys, *root_keys(ran.query, ran.operation_name)]

    def _cacheable(self, request: Request, response: Any, ran: Ran) -> Any:
        """A query over GET, as shared caches may keep it: ETag and 304, Cache-Control by
        caller, and the keys a change event purges it by. Errors are never stored."""
        if ran.failed or ran.collected.personal:
            response.headers["Cache-Control"] = "private, no-store"
            return response
        return cacheable(
            request,
            bytes(response.body),
            response.media_type or "application/json",
            viewer=request.state.viewer,
            max_age=self.max_age,
            surrogate_keys=self._keys(ran),
        )

    async def execute_single(  # type: ignore[override]
        self, *, request: Request, request_data: GraphQLRequestData, **options: Any
    ) -> ExecutionResult:
        pool: Pool = request.state.primary  # persisted queries are stored there
        viewer: Viewer = request.state.viewer
        try:
            request_data = await self.persisted.resolve(pool, request_data, viewer)
            self._check_introspection(request_data, viewer)
        except ApiError as error:
            # An unknown hash stays a 200 (Apollo's clients retry on its message); a bad one
            # is a request error.
            refused = not isinstance(error, PersistedQueryNotFound)
            request.state.graphql_ran = Ran(
                Collected(), "", None, failed=True, request_error=refused
            )
            return ExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        query, name = request_data.query or "", request_data.operation_name
        too_many = self._too_many_nodes(request, request_data)
        if too_many is not None:
            request.state.graphql_ran = Ran(
                Collected(), query, name, failed=True, request_error=True
            )
            return ExecutionResult(
                data=None, errors=[GraphQLError(str(too_many), original_error=too_many)]
            )
        compiled = await self._compiled(request, request_data)
        if compiled is not None:
            await self.persisted.keep(pool, request_data, viewer)
            return compiled
        with collecting() as collected, timing() as spent:
            result = await super().execute_single(
                request=request, request_data=request_data, **options
            )
            await asyncio.sleep(0)  # the driver reports a statement's time just after it
        if not result.errors:
            await self.persisted.keep(pool, request_data, viewer)
        errors = result.errors or []
        request.state.graphql_ran = Ran(
            collected,
            query,
            name,
            failed=bool(errors),
            timed_out=any(map(timed_out, errors)),
            request_error=isinstance(result, PreExecutionError),
            unavailable=any(map(unavailable, errors)),
            db_seconds=spent[0],
        )
        return result

    def _check_introspection(self, request_data: GraphQLRequestData, viewer: Viewer) -> None:
        if self.anonymous_introspection or viewer.key_id is not None or not request_data.query:
            return
        if introspects(request_data.query):
            raise Unauthenticated(
                "Introspection (`__schema`, `__type`) needs an API key here "
                "(NEWSGRAPH_ANONYMOUS_INTROSPECTION=off): send `Authorization: Bearer <key>`."
            )

    def _too_many_nodes(
        self, request: Request, request_data: GraphQLRequestData
    ) -> QueryTooComplex | None:
        """The error for an operation that could return more objects than the limit, before
        either engine runs it (so both refuse it alike). The count is the operation's cost,
        reported in `extensions.cost` of its answer."""
        if not request_data.query:
            return None
        variables = request_data.variables if isinstance(request_data.variables, dict) else None
        nodes = self.schema.engine.node_count(  # type: ignore[attr-defined]
            request_data.query, request_data.operation_name, variables
        )
        if nodes is None:
            return None
        request.state.graphql_cost = {"requested": nodes, "limit": self.max_nodes}
        if nodes <= self.max_nodes:
            return None
        return QueryTooComplex(
            f"The operation could return up to {nodes:,} objects; the limit is "
            f"{self.max_nodes:,}. Ask for fewer items (`first`) or fewer nested lists.",
            nodes=nodes,
            limit=self.max_nodes,
        )

    async def _compiled(
        self, request: Request, request_data: GraphQLRequestData
    ) -> Compiled | None:
        """The operation run as one statement by the compiled engine, or None when it falls
        back to Strawberry (which then answers it as it always has)."""
        if not request_data.query:
            return None
        variables = request_data.variables if isinstance(request_data.variables, dict) else None
        # The keys of what it holds: for a GET's Surrogate-Key, and for the response cache.
        keys = request.method == "GET" or self.caching
        answer = await self.compiled_data(
            request, request_data.query, request_data.operation_name, variables, keys=keys
        )
        if answer is None:
            return None
        request.state.graphql_ran = Ran(
            answer.collected,
            request_data.query,
            request_data.operation_name,
            failed=False,
            engine="compiled",
            db_seconds=answer.db_seconds,
        )
        cost = getattr(request.state, "graphql_cost", None)  # counted before it ran
        if cost is None:
            return Compiled(b'{"data":' + answer.data + b"}")
        extensions = b',"extensions":{"cost":' + orjson.dumps(cost) + b"}}"
        return Compiled(b'{"data":' + answer.data + extensions)

    async def compiled_data(
        self,
        request: Request,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        *,
        keys: bool = False,
        internal: bool = False,
    ) -> CompiledAnswer | None:
        """The `data` of a query as the compiled engine writes it (with the cache keys of
        what it holds when `keys`), or None when it falls back to Strawberry. internal: one
        of the service's own operations (self.internal: no caller limits)."""
        if self.execution != "auto":
            return None
        caller = Caller(
            viewer=request.state.viewer,
            public_url=self.public_url,
            semantic=await request.state.embeddings.on(),
        )
        schema = self.internal if internal else self.schema
        prepared = schema.engine.prepare(  # type: ignore[attr-defined]
            query, operation_name, variables, caller, keys=keys
        )
        if isinstance(prepared, Fallback):
            log.debug("%s runs through Strawberry: %s", operation_name, prepared.reason)
            return None
        plan, values = prepared
        pool: Pool = request.state.pool
        with timing() as spent:
            try:
                if plan.planned_each_time:
                    text: str = await fetchval_planned(pool, plan.sql, *values)
                else:
                    text = await pool.fetchval(plan.sql, *values)
            except StatementTimeout:
                log.warning("statement timeout in %s", plan.operation or "an unnamed operation")
                raise  # answered QUERY_TIMEOUT: Strawberry's run would wait as long again
            except DatabaseUnavailable:
                raise  # answered 503 (api.app): Strawberry's run would not reach it either
            except Exception:
                log.exception("compiled statement failed; running it through Strawberry")
                return None
            await asyncio.sleep(0)
        body = text.encode()
        if SKIP_MARK.encode() in body:
            log.debug("%s runs through Strawberry: a field raises for this caller", operation_name)
            return None
        found = Collected()
        if keys:
            found.keys = dict.fromkeys(match.decode() for match in _KEY.findall(body))
            body = _KEY.sub(b"", body)
        return CompiledAnswer(body, found, spent[0])

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted query carries no `query` either; it wants the answer.
        params = request.query_params
        persisted = "extensions" in params or "documentId" in params
        return not persisted and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        return HTMLResponse(self.ide_page)

    async def get_context(self, request: Any, response: Any = None) -> Context:
        replicas = routing(request.scope["state"]) if isinstance(request, Request) else None
        if replicas is not None and request.method == "POST" and await _reads(request):
            route_read(request.scope["state"], replicas)  # a query: a replica may answer
        pool: Pool = request.state.pool
        semantic = await request.state.embeddings.on()
        return Context(
            pool=pool,
            loaders=Loaders(pool, semantic=semantic),
            semantic=semantic,
            public_url=self.public_url,
            viewer=request.state.viewer,
            preview_secret=request.state.preview_secret,
            default_key_rate=self.default_key_rate,
            publisher_name=self.publisher_name,
            language=self.language,
            webhook_allow_private=self.webhook_allow_private,
            live=getattr(request.state, "live", None),
            rate_limiter=getattr(request.state, "rate_limiter", None),
            image_base=public_base(request, self.api_url) if isinstance(request, Request) else "",
            image_widths=self.image_widths,
        )

    async def on_ws_connect(self, context: Context) -> None:  # type: ignore[override]
        """graphql-transport-ws: a key in `connection_init`'s payload (`Authorization:
        Bearer <key>` or `X-API-Key`, as browsers cannot set a WebSocket's headers) makes
        the connection that key's, with a token from its bucket; a bad key, or one over its
        rate, closes it (4403)."""
        params = {str(k).lower(): v for k, v in (context.connection_params or {}).items()}
        try:
            presented = presented_key(Headers({k: str(v) for k, v in params.items()}))
        except Rejected as rejection:
            raise ConnectionRejectionError({"message": rejection.message}) from None
        if presented is None:
            return  # the handshake's caller (its headers, or anonymous) stays
        limiter = context.rate_limiter
        if limiter is None:  # get_context always sets it; a key cannot be checked without
            raise ConnectionRejectionError({"message": "Keys cannot be checked here."})
        admitted = await limiter.take_for_key(context.pool, presented)
        if admitted.key is None or admitted.decision is None or not admitted.decision.allowed:
            raise ConnectionRejectionError(
                {"message": "The API key is not valid or over its rate."}
            )
        context.viewer = Viewer(Role(admitted.key.role), admitted.key.name, admitted.key.id)


async def _reads(request: Request) -> bool:
    """Whether a POST is one query (a mutation, a subscription, a batch or a persisted hash
    alone go to the primary)."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return False
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return False
    name = body.get("operationName")
    return operation_type(body["query"], name if isinstance(name, str) else None) == "query"


@functools.lru_cache(maxsize=1_024)
def operation_type(query: str, operation_name: str | None) -> str | None:
    """query, mutation or subscription: the operation a request runs (None: not found)."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return operations[0].operation.value if len(operations) == 1 else None


GRAPHQL_RESPONSE = "application/graphql-response+json"
"""The GraphQL-over-HTTP media type: a request error (nothing executed) is then a 4xx."""


def wants_graphql_response(request: Request) -> bool:
    """Whether the client prefers application/graphql-response+json to application/json."""
    accept = request.headers.get("accept", "")
    if GRAPHQL_RESPONSE not in accept:
        return False  # every answer passes here: most never name it
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        if kind.lower() not in (GRAPHQL_RESPONSE, "application/json"):
            continue
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        # At equal weight the newer type wins (graphql-http's clients send both).
        rank = (q, kind.lower())
        if q > 0 and (best is None or rank > best):
            best = rank
    return best is not None and best[1] == GRAPHQL_RESPONSE


def graphql_response(response: Response, ran: Ran | None) -> Response:
    """The answer as application/graphql-response+json: the same body, except that a
    request error (the operation never ran: parse, validation, variables) has no `data` and
    answers 400."""
    status = response.status_code
    body = bytes(response.body)
    if status == 200 and ran is not None and ran.request_error:
        found = orjson.loads(body)
        found.pop("data", None)
        body, status = orjson.dumps(found), 400
    kept = ("content-length", "content-type")  # both written anew
    headers = {k: v for k, v in response.headers.items() if k.lower() not in kept}
    headers["Vary"] = ", ".join(filter(None, (headers.pop("vary", ""), "Accept")))
    return Response(body, status, headers=headers, media_type=GRAPHQL_RESPONSE)


def in_document_order(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Errors by where they stand in the query, then by path: the order fields happen to
    fail in varies from run to run, an answer should not."""

    def position(error: GraphQLError) -> tuple[Any, ...]:
        at = tuple((place.line, place.column) for place in error.locations or ())
        path = tuple((isinstance(step, str), step) for step in error.path or ())
        return at, path

    return sorted(errors, key=position)


@dataclass(frozen=True)
class Ran:
    """What one GraphQL operation read, for its cache headers, and how it ran."""

    collected: Collected
    query: str
    operation_name: str | None
    failed: bool
    timed_out: bool = False
    request_error: bool = False
    """Nothing was executed: the document, its variables or its hash were refused."""
    unavailable: bool = False
    """The database could not be reached."""
    engine: str = "standard"
    db_seconds: float = 0.0


@dataclass(frozen=True)
class CompiledAnswer:
    data: bytes
    """The JSON text of the operation's `data`."""
    collected: Collected
    db_seconds: float


class Compiled(ExecutionResult):
    """An answer the compiled engine wrote: its bytes go out as they are."""

    def __init__(self, body: bytes) -> None:
        super().__init__(data=None, errors=None)
        self.body = body


class Raw(dict[str, Any]):
    """A response body already encoded (see Compiled)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body
