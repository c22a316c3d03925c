"""What syndication (feeds, REST, sitemaps) reads beyond the GraphQL read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Pool
from db.records import build
from db.visibility import visible, visible_deep_dive

# Every write bumps updated_at; a scheduled item changes what readers see when its publish
# time passes, without a write. Each term is one index lookup (migration 0005).
_CHANGED_AT = """
SELECT greatest(
    (SELECT max(updated_at) FROM stories),
    (SELECT max(updated_at) FROM deep_dives),
    (SELECT max(updated_at) FROM sources),
    (SELECT max(updated_at) FROM outlets),
    (SELECT max(updated_at) FROM topics),
    (SELECT max(published_at) FROM stories WHERE published_at <= now()),
    (SELECT max(published_at) FROM deep_dives WHERE published_at <= now())
)
"""


async def content_changed_at(pool: Pool) -> datetime | None:
    """When anything readers can see last changed (None: there is no content)."""
    changed: datetime | None = await pool.fetchval(_CHANGED_AT)
    return changed


@dataclass(frozen=True)
class Period:
    """Published items in a month or a day: how many, and when one last changed."""

    start: datetime
    count: int
    last_modified: datetime


@dataclass(frozen=True)
class Entry:
    kind: str
    """"story" or "deep_dive"."""
    slug: str
    title: str
    published_at: datetime
    updated_at: datetime


# updated_at: as content.web_metadata.last_modified reads it (a visible item's publish time
# is never later than now, and may be later than its last write when it was scheduled).
_PUBLISHED = f"""
    SELECT 'story' AS kind, s.slug, s.title, s.published_at,
           greatest(s.updated_at, s.published_at) AS updated_at
    FROM stories s WHERE {visible("s")}
    UNION ALL
    SELECT 'deep_dive', d.slug, d.title, d.published_at,
           greatest(d.updated_at, d.published_at)
    FROM deep_dives d WHERE {visible_deep_dive("d")}
"""
_PERIODS = f"""
SELECT date_trunc($1, published_at, 'UTC') AS start, count(*) AS count,
       max(updated_at) AS last_modified
FROM ({_PUBLISHED}) AS p
WHERE $2::timestamptz IS NULL OR (published_at >= $2 AND published_at < $3)
GROUP BY 1 ORDER BY 1
"""
_ENTRIES = f"""
SELECT * FROM ({_PUBLISHED}) AS p
WHERE published_at >= $1 AND published_at < $2
ORDER BY published_at DESC, kind, slug LIMIT $3
"""


async def periods(
    pool: Pool, unit: str, within: tuple[datetime, datetime] | None = None
) -> list[Period]:
    """Published stories and deep dives grouped by `unit` ("month" or "day", in UTC), oldest
    first, optionally only those published within [start, end)."""
    assert unit in ("month", "day")
    start, end = within or (None, None)
    rows = await pool.fetch(_PERIODS, unit, start, end)
    return [build(Period, row) for row in rows]


async def entries(pool: Pool, start: datetime, end: datetime, limit: int) -> list[Entry]:
    """Published stories and deep dives published within [start, end), newest first."""
    rows = await pool.fetch(_ENTRIES, start, end, limit)
    return [build(Entry, row) for row in rows]
