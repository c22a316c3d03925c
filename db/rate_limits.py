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

    async def close(self) -> None: ...


def _decision(allowed: bool, tokens: float, capacity: int, per_second: float) -> Decision:
    return Decision(
        allowed=allowed,
        limit=capacity,
        remaining=max(0, math.floor(tokens)),
        retry_after=0 if allowed else math.ceil((1 - tokens) / per_second),
        reset_after=math.ceil(max(0.0, capacity - tokens) / per_second),
    )


# `refilled` is written out in each place: ON CONFLICT's SET sees the old row everywhere.
_REFILLED = "LEAST($2, b.tokens + EXTRACT(EPOCH FROM now() - b.updated_at) * $3)"
_TAKE = f"""
INSERT INTO rate_buckets AS b (bucket, tokens, allowed, updated_at)
VALUES ($1, $2 - 1, true, now())
ON CONFLICT (bucket) DO UPDATE SET
    allowed = {_REFILLED} >= 1,
    tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
    updated_at = now()
RETURNING tokens, allowed
"""


class PostgresRateLimiter:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def take(self, bucket: str, capacity: int, per_second: float) -> Decision:
        row = await self.pool.fetchrow(_TAKE, bucket, float(capacity), per_second)
        return _decision(row["allowed"], row["tokens"], capacity, per_second)

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

    async def take(self, bucket: str, capacity: int, per_second: float) -> Decision:
        allowed, tokens = await self.script(
            keys=[self.namespace + bucket], args=[capacity, per_second]
        )
        return _decision(bool(allowed), float(tokens), capacity, per_second)

    async def close(self) -> None:
        await self.client.aclose()
