"""Token buckets shared by every API process: in PostgreSQL, or in Redis when configured.

A bucket holds up to `capacity` tokens and refills at `per_second`; each request takes one.
Both stores decide in one atomic step, so concurrent processes never both spend the last token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from db.pool import Pool


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Whole seconds until the next token (0 when allowed)."""
    reset_after: int
    """Whole seconds until the bucket is full again."""


class RateLimiter(Protocol):
    async def take(self, bucket: str, capacity: int, per_second: float) -> Decision: ...

    async def take_for_key(self, pool: Pool, presented: str) -> Admitted:
        """The key `presented` names, if it is live, and a token from its bucket."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Admitted:
    key: Any
    """The db.keys.ApiKey, or None when the key is unknown, revoked or expired."""
    decision: Decision | None


def decision(allowed: bool, tokens: float, capacity: int, per_second: float) -> Decision:
    return Decision(
        allowed=allowed,
        limit=capacity,
        remaining=max(0, math.floor(tokens)),
        retry_after=0 if allowed else math.ceil((1 - tokens) / per_second),
        reset_after=math.ceil(max(0.0, capacity - tokens) / per_second),
    )


def take_sql(wanted: str, per_second: str) -> str:
    """SQL that takes one token from each bucket `wanted` selects (bucket, capacity), making
    it full first if it is new; it returns tokens (left) and allowed. `per_second` is the
    refill rate, in terms of EXCLUDED (the bucket as it would be new)."""
    capacity = "(EXCLUDED.tokens + 1)"
    # Written out in each place: ON CONFLICT's SET sees the old row everywhere.
    refilled = (
        f"LEAST({capacity}, b.tokens + EXTRACT(EPOCH FROM now() - b.updated_at) * {per_second})"
    )
    return f"""
INSERT INTO rate_buckets AS b (bucket, tokens, allowed, updated_at)
SELECT bucket, capacity - 1, true, now() FROM ({wanted}) AS wanted
ON CONFLICT (bucket) DO UPDATE SET
    allowed = {refilled} >= 1,
    tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END,
    updated_at = now()
RETURNING tokens, allowed
"""


_TAKE = take_sql("SELECT $1::text AS bucket, $2::float8 AS capacity", "$3::float8")
KEY_RATE = "(EXCLUDED.tokens + 1) / 60.0"
"""A key's bucket refills its whole rate a minute."""


class PostgresRateLimiter:
    def __init__(self, pool: Pool, namespace: str = "") -> None:
        self.pool, self.namespace = pool, namespace

    async def take_for_key(self, pool: Pool, presented: str) -> Admitted:
        from db import keys

        return await keys.authenticate_and_take(pool, presented, self.namespace)

    async def take(self, bucket: str, capacity: int, per_second: float) -> Decision:
        row = await self.pool.fetchrow(_TAKE, self.namespace + bucket, float(capacity), per_second)
        return decision(row["allowed"], row["tokens"], capacity, per_second)

    async def close(self) -> None:
        return None


_TAKE_LUA = """
local capacity, per_second = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local allowed = 0
if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 1)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    def __init__(self, url: str, namespace: str = "newsgraph:rate:") -> None:
        import redis.asyncio as redis

        self.client: Any = redis.Redis.from_url(url)
        self.script = self.client.register_script(_TAKE_LUA)
        self.namespace = namespace

    async def take_for_key(self, pool: Pool, presented: str) -> Admitted:
        from db import keys

        found = await keys.authenticate(pool, presented)
        if found is None:
            return Admitted(None, None)
        rate = found.rate_per_minute
        return Admitted(found, await self.take(f"key:{found.id}", rate, rate / 60))

    async def take(self, bucket: str, capacity: int, per_second: float) -> Decision:
        allowed, tokens = await self.script(
            keys=[self.namespace + bucket], args=[capacity, per_second]
        )
        return decision(bool(allowed), float(tokens), capacity, per_second)

    async def close(self) -> None:
        await self.client.aclose()
