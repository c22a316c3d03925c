"""Automatic persisted queries: GraphQL documents stored by their SHA-256 (hex)."""

from __future__ import annotations

from db.pool import Pool


async def persisted_query(pool: Pool, sha256: str) -> str | None:
    query: str | None = await pool.fetchval(
        "SELECT query FROM persisted_queries WHERE sha256 = $1", sha256
    )
    return query


async def persist_query(pool: Pool, sha256: str, query: str) -> None:
    await pool.execute(
        "INSERT INTO persisted_queries (sha256, query) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        sha256,
        query,
    )
