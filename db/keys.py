"""API keys: random, shown once, stored as a SHA-256 hash beside a short visible prefix.

The prefix finds the row; the hash proves the rest. Keys carry 256 random bits, so a fast hash
is enough (a slow password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from db import purge
from db.pool import Pool
from db.rate_limits import KEY_RATE, Admitted, decision, take_sql
from db.records import build, columns

KEY_START = "ng_"


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    role: str
    prefix: str
    rate_per_minute: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


_KEY = columns(ApiKey, "k")
_CREATE = f"""
INSERT INTO api_keys AS k (name, role, prefix, key_hash, rate_per_minute, expires_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_KEY}
"""
_LIST = f"SELECT {_KEY} FROM api_keys k ORDER BY k.id"
_BY_ID = f"SELECT {_KEY} FROM api_keys k WHERE k.id = $1"
_BY_PREFIX = f"SELECT {_KEY} FROM api_keys k WHERE k.prefix = $1"
_REVOKE = f"""
UPDATE api_keys AS k SET revoked_at = COALESCE(k.revoked_at, now())
WHERE k.id = $1 RETURNING {_KEY}
"""
# One statement: find a usable key by prefix and note its use (at most once a minute, so a
# busy key does not turn every read into a write).
_AUTHENTICATE = f"""
WITH found AS (
    SELECT k.key_hash, {_KEY} FROM api_keys k
    WHERE k.prefix = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
), touched AS (
    UPDATE api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM found) AND key_hash = $2
      AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT * FROM found
"""


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _prefix_of(key: str) -> str | None:
    """The 8 hex digits after `ng_` (the secret after them may itself contain `_`)."""
    start = len(KEY_START)
    prefix = key[start : start + 8]
    if not key.startswith(KEY_START) or key[start + 8 : start + 9] != "_" or len(prefix) != 8:
        return None
    return prefix


async def create_key(
    pool: Pool, *, name: str, role: str, rate_per_minute: int, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """The new key's record and the key itself, which is never stored and cannot be shown
    again."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    row = await pool.fetchrow(_CREATE, name, role, prefix, _hash(key), rate_per_minute, expires_at)
    return build(ApiKey, row), key


async def list_keys(pool: Pool) -> list[ApiKey]:
    return [build(ApiKey, row) for row in await pool.fetch(_LIST)]


async def key_by_id(pool: Pool, key_id: int) -> ApiKey | None:
    row = await pool.fetchrow(_BY_ID, key_id)
    return build(ApiKey, row) if row else None


async def key_by_reference(pool: Pool, reference: str) -> ApiKey | None:
    """A key by its prefix, else by its id (digits): a prefix of 8 hex characters can be all
    digits too, and it names a key unambiguously, so it is tried first."""
    row = await pool.fetchrow(_BY_PREFIX, reference)
    if row:
        return build(ApiKey, row)
    if reference.isdigit() and len(reference) <= 18:
        return await key_by_id(pool, int(reference))
    return None


async def revoke_key(pool: Pool, key_id: int) -> ApiKey | None:
    """Revoke the key (idempotent: a revoked key keeps its first revocation time)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_REVOKE, key_id)
        if row:
            await purge.announce(conn, [f"{purge.KEY_PREFIX}{key_id}"])
    return build(ApiKey, row) if row else None


_KEY_BUCKET = """SELECT $3 || 'key:' || l.id AS bucket, l.rate_per_minute::float8 AS capacity
    FROM live l"""
# The same, and a token from the key's rate-limit bucket: one round trip for both.
_ADMIT = f"""
WITH found AS (
    SELECT k.key_hash, {_KEY} FROM api_keys k
    WHERE k.prefix = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
), live AS (SELECT * FROM found WHERE key_hash = $2),
touched AS (
    UPDATE api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM live)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
), taken AS ({take_sql(_KEY_BUCKET, KEY_RATE, "$4::int")})
SELECT found.*, taken.tokens, taken.granted FROM found LEFT JOIN taken ON TRUE
"""


async def authenticate_and_take(
    pool: Pool, presented: str, namespace: str = "", wanted: int = 1
) -> Admitted:
    """The key `presented` names if it is live, with up to `wanted` tokens taken from its
    bucket (named after `namespace`)."""
    prefix = _prefix_of(presented)
    if prefix is None:
        return Admitted(None, None)
    digest = _hash(presented)
    row = await pool.fetchrow(_ADMIT, prefix, digest, namespace, wanted)
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        return Admitted(None, None)
    key = build(ApiKey, row)
    rate = key.rate_per_minute
    return Admitted(key, decision(row["granted"], row["tokens"], rate, rate / 60))


async def authenticate(pool: Pool, presented: str) -> ApiKey | None:
    """The key's record if `presented` is a live key: known, not revoked, not expired."""
    prefix = _prefix_of(presented)
    if prefix is None:
        return None
    digest = _hash(presented)
    row = await pool.fetchrow(_AUTHENTICATE, prefix, digest)
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        return None
    return build(ApiKey, row)
