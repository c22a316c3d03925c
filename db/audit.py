"""The audit log: who (which key) changed what, when, from which version to which."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Connection, Pool
from db.records import build, columns


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    key_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: int | None
    entity_key: str
    before_version: int | None
    after_version: int | None


@dataclass(frozen=True)
class Actor:
    name: str
    key_id: int | None


_ENTRY = columns(AuditEntry, "a")
_WRITE = """
INSERT INTO audit_log (key_id, actor, action, entity, entity_id, entity_key,
    before_version, after_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_PAGE = f"""
SELECT {_ENTRY} FROM audit_log a
WHERE $1::bigint IS NULL OR a.id < $1
ORDER BY a.id DESC LIMIT $2
"""


async def record(
    conn: Connection,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    entity_key: str,
    before_version: int | None = None,
    after_version: int | None = None,
) -> None:
    """Note a change; call inside the transaction that makes it, so both land or neither."""
    await conn.execute(
        _WRITE,
        actor.key_id,
        actor.name,
        action,
        entity,
        entity_id,
        entity_key,
        before_version,
        after_version,
    )


async def audit_count(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM audit_log")
    return count


async def audit_page(pool: Pool, first: int, before_id: int | None) -> list[AuditEntry]:
    """Up to first + 1 entries, newest first, older than before_id."""
    return [build(AuditEntry, row) for row in await pool.fetch(_PAGE, before_id, first + 1)]
