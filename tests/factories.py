"""Plain factories: each inserts one row (and its links) with sensible defaults."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from db import figures, search
from db.pool import Pool

_serial = itertools.count(1)
PAST = datetime(2026, 1, 1, tzinfo=UTC)


def _n() -> int:
    return next(_serial)


async def create_outlet(pool: Pool, *, bias: str | None = "CENTER", **overrides: Any) -> int:
    n = _n()
    row = {
        "slug": f"outlet-{n}",
        "name": f"Outlet {n}",
        "domain": f"outlet{n}.test",
        "country": "US",
        "bias": bias,
        "factuality": None,
        "owner": None,
    } | overrides
    return await _insert(pool, "outlets", row)


async def create_source(pool: Pool, *, outlet_id: int | None = None, **overrides: Any) -> int:
    n = _n()
    outlet_id = outlet_id or await create_outlet(pool)
    row = {
        "outlet_id": outlet_id,
        "url": f"https://news.test/articles/{n}",
        "title": f"Article {n}",
        "published_at": PAST,
    } | overrides
    return await _insert(pool, "sources", row)


async def create_topic(pool: Pool, *, kind: str = "TOPIC", **overrides: Any) -> int:
    n = _n()
    row = {"slug": f"topic-{n}", "name": f"Topic {n}", "kind": kind} | overrides
    return await _insert(pool, "topics", row)


async def create_story(
    pool: Pool,
    *,
    leans: Sequence[str | None] = (),
    topic_ids: Sequence[int] = (),
    **overrides: Any,
) -> int:
    """A published story with one source per entry of `leans` (an outlet bias, None = unrated)."""
    n = _n()
    row = {
        "slug": f"story-{n}",
        "title": f"Story {n}",
        "summary": f"Summary of story {n}.",
        "status": "PUBLISHED",
        "published_at": PAST - timedelta(minutes=n),
    } | overrides
    story_id = await _insert(pool, "stories", row)
    sources = [
        await create_source(pool, outlet_id=await create_outlet(pool, bias=lean)) for lean in leans
    ]
    await _link(pool, "story_sources", "story_id", story_id, "source_id", sources)
    await _link(pool, "story_topics", "story_id", story_id, "topic_id", topic_ids)
    await derive(pool, [story_id])
    return story_id


async def create_deep_dive(
    pool: Pool,
    *,
    story_id: int,
    sections: Sequence[tuple[str, str]] = (("Overview", "Some analysis."),),
    key_actor_ids: Sequence[int] = (),
    **overrides: Any,
) -> int:
    n = _n()
    row = {
        "story_id": story_id,
        "slug": f"deep-dive-{n}",
        "title": f"Deep dive {n}",
        "dek": f"Dek {n}.",
        "status": "PUBLISHED",
        "published_at": PAST,
    } | overrides
    dive_id = await _insert(pool, "deep_dives", row)
    for position, (heading, body) in enumerate(sections, 1):
        await pool.execute(
            "INSERT INTO deep_dive_sections (deep_dive_id, position, heading, body) "
            "VALUES ($1, $2, $3, $4)",
            dive_id,
            position,
            heading,
            body,
        )
    await _link(pool, "deep_dive_key_actors", "deep_dive_id", dive_id, "topic_id", key_actor_ids)
    await search.refresh(pool, "deep_dive", [dive_id])  # as every write path does
    await figures.refresh_deep_dives(pool, [dive_id])
    return dive_id


async def cite(pool: Pool, story_id: int, outlet_ids: Sequence[int]) -> None:
    """Give the story one new source from each of these outlets, in order (it must have none
    yet), and derive its figures again."""
    sources = [await create_source(pool, outlet_id=outlet_id) for outlet_id in outlet_ids]
    await _link(pool, "story_sources", "story_id", story_id, "source_id", sources)
    await derive(pool, [story_id])


async def derive(pool: Pool, story_ids: Sequence[int]) -> None:
    """What every write path derives from a story's rows: its search document, figures and
    listings (for a factory that wrote the rows itself)."""
    await search.refresh(pool, "story", list(story_ids))
    await figures.refresh_stories(pool, story_ids)


async def slug_of(pool: Pool, table: str, row_id: int) -> str:
    slug: str = await pool.fetchval(f"SELECT slug FROM {table} WHERE id = $1", row_id)
    return slug


async def _link(
    pool: Pool, table: str, owner: str, owner_id: int, target: str, target_ids: Sequence[int]
) -> None:
    """Link owner_id to target_ids in order (positions from 1)."""
    await pool.executemany(
        f"INSERT INTO {table} ({owner}, {target}, position) VALUES ($1, $2, $3)",
        [(owner_id, target_id, position) for position, target_id in enumerate(target_ids, 1)],
    )


async def _insert(pool: Pool, table: str, row: dict[str, Any]) -> int:
    names = ", ".join(row)
    slots = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    row_id: int = await pool.fetchval(
        f"INSERT INTO {table} ({names}) VALUES ({slots}) RETURNING id", *row.values()
    )
    return row_id
