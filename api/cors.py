"""Cross-origin requests from browsers (CORS), for frontends served from another origin.

Starlette's CORSMiddleware, outermost, so that preflights cost no key check or rate-limit
token, and so that refusals (401, 429, 413) carry the headers a page needs to read them.
Keys travel in headers, never in cookies: credentials are not allowed, which is also what
lets `*` serve any origin.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from api.replicas import HEADER as READ_AFTER

METHODS = ["GET", "HEAD", "POST"]
REQUEST_HEADERS = [
    "Authorization",
    "X-API-Key",
    "Content-Type",
    "Accept",
    "If-None-Match",
    "If-Modified-Since",
    READ_AFTER,
    "X-Request-ID",
    "traceparent",
    # What GraphQL clients send: Apollo's, and persisted-query GETs' preflight guard.
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
]
EXPOSED_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "ETag",
    "Last-Modified",
    "Server-Timing",
    "X-Cache",
    READ_AFTER,
    "X-Request-ID",
    "traceparent",
]
MAX_AGE_SECONDS = 600
"""How long a browser may keep a preflight's answer (Chromium keeps at most 2 hours)."""


def cors(origins: tuple[str, ...]) -> list[Middleware]:
    """The middleware for these origins (none when there are none)."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=METHODS,
            allow_headers=REQUEST_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=MAX_AGE_SECONDS,
        )
    ]
