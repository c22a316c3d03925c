"""Basic full-text search over stories and deep dives (ranked by ts_rank, keyset-paged)."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Pool
from db.visibility import Scope, per_scope, visible, visible_deep_dive

# Private-use characters mark matches in ts_headline output, so the caller can HTML-escape
# the text first and only then turn the marks into tags.
MATCH_START = "\ue000"
MATCH_END = "\ue001"

SearchCursor = tuple[float, str, int]


@dataclass(frozen=True)
class Hit:
    kind: str  # "story" or "deep_dive"
    id: int
    rank: float
    headline: str


_HEADLINE_OPTIONS = f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=30, MinWords=10"


def _matches(scope: Scope) -> str:
    return f"""
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS query),
hits AS (
    SELECT 'story' AS kind, s.id, ts_rank(s.search_vector, q.query) AS rank,
        s.title || ' — ' || s.summary AS text
    FROM stories s, q WHERE s.search_vector @@ q.query AND {visible("s", scope)}
    UNION ALL
    SELECT 'deep_dive', d.id, ts_rank(d.search_vector, q.query), d.title || ' — ' || d.dek
    FROM deep_dives d, q
    WHERE d.search_vector @@ q.query AND {visible_deep_dive("d", scope)}
)
"""


_PAGE = per_scope(
    lambda scope: (
        _matches(scope)
        + f"""
SELECT kind, id, rank, ts_headline('english', text, q.query, '{_HEADLINE_OPTIONS}') AS headline
FROM (
    SELECT * FROM hits
    WHERE $2::real IS NULL OR (rank, kind, id) < ($2::real, $3::text, $4::bigint)
    ORDER BY rank DESC, kind DESC, id DESC
    LIMIT $5
) AS page, q
ORDER BY rank DESC, kind DESC, id DESC
"""
    )
)
_COUNT = per_scope(lambda scope: _matches(scope) + "SELECT count(*) FROM hits")


async def search(
    pool: Pool, query: str, first: int, after: SearchCursor | None, scope: Scope = Scope.PUBLIC
) -> list[Hit]:
    """Up to first + 1 hits, best first."""
    rank, kind, hit_id = after if after is not None else (None, None, None)
    rows = await pool.fetch(_PAGE[scope], query, rank, kind, hit_id, first + 1)
    return [Hit(row["kind"], row["id"], row["rank"], row["headline"]) for row in rows]


async def search_count(pool: Pool, query: str, scope: Scope = Scope.PUBLIC) -> int:
    count: int = await pool.fetchval(_COUNT[scope], query)
    return count
