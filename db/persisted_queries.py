"""GraphQL documents stored by their SHA-256 (hex): those callers store through automatic
persisted queries (APQ), bounded and evicted oldest first, and the trusted documents an
operator registers (`newsgraph documents add`), which are never evicted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Pool


@dataclass(frozen=True)
class Bounds:
    """What callers may keep through APQ; registered documents count against none of it."""

    documents: int
    bytes: int
    per_caller: int
    """Documents one key may keep (anonymous callers share one quota)."""


@dataclass(frozen=True)
class Document:
    sha256: str
    name: str | None
    bytes: int
    created_at: datetime


async def persisted_query(pool: Pool, sha256: str, *, trusted: bool = False) -> str | None:
    """The document stored under the hash (only a registered one when `trusted`)."""
    query: str | None = await pool.fetchval(
        "SELECT query FROM persisted_queries WHERE sha256 = $1 AND (trusted OR NOT $2)",
        sha256,
        trusted,
    )
    return query


async def persist_query(
    pool: Pool, sha256: str, query: str, key_id: int | None, bounds: Bounds
) -> bool:
    """Keep a caller's document, then drop the oldest of that caller's beyond its quota and
    the oldest of all beyond the totals; whether the document is kept after that."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO persisted_queries (sha256, query, key_id)
               SELECT $1, $2, $3 WHERE octet_length($2) <= $4
               ON CONFLICT DO NOTHING""",
            *(sha256, query, key_id, bounds.bytes),
        )
        await conn.execute(
            """DELETE FROM persisted_queries WHERE sha256 IN (
                   SELECT sha256 FROM persisted_queries
                   WHERE NOT trusted AND key_id IS NOT DISTINCT FROM $1
                   ORDER BY created_at DESC, sha256 OFFSET $2)""",
            key_id,
            bounds.per_caller,
        )
        await conn.execute(
            """DELETE FROM persisted_queries WHERE sha256 IN (
                   SELECT sha256 FROM (
                       SELECT sha256, count(*) OVER newest AS n, sum(bytes) OVER newest AS total
                       FROM persisted_queries WHERE NOT trusted
                       WINDOW newest AS (ORDER BY created_at DESC, sha256
                                         ROWS UNBOUNDED PRECEDING)) AS ranked
                   WHERE n > $1 OR total > $2)""",
            bounds.documents,
            bounds.bytes,
        )
        kept: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM persisted_queries WHERE sha256 = $1)", sha256
        )
        return kept


async def register(pool: Pool, documents: list[tuple[str, str, str | None]]) -> int:
    """Register (sha256, query, name) documents as trusted; how many were not already."""
    async with pool.acquire() as conn, conn.transaction():
        before: int = await conn.fetchval(
            "SELECT count(*) FROM persisted_queries WHERE trusted AND sha256 = ANY($1)",
            [sha256 for sha256, _, _ in documents],
        )
        await conn.executemany(
            """INSERT INTO persisted_queries (sha256, query, name, trusted)
               VALUES ($1, $2, $3, true)
               ON CONFLICT (sha256) DO UPDATE
               SET query = EXCLUDED.query, name = EXCLUDED.name, trusted = true, key_id = NULL""",
            documents,
        )
        return len({sha256 for sha256, _, _ in documents}) - before


async def registered(pool: Pool) -> list[Document]:
    rows = await pool.fetch(
        """SELECT sha256, name, bytes, created_at FROM persisted_queries WHERE trusted
           ORDER BY name NULLS LAST, sha256"""
    )
    return [Document(**row) for row in rows]


async def unregister(pool: Pool, sha256s: list[str]) -> int:
    """Forget registered documents; how many there were."""
    removed: str = await pool.execute(
        "DELETE FROM persisted_queries WHERE trusted AND sha256 = ANY($1)", sha256s
    )
    return int(removed.split()[-1])


async def stored_by_callers(pool: Pool) -> tuple[int, int]:
    """(documents, bytes) that callers keep through APQ."""
    row = await pool.fetchrow(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM persisted_queries WHERE NOT trusted"
    )
    return int(row[0]), int(row[1])
