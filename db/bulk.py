"""Bulk inserts with COPY, for generated content."""

from __future__ import annotations

from typing import Any

from db import changes, figures, purge, search
from db.pool import Pool

COLUMNS: dict[str, tuple[str, ...]] = {
    "outlets": ("id", "slug", "name", "domain", "country", "bias", "factuality", "owner"),
    "topics": ("id", "slug", "name", "kind", "description"),
    "sources": ("id", "outlet_id", "url", "title", "published_at", "excerpt"),
    "stories": (
        "id",
        "slug",
        "title",
        "summary",
        "category_id",
        "sentiment",
        "status",
        "published_at",
    ),
    "story_sources": ("story_id", "source_id", "position"),
    "story_topics": ("story_id", "topic_id", "position"),
    "deep_dives": ("id", "story_id", "slug", "title", "dek", "status", "published_at"),
    "deep_dive_sections": ("deep_dive_id", "position", "heading", "body"),
    "deep_dive_key_actors": ("deep_dive_id", "topic_id", "position"),
    "deep_dive_citations": ("deep_dive_id", "story_id", "position", "source_id", "note"),
}
# Parents before children, so foreign keys hold at every step.
ORDER = tuple(COLUMNS)
_SEQUENCES = ("outlets", "topics", "sources", "stories", "deep_dives")


async def next_ids(pool: Pool) -> dict[str, int]:
    """The first free id of each table with an identity column."""
    found = {}
    for table in _SEQUENCES:
        found[table] = await pool.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return found


async def slug_taken(pool: Pool, table: str, slug: str) -> bool:
    assert table in _SEQUENCES
    return bool(await pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE slug = $1)", slug))


_STALE = """SELECT c.relname FROM unnest($1::text[], $2::int[]) AS t(name, copied)
    JOIN pg_class c ON c.oid = to_regclass(t.name)
    WHERE t.copied > 0 AND c.reltuples < t.copied"""


async def copy_tables(pool: Pool, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """COPY the rows of each table, parents first, and build the search documents, figures
    and listings of the new stories and deep dives, in one transaction."""
    story_ids = [row[0] for row in rows.get("stories", [])]
    dive_ids = [row[0] for row in rows.get("deep_dives", [])]
    async with pool.acquire() as conn, conn.transaction():
        # A bulk load is an operator's job, not a request: no request's statement timeout.
        await conn.execute("SET LOCAL statement_timeout = 0")
        await changes.serialize_writes(conn)
        for table in ORDER:
            if rows.get(table):
                await conn.copy_records_to_table(table, records=rows[table], columns=COLUMNS[table])
        # Statistics that know the new rows (ANALYZE sees this transaction's own) for each
        # table whose statistics count fewer rows than were just copied into it: without
        # them the planner may take a large table for the small one it was, and the listing
        # refresh below scans it once per story. Later batches of a big load skip it.
        stale = await conn.fetch(_STALE, list(rows), [len(found) for found in rows.values()])
        if stale:
            await conn.execute(f"ANALYZE {', '.join(row[0] for row in stale)}")
        await search.refresh(conn, "story", story_ids)
        await search.refresh(conn, "deep_dive", dive_ids)
        await figures.refresh_deep_dives(conn, dive_ids)
        await figures.refresh_stories(conn, story_ids)
        await purge.announce(conn, [purge.EVERYTHING])  # no change events are written


async def sync_sequences(pool: Pool) -> None:
    """Move identity sequences past ids that COPY set explicitly."""
    for table in _SEQUENCES:
        await pool.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )


async def vacuum_analyze(pool: Pool) -> None:
    """Fresh statistics, and a visibility map so counts can use index-only scans."""
    await pool.execute("VACUUM (ANALYZE)")
