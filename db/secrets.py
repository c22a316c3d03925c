"""Secrets the service makes for itself and shares between processes through the database."""

from __future__ import annotations

import secrets

from db.pool import Pool

_ENSURE = """
WITH made AS (
    INSERT INTO service_secrets (name, secret) VALUES ($1, $2)
    ON CONFLICT (name) DO NOTHING RETURNING secret
)
SELECT secret FROM made UNION ALL SELECT secret FROM service_secrets WHERE name = $1
LIMIT 1
"""


async def service_secret(pool: Pool, name: str) -> bytes:
    """The secret called `name`, made (256 random bits) on first use."""
    secret: bytes | None = await pool.fetchval(_ENSURE, name, secrets.token_bytes(32))
    if secret is None:
        # Another process inserted it while this statement ran: the insert waited for its
        # commit and did nothing, and the statement's snapshot predates that commit. A new
        # statement sees it.
        secret = await pool.fetchval("SELECT secret FROM service_secrets WHERE name = $1", name)
    assert secret is not None, name
    return bytes(secret)
