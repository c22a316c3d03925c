"""Who is calling, and may they call now: API keys and shared token-bucket rate limits.

Pure ASGI middleware in front of the API routes. It puts the caller (a content.access.Viewer)
in the request state and adds X-RateLimit-* headers to every response it lets through.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import json_error
from api.settings import Access
from content.access import ANONYMOUS, Role, Viewer
from db.rate_limits import Decision

GATED_PATHS = ("/graphql", "/v1/", "/feeds/", "/sitemap", "/images/")


class Rejected(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`, if either is sent."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Rejected(
                401,
                "The Authorization header must be `Bearer <key>`.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="newsgraph"'},
            )
        return value.strip()
    return headers.get("x-api-key")


def anonymous_bucket(scope: Scope) -> str:
    """The rate-limit bucket of a caller without a key: its address's."""
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


def rate_headers(decision: Decision) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_after),
    }


def _is_ide_page(scope: Scope) -> bool:
    """A browser's GET of /graphql without a query: the GraphiQL page, open to anyone."""
    return (
        scope["path"] == "/graphql"
        and scope["method"] == "GET"
        and not scope.get("query_string")
        and "text/html" in Headers(scope=scope).get("accept", "")
    )


class Gate:
    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http" or not scope["path"].startswith(GATED_PATHS):
            await self.app(scope, receive, send)
            return
        if _is_ide_page(scope):
            # Strawberry builds a context for the page too; the page itself executes nothing.
            scope["state"]["viewer"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        try:
            viewer, decision, rate = await self._identify(scope)
            headers = rate_headers(decision)
            if not decision.allowed:
                raise Rejected(
                    429,
                    f"Rate limit of {rate} requests a minute reached; retry in "
                    f"{decision.retry_after} s.",
                    "RATE_LIMITED",
                    headers | {"Retry-After": str(decision.retry_after)},
                )
        except Rejected as rejection:
            response = json_error(rejection.status, rejection.message, rejection.code)
            response.headers.update(rejection.headers)
            await response(scope, receive, send)
            return
        scope["state"]["viewer"] = viewer

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket (live updates) is let in as its handshake's headers say, paying one
        token; a refusal closes it before it opens (4401: the key, 4429: the rate)."""
        try:
            viewer, decision, _ = await self._identify(scope)
            if not decision.allowed:
                raise Rejected(429, "rate limited", "RATE_LIMITED", {})
        except Rejected as rejection:
            await send({"type": "websocket.close", "code": 4000 + rejection.status})
            return
        scope["state"]["viewer"] = viewer
        await self.app(scope, receive, send)

    async def _identify(self, scope: Scope) -> tuple[Viewer, Decision, int]:
        """The caller, its rate limiter's decision and its rate a minute: one statement for
        a key and its bucket both."""
        limiter = scope["state"]["rate_limiter"]
        presented = presented_key(Headers(scope=scope))
        if presented is None:
            if not self.access.anonymous:
                raise Rejected(
                    401,
                    "This service needs an API key: send `Authorization: Bearer <key>`.",
                    "UNAUTHENTICATED",
                    {"WWW-Authenticate": 'Bearer realm="newsgraph"'},
                )
            rate = self.access.anonymous_rate_per_minute
            return ANONYMOUS, await limiter.take(anonymous_bucket(scope), rate, rate / 60), rate
        admitted = await limiter.take_for_key(scope["state"]["pool"], presented)
        found = admitted.key
        if found is None or admitted.decision is None:
            raise Rejected(
                401,
                "The API key is not valid: it is unknown, revoked or expired.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="newsgraph", error="invalid_token"'},
            )
        viewer = Viewer(Role(found.role), found.name, found.id)
        return viewer, admitted.decision, found.rate_per_minute
