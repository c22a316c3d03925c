"""Where partners and crawlers reach this service: NEWSGRAPH_API_URL when set (behind a proxy
or a CDN the request's own host is an internal one), else the request's host. Sitemap entries,
feed self and next links, REST next links and the OpenAPI server all use it."""

from __future__ import annotations

from starlette.datastructures import URL
from starlette.requests import Request


def public_url(request: Request, api_url: str | None) -> URL:
    """The request's URL as the outside world addresses it."""
    if not api_url:
        return request.url
    base = URL(api_url)
    path = base.path.rstrip("/") + request.url.path
    return request.url.replace(scheme=base.scheme, netloc=base.netloc, path=path)


def public_base(request: Request, api_url: str | None) -> str:
    """The service's base address, without a trailing slash."""
    return api_url.rstrip("/") if api_url else str(request.base_url).rstrip("/")
