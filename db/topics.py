from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.pool import Pool
from db.records import build, columns, grouped, in_key_order


@dataclass(frozen=True)
class Topic:
    id: int
    slug: str
    name: str
    kind: str
    description: str | None


def topic_rows(where: str) -> str:
    """SQL for the record columns of the topics that meet `where` (on `t`)."""
    return f"SELECT {columns(Topic, 't')} FROM topics t WHERE {where}"


def topic_rows_by(column: str, value: str) -> str:
    """SQL for the topics whose `column` is the SQL `value`."""
    return topic_rows(f"t.{column} = {value}")


def category_of_story_rows(story: str) -> str:
    """SQL for the category topic of the story whose id is the SQL `story`."""
    return topic_rows(f"t.id = (SELECT c.category_id FROM stories c WHERE c.id = {story})")


def story_topic_rows(story: str) -> str:
    """SQL for the topics of the story whose id is the SQL `story`, with their `position`."""
    return f"""SELECT {columns(Topic, "t")}, st.position FROM story_topics st
        JOIN topics t ON t.id = st.topic_id WHERE st.story_id = {story}"""


def key_actor_rows(deep_dive: str) -> str:
    """SQL for the key actors of the deep dive whose id is the SQL `deep_dive`, with their
    `position`."""
    return f"""SELECT {columns(Topic, "t")}, a.position FROM deep_dive_key_actors a
        JOIN topics t ON t.id = a.topic_id WHERE a.deep_dive_id = {deep_dive}"""


_BY_IDS = topic_rows("t.id = ANY($1::bigint[])")
_BY_SLUG = topic_rows("t.slug = $1")
_IDS_BY_STORY = """
SELECT story_id AS owner, topic_id FROM story_topics
WHERE story_id = ANY($1::bigint[]) ORDER BY story_id, position
"""
_IDS_BY_DEEP_DIVE = """
SELECT deep_dive_id AS owner, topic_id FROM deep_dive_key_actors
WHERE deep_dive_id = ANY($1::bigint[]) ORDER BY deep_dive_id, position
"""


async def topics_by_ids(pool: Pool, ids: Sequence[int]) -> list[Topic | None]:
    rows = await pool.fetch(_BY_IDS, list(ids))
    return in_key_order(ids, (build(Topic, row) for row in rows), lambda t: t.id)


async def topic_by_slug(pool: Pool, slug: str) -> Topic | None:
    row = await pool.fetchrow(_BY_SLUG, slug)
    return build(Topic, row) if row else None


async def topic_ids_by_story_ids(pool: Pool, story_ids: Sequence[int]) -> list[list[int]]:
    rows = await pool.fetch(_IDS_BY_STORY, list(story_ids))
    return grouped(story_ids, ((row["owner"], row["topic_id"]) for row in rows))


async def key_actor_ids_by_deep_dive_ids(
    pool: Pool, deep_dive_ids: Sequence[int]
) -> list[list[int]]:
    rows = await pool.fetch(_IDS_BY_DEEP_DIVE, list(deep_dive_ids))
    return grouped(deep_dive_ids, ((row["owner"], row["topic_id"]) for row in rows))
