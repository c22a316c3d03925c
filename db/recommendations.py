"""First-version recommendations: shared topics, same category, recency.

Candidates are bounded (the newest few hundred per shared topic and in the category, read
from indexes), so the cost does not grow with the number of stories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.pool import Pool
from db.records import build, grouped
from db.stories import STORY_COLUMNS, Story
from db.visibility import visible, visible_deep_dive

CANDIDATES_PER_SOURCE = 200


@dataclass(frozen=True)
class RelatedKey:
    story_id: int
    first: int


def _related_sql(require_deep_dive: bool) -> str:
    has_deep_dive = (
        f"EXISTS (SELECT 1 FROM deep_dives d WHERE d.story_id = s.id AND {visible_deep_dive('d')})"
    )
    deep_dive = f"AND {has_deep_dive}" if require_deep_dive else ""
    return f"""
SELECT k.story_id AS owner, r.*
FROM unnest($1::bigint[]) AS k(story_id)
JOIN stories me ON me.id = k.story_id
CROSS JOIN LATERAL (
    SELECT {STORY_COLUMNS}
    FROM (
        SELECT candidate, max(shared) AS shared FROM (
            SELECT cand.story_id, count(*)
            FROM story_topics mine
            CROSS JOIN LATERAL (
                SELECT st.story_id FROM story_topics st
                WHERE st.topic_id = mine.topic_id AND st.story_id <> me.id
                ORDER BY st.story_id DESC LIMIT {CANDIDATES_PER_SOURCE}
            ) AS cand
            WHERE mine.story_id = me.id
            GROUP BY cand.story_id
            UNION ALL
            (SELECT c.id, 0 FROM stories c
             WHERE c.category_id = me.category_id AND c.status = 'PUBLISHED' AND c.id <> me.id
             ORDER BY c.published_at DESC, c.id DESC LIMIT {CANDIDATES_PER_SOURCE})
        ) AS candidates(candidate, shared)
        GROUP BY candidate
    ) AS ranked
    JOIN stories s ON s.id = ranked.candidate
    WHERE {visible("s")} {deep_dive}
    ORDER BY
        3 * ranked.shared
        + 2 * (s.category_id IS NOT DISTINCT FROM me.category_id)::int
        + 1.0 / (1 + extract(epoch FROM now() - s.published_at) / 86400 / 30) DESC,
        s.published_at DESC, s.id DESC
    LIMIT $2
) AS r
"""


_RELATED = _related_sql(require_deep_dive=False)
_WITH_DEEP_DIVE = _related_sql(require_deep_dive=True)


async def related_stories(pool: Pool, keys: Sequence[RelatedKey]) -> list[list[Story]]:
    """Per key, up to `first` visible stories related to the story, best first."""
    return await _ranked(pool, _RELATED, keys)


async def stories_with_deep_dives_like(pool: Pool, keys: Sequence[RelatedKey]) -> list[list[Story]]:
    """Like related_stories, keeping only stories that have a visible deep dive."""
    return await _ranked(pool, _WITH_DEEP_DIVE, keys)


async def _ranked(pool: Pool, sql: str, keys: Sequence[RelatedKey]) -> list[list[Story]]:
    by_first: dict[int, list[int]] = {}
    for key in dict.fromkeys(keys):
        by_first.setdefault(key.first, []).append(key.story_id)
    found: dict[RelatedKey, list[Story]] = {}
    for first, story_ids in by_first.items():
        rows = await pool.fetch(sql, story_ids, first)
        pairs = ((row["owner"], build(Story, row)) for row in rows)
        for story_id, stories in zip(story_ids, grouped(story_ids, pairs), strict=True):
            found[RelatedKey(story_id, first)] = stories
    return [found[key] for key in keys]
