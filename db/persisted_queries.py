"""Automatic persisted queries: GraphQL documents stored by their SHA-256 (hex)."""

from __future__ import annotations

from db.pool import Pool


async def persisted_query(pool: Pool, sha256: str) -> str | None:
    query: str | None = await pool.fetchval(
        "SELECT query FROM persisted_queries WHERE sha256 = $1", sha256
    )
    return query


async def persist_query(pool: Pool, sha256: str, query: str, most: int) -> bool:
    """Store the query unless `most` are stored already; whether it is stored now."""
    stored: bool = await pool.fetchval(
        """WITH added AS (
               INSERT INTO persisted_queries (sha256, query)
               SELECT $1, $2 WHERE (SELECT count(*) FROM persisted_queries) < $3
               ON CONFLICT DO NOTHING RETURNING 1)
           SELECT EXISTS (SELECT 1 FROM added)
               OR EXISTS (SELECT 1 FROM persisted_queries WHERE sha256 = $1)""",
        sha256,
        query,
        most,
    )
    return stored
