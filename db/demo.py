"""Loads a content bundle (content/demo.json's shape) idempotently, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.pool import Connection, Pool

Bundle = dict[str, list[dict[str, Any]]]

_OUTLET = """
INSERT INTO outlets (slug, name, domain, country, bias, factuality, owner)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (slug) DO UPDATE SET name = $2, domain = $3, country = $4, bias = $5,
    factuality = $6, owner = $7, updated_at = now()
WHERE (outlets.name, outlets.domain, outlets.country, outlets.bias, outlets.factuality,
       outlets.owner) IS DISTINCT FROM ($2, $3, $4, $5, $6, $7)
"""
_TOPIC = """
INSERT INTO topics (slug, name, kind, description) VALUES ($1, $2, $3, $4)
ON CONFLICT (slug) DO UPDATE SET name = $2, kind = $3, description = $4, updated_at = now()
WHERE (topics.name, topics.kind, topics.description) IS DISTINCT FROM ($2, $3, $4)
"""
_SOURCE = """
INSERT INTO sources (url, outlet_id, title, author, published_at, excerpt,
    image_url, image_alt, image_caption, image_credit)
VALUES ($1, (SELECT id FROM outlets WHERE slug = $2), $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (url) DO UPDATE SET outlet_id = EXCLUDED.outlet_id, title = $3, author = $4,
    published_at = $5, excerpt = $6, image_url = $7, image_alt = $8, image_caption = $9,
    image_credit = $10, updated_at = now()
WHERE (sources.outlet_id, sources.title, sources.author, sources.published_at, sources.excerpt,
       sources.image_url, sources.image_alt, sources.image_caption, sources.image_credit)
    IS DISTINCT FROM (EXCLUDED.outlet_id, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_STORY = """
INSERT INTO stories (slug, title, summary, category_id, sentiment, hero_image_url,
    hero_image_alt, hero_image_caption, hero_image_credit, status, published_at)
VALUES ($1, $2, $3, (SELECT id FROM topics WHERE slug = $4), $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (slug) DO UPDATE SET title = $2, summary = $3, category_id = EXCLUDED.category_id,
    sentiment = $5, hero_image_url = $6, hero_image_alt = $7, hero_image_caption = $8,
    hero_image_credit = $9, status = $10, published_at = $11
RETURNING id
"""
_DEEP_DIVE = """
INSERT INTO deep_dives (slug, story_id, title, dek, status, published_at)
VALUES ($1, (SELECT id FROM stories WHERE slug = $2), $3, $4, $5, $6)
ON CONFLICT (slug) DO UPDATE SET story_id = EXCLUDED.story_id, title = $3, dek = $4,
    status = $5, published_at = $6
RETURNING id, story_id
"""


async def load_bundle(pool: Pool, bundle: Bundle) -> dict[str, int]:
    """Create or update everything in the bundle; loading it twice changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        for o in bundle["outlets"]:
            await conn.execute(
                _OUTLET,
                o["slug"],
                o["name"],
                o["domain"],
                o["country"],
                o["bias"],
                o["factuality"],
                o["owner"],
            )
        for t in bundle["topics"]:
            await conn.execute(_TOPIC, t["slug"], t["name"], t["kind"], t["description"])
        for s in bundle["sources"]:
            await conn.execute(
                _SOURCE,
                s["url"],
                s["outlet"],
                s["title"],
                s.get("author"),
                _time(s.get("published_at")),
                s.get("excerpt"),
                s.get("image_url"),
                s.get("image_alt"),
                s.get("image_caption"),
                s.get("image_credit"),
            )
        for story in bundle["stories"]:
            await _load_story(conn, story)
        for dive in bundle["deep_dives"]:
            await _load_deep_dive(conn, dive)
    return {kind: len(items) for kind, items in bundle.items()}


async def _load_story(conn: Connection, s: dict[str, Any]) -> None:
    image = s.get("hero_image") or {}
    story_id = await conn.fetchval(
        _STORY,
        s["slug"],
        s["title"],
        s["summary"],
        s["category"],
        s["sentiment"],
        image.get("url"),
        image.get("alt"),
        image.get("caption"),
        image.get("credit"),
        s["status"],
        _time(s.get("published_at")),
    )
    await conn.execute("DELETE FROM deep_dive_citations WHERE story_id = $1", story_id)
    await _replace_links(conn, "story_sources", story_id, "sources", "url", s["sources"])
    await _replace_links(conn, "story_topics", story_id, "topics", "slug", s["topics"])


async def _load_deep_dive(conn: Connection, d: dict[str, Any]) -> None:
    row = await conn.fetchrow(
        _DEEP_DIVE,
        d["slug"],
        d["story"],
        d["title"],
        d["dek"],
        d["status"],
        _time(d.get("published_at")),
    )
    dive_id, story_id = row["id"], row["story_id"]
    for table in ("deep_dive_sections", "deep_dive_citations"):
        await conn.execute(f"DELETE FROM {table} WHERE deep_dive_id = $1", dive_id)
    await conn.executemany(
        "INSERT INTO deep_dive_sections (deep_dive_id, position, heading, body) "
        "VALUES ($1, $2, $3, $4)",
        [(dive_id, i, sec["heading"], sec["body"]) for i, sec in enumerate(d["sections"], 1)],
    )
    await _replace_links(conn, "deep_dive_key_actors", dive_id, "topics", "slug", d["key_actors"])
    await conn.executemany(
        """INSERT INTO deep_dive_citations (deep_dive_id, story_id, position, source_id, note)
           VALUES ($1, $2, $3, (SELECT id FROM sources WHERE url = $4), $5)""",
        [(dive_id, story_id, i, c["source"], c["note"]) for i, c in enumerate(d["citations"], 1)],
    )


# Ordered link tables: table -> (owner column, target column).
_LINKS = {
    "story_sources": ("story_id", "source_id"),
    "story_topics": ("story_id", "topic_id"),
    "deep_dive_key_actors": ("deep_dive_id", "topic_id"),
}


async def _replace_links(
    conn: Connection, table: str, owner_id: int, targets: str, key: str, values: list[str]
) -> None:
    """Make owner_id's links in `table` exactly `values` (natural keys of `targets`), in order.

    Unknown keys are an error, not silently dropped."""
    owner, target = _LINKS[table]
    await conn.execute(f"DELETE FROM {table} WHERE {owner} = $1", owner_id)
    linked = await conn.fetch(
        f"""INSERT INTO {table} ({owner}, {target}, position)
            SELECT $1, t.id, u.position
            FROM unnest($2::text[]) WITH ORDINALITY AS u(key, position)
            JOIN {targets} t ON t.{key} = u.key
            RETURNING position""",
        owner_id,
        values,
    )
    if len(linked) != len(values):
        found = {row["position"] for row in linked}
        missing = [v for i, v in enumerate(values, 1) if i not in found]
        raise ValueError(f"{table}: no {targets} with {key} {', '.join(missing)}")


async def has_stories(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM stories)"))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
