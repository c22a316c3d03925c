"""Sitemap routes: /sitemap.xml (index), /sitemaps/<month or day>.xml, /sitemaps/news.xml.

Sitemaps list every published story and deep-dive page (syndication rights do not apply:
these are our own pages). They read url, title and times straight from db.syndication, which
applies the same visibility predicate as every other read; going through GraphQL for up to
50,000 URLs a file would cost far more than it shares.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.addresses import public_base
from api.errors import json_error
from api.formats import sitemaps
from api.http_cache import cacheable
from api.settings import Settings
from content.changes import SITEMAPS
from db import syndication

MAX_URLS = 50_000
"""The sitemaps.org limit of URLs a file; a month with more is split into days."""
NEWS_WINDOW = timedelta(hours=48)
MAX_NEWS = 1_000
_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_PATHS = {"story": "stories", "deep_dive": "deep-dives"}


class Sitemaps:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        return [
            Route("/sitemap.xml", self.index, methods=["GET"]),
            Route("/sitemaps/news.xml", self.news, methods=["GET"]),
            Route("/sitemaps/{period}.xml", self.period, methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        pool = request.state.pool
        base = public_base(request, self.settings.api_url)
        listed: list[tuple[str, datetime | None]] = []
        for month in await syndication.periods(pool, "month"):
            if month.count <= MAX_URLS:
                listed.append((f"{base}/sitemaps/{month.start:%Y-%m}.xml", month.last_modified))
                continue
            end = _next_month(month.start)
            for day in await syndication.periods(pool, "day", (month.start, end)):
                listed.append((f"{base}/sitemaps/{day.start:%Y-%m-%d}.xml", day.last_modified))
        changed = await syndication.content_changed_at(pool)
        # Always listed (valid even when empty), so the index never is: at least one entry.
        listed.append((f"{base}/sitemaps/news.xml", changed))
        return self._respond(request, sitemaps.index(listed), changed)

    async def period(self, request: Request) -> Response:
        period = _period(request.path_params["period"])
        if period is None:
            return json_error(404, "Sitemaps are named YYYY-MM.xml or YYYY-MM-DD.xml.", "NOT_FOUND")
        start, end = period
        listed = await syndication.entries(request.state.pool, start, end, MAX_URLS)
        if not listed:
            return json_error(404, "Nothing was published in this period.", "NOT_FOUND")
        urls = [(self._url(e.kind, e.slug), e.updated_at) for e in listed]
        return await self._fresh(request, sitemaps.url_set(urls))

    async def news(self, request: Request) -> Response:
        now = datetime.now(UTC)
        listed = await syndication.entries(request.state.pool, now - NEWS_WINDOW, now, MAX_NEWS)
        articles = [(self._url(e.kind, e.slug), e.title, e.published_at) for e in listed]
        settings = self.settings
        home = f"{settings.public_url}/"
        body = sitemaps.news_set(articles, settings.publisher_name, settings.language, home)
        return await self._fresh(request, body)

    def _url(self, kind: str, slug: str) -> str:
        return f"{self.settings.public_url}/{_PATHS[kind]}/{slug}"

    async def _fresh(self, request: Request, body: bytes) -> Response:
        changed = await syndication.content_changed_at(request.state.pool)
        return self._respond(request, body, changed)

    def _respond(self, request: Request, body: bytes, changed: datetime | None) -> Response:
        return cacheable(
            request,
            body,
            sitemaps.MEDIA_TYPE,
            viewer=request.state.viewer,
            max_age=self.settings.feed_max_age,
            last_modified=changed,
            surrogate_keys=[SITEMAPS],
        )


def _period(name: str) -> tuple[datetime, datetime] | None:
    """[start, end) of a "YYYY-MM" or "YYYY-MM-DD" sitemap name, in UTC."""
    found = _PERIOD.match(name)
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        start = datetime(int(year), int(month), int(day or 1), tzinfo=UTC)
    except ValueError:
        return None
    return start, start + timedelta(days=1) if day else _next_month(start)


def _next_month(start: datetime) -> datetime:
    return (start.replace(day=1) + timedelta(days=32)).replace(day=1)
