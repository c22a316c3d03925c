"""Conditional GET and cache headers for everything we serve to caches: feeds, REST,
sitemaps and GraphQL GET.

- ETag: a hash of the exact body; If-None-Match on it answers 304.
- Last-Modified: when visible content last changed; If-Modified-Since answers 304 when no
  ETag was sent and nothing changed since.
- Cache-Control: anonymous reads are the same for everyone, so shared caches may keep them;
  keyed reads are private; editors' reads (they may see drafts) are never stored.
- Surrogate-Key / Cache-Tag: the content a response contains, so a CDN can purge exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from content.access import Permission, Viewer

VARY = "Accept, Authorization, X-API-Key"


def cache_control(viewer: Viewer, max_age: int) -> str:
    if viewer.can(Permission.PREVIEW):
        return "private, no-store"
    if viewer.key_id is None:
        return f"public, max-age={max_age}"
    return f"private, max-age={max_age}"


def cacheable(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    viewer: Viewer,
    max_age: int,
    last_modified: datetime | None = None,
    surrogate_keys: Iterable[str] = (),
) -> Response:
    """The response for `body`, or 304 Not Modified when the caller already holds it. The
    keys of what it holds are the `surrogate_keys` and the ones read_keys noted (the objects
    the request read), and unless the caller may preview, the response cache may keep it."""
    surrogate_keys = [*surrogate_keys, *getattr(request.state, "read_keys", ())]
    if not viewer.can(Permission.PREVIEW):
        request.state.cache_keys = surrogate_keys
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    sent = {
        "ETag": etag,
        "Cache-Control": cache_control(viewer, max_age),
        "Vary": VARY,
    }
    if last_modified is not None:
        sent["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    keys = " ".join(dict.fromkeys(surrogate_keys))
    if keys:
        sent["Surrogate-Key"] = keys
        sent["Cache-Tag"] = keys.replace(" ", ",")
    if not_modified(request.headers, etag, last_modified):
        return Response(status_code=304, headers=sent)
    return Response(body, media_type=media_type, headers=sent)


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime | None) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as RFC 9110 asks
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def read_keys(request: Request, keys: Iterable[str]) -> None:
    """Note the cache keys of objects a request read, for the response cacheable() builds."""
    noted = getattr(request.state, "read_keys", None)
    if noted is None:
        noted = request.state.read_keys = {}
    noted.update(dict.fromkeys(keys))
