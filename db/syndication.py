"""What syndication (feeds, REST, sitemaps) reads beyond the GraphQL read model."""

from __future__ import annotations

from datetime import datetime

from db.pool import Pool

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
