"""Story embeddings (pgvector): which stories need one, storing them, whether any exist.

The table exists only where the pgvector extension was available when migration 0004 ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.pool import Pool

DIMENSIONS = 384


async def table_exists(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT to_regclass('story_embeddings') IS NOT NULL"))


async def available(pool: Pool) -> bool:
    """True when recommendations can use vectors: the table exists and holds some."""
    if not await table_exists(pool):
        return False
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM story_embeddings)"))


@dataclass(frozen=True)
class Pending:
    story_id: int
    text: str
    digest: bytes


# A story's text to embed: its title and summary, and its deep dive's title and dek.
_TEXT = """s.title || E'\\n' || s.summary || coalesce((SELECT E'\\n' || d.title || E'\\n' || d.dek
    FROM deep_dives d WHERE d.story_id = s.id), '')"""
_PENDING = f"""
SELECT s.id, t.text, sha256(convert_to($2 || t.text, 'UTF8')) AS digest
FROM stories s CROSS JOIN LATERAL (SELECT {_TEXT} AS text) AS t
LEFT JOIN story_embeddings e ON e.story_id = s.id
WHERE s.id > $1 AND (e.digest IS NULL OR e.digest <> sha256(convert_to($2 || t.text, 'UTF8')))
ORDER BY s.id
LIMIT $3
"""
_COUNT_PENDING = f"""
SELECT count(*) FROM stories s CROSS JOIN LATERAL (SELECT {_TEXT} AS text) AS t
LEFT JOIN story_embeddings e ON e.story_id = s.id
WHERE e.digest IS NULL OR e.digest <> sha256(convert_to($1 || t.text, 'UTF8'))
"""
_STORE = """
INSERT INTO story_embeddings (story_id, model, digest, embedding)
SELECT u.story_id, $1, u.digest, u.embedding::vector
FROM unnest($2::bigint[], $3::bytea[], $4::text[]) AS u(story_id, digest, embedding)
ON CONFLICT (story_id) DO UPDATE
    SET model = EXCLUDED.model, digest = EXCLUDED.digest, embedding = EXCLUDED.embedding,
        embedded_at = now()
"""


async def count_pending(pool: Pool, model: str) -> int:
    count: int = await pool.fetchval(_COUNT_PENDING, model)
    return count


async def pending(pool: Pool, model: str, after_id: int, limit: int) -> list[Pending]:
    """Stories after after_id whose text (or the model) changed since they were embedded, or
    that never were; in id order."""
    rows = await pool.fetch(_PENDING, after_id, model, limit)
    return [Pending(row["id"], row["text"], row["digest"]) for row in rows]


async def store(
    pool: Pool, model: str, items: Sequence[Pending], vectors: Sequence[Sequence[float]]
) -> None:
    texts = ["[" + ",".join(f"{x:.7g}" for x in vector) + "]" for vector in vectors]
    await pool.execute(
        _STORE,
        model,
        [item.story_id for item in items],
        [item.digest for item in items],
        texts,
    )
