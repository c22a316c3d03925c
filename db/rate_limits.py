"""Token buckets shared by every API process: in PostgreSQL, or in Redis when configured.

A bucket holds up to `capacity` tokens and refills at `per_second`; each request takes one.
Both stores decide in one atomic step, so concurrent processes never both spend the last token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from db import purge
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
    granted: int = 1
    """Tokens taken (0 when refused): more than one when a lease asked for more."""


class RateLimiter(Protocol):
    async def take(
        self, bucket: str, capacity: int, per_second: float, wanted: int = 1
    ) -> Decision:
        """Up to `wanted` tokens from the bucket (at least one, or the request is refused)."""
        ...

    async def take_for_key(self, pool: Pool, presented: str, wanted: int = 1) -> Admitted:
        """The key `presented` names, if it is live, and tokens from its bucket."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Admitted:
    key: Any
    """The db.keys.ApiKey, or None when the key is unknown, revoked or expired."""
    decision: Decision | None


def decision(granted: int, tokens: float, capacity: int, per_second: float) -> Decision:
    allowed = granted >= 1
    return Decision(
        allowed=allowed,
        limit=capacity,
        remaining=max(0, math.floor(tokens)),
        retry_after=0 if allowed else math.ceil((1 - tokens) / per_second),
        reset_after=math.ceil(max(0.0, capacity - tokens) / per_second),
        granted=granted,
    )


CAPACITY = "(EXCLUDED.tokens + EXCLUDED.granted)"
"""A bucket's capacity, in terms of EXCLUDED (the bucket as it would be new: full, less what
this take gets)."""


def take_sql(wanted: str, per_second: str, count: str) -> str:
    """SQL that takes up to `count` tokens (at least one, or none) from each bucket `wanted`
    selects (bucket, capacity), making it full first if it is new; it returns tokens (left),
    allowed and granted. `per_second` is the refill rate, in terms of CAPACITY."""
    # Written out in each place: ON CONFLICT's SET sees the old row everywhere.
    refilled = (
        f"LEAST({CAPACITY}, b.tokens + EXTRACT(EPOCH FROM now() - b.updated_at) * {per_second})"
    )
    granted = f"(CASE WHEN {refilled} >= 1 THEN LEAST({count}, floor({refilled})) ELSE 0 END)"
    return f"""
INSERT INTO rate_buckets AS b (bucket, tokens, allowed, granted, updated_at)
SELECT bucket, capacity - g.n, true, g.n, now()
FROM ({wanted}) AS wanted CROSS JOIN LATERAL (SELECT LEAST({count}, floor(capacity))::int AS n) g
ON CONFLICT (bucket) DO UPDATE SET
    allowed = {refilled} >= 1,
    granted = {granted}::int,
    tokens = {refilled} - {granted},
    updated_at = now()
RETURNING tokens, allowed, granted
"""


_TAKE = take_sql("SELECT $1::text AS bucket, $2::float8 AS capacity", "$3::float8", "$4::int")
KEY_RATE = f"{CAPACITY} / 60.0"
"""A key's bucket refills its whole rate a minute."""


class PostgresRateLimiter:
    def __init__(self, pool: Pool, namespace: str = "") -> None:
        self.pool, self.namespace = pool, namespace

    async def take_for_key(self, pool: Pool, presented: str, wanted: int = 1) -> Admitted:
        from db import keys

        return await keys.authenticate_and_take(pool, presented, self.namespace, wanted)

    async def take(
        self, bucket: str, capacity: int, per_second: float, wanted: int = 1
    ) -> Decision:
        row = await self.pool.fetchrow(
            _TAKE, self.namespace + bucket, float(capacity), per_second, wanted
        )
        return decision(row["granted"], row["tokens"], capacity, per_second)

    async def close(self) -> None:
        return None


_TAKE_LUA = """
local capacity, per_second, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local granted = 0
if tokens >= 1 then
    granted = math.min(wanted, math.floor(tokens))
    tokens = tokens - granted
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 1)
return {granted, tostring(tokens)}
"""


class RedisRateLimiter:
    def __init__(self, url: str, namespace: str = "newsgraph:rate:") -> None:
        import redis.asyncio as redis

        self.client: Any = redis.Redis.from_url(url)
        self.script = self.client.register_script(_TAKE_LUA)
        self.namespace = namespace

    async def take_for_key(self, pool: Pool, presented: str, wanted: int = 1) -> Admitted:
        from db import keys

        found = await keys.authenticate(pool, presented)
        if found is None:
            return Admitted(None, None)
        rate = found.rate_per_minute
        return Admitted(found, await self.take(f"key:{found.id}", rate, rate / 60, wanted))

    async def take(
        self, bucket: str, capacity: int, per_second: float, wanted: int = 1
    ) -> Decision:
        granted, tokens = await self.script(
            keys=[self.namespace + bucket], args=[capacity, per_second, wanted]
        )
        return decision(int(granted), float(tokens), capacity, per_second)

    async def close(self) -> None:
        await self.client.aclose()


def key_lease(presented: str) -> str:
    """The name of the lease of a presented key's bucket (its digest: keys are never kept)."""
    return "key:" + hashlib.sha256(presented.encode()).hexdigest()


@dataclass
class Lease:
    left: int
    """Tokens taken from the shared bucket and not spent yet."""
    size: int
    """How many the last take got."""
    until: float
    """time.monotonic() after which the rest is not spent (the bucket may have changed)."""
    decision: Decision
    """The shared bucket as the last take left it."""
    key: Any = None
    """For a key's bucket, the key as the last take found it live."""


class LeasingRateLimiter:
    """A process's share of the shared buckets: a caller that spends its tokens quickly
    gets several at a time and spends them here, so a busy key costs one statement per
    lease rather than one per request, and the buckets stay the one truth for every process
    (a lease only ever holds tokens the bucket gave: nothing is admitted twice).

    A lease starts at one token (so a caller of a modest rate sees every request counted
    where it is shared, exactly as without leases), doubles each time one is spent within
    LEASE_SECONDS, halves when one runs out of time unspent, and never holds more than
    LEASE_SECONDS of the caller's rate. A key checked for a lease is trusted for that long:
    a key revoked or expired while in heavy use is refused at most LEASE_SECONDS later."""

    LEASE_SECONDS = 0.25

    def __init__(self, inner: RateLimiter, lease_seconds: float = LEASE_SECONDS) -> None:
        self.inner, self.lease_seconds = inner, lease_seconds
        self.leases: dict[str, Lease] = {}
        self.renewals: dict[str, asyncio.Event] = {}
        """Buckets whose lease a request is renewing now, set when it is done."""

    async def take(
        self, bucket: str, capacity: int, per_second: float, wanted: int = 1
    ) -> Decision:
        spent = await self._spend_or_wait(bucket)
        if spent is not None:
            return spent.decision_now()
        with self._renewing(bucket):
            size = self._size(bucket, per_second)
            found = await self.inner.take(bucket, capacity, per_second, size)
            self._lease(bucket, found)
        return found

    async def take_for_key(self, pool: Pool, presented: str, wanted: int = 1) -> Admitted:
        lease_name = key_lease(presented)
        spent = await self._spend_or_wait(lease_name)
        if spent is not None:
            return Admitted(spent.lease.key, spent.decision_now())
        with self._renewing(lease_name):
            last = self.leases.get(lease_name)
            size = self._size(lease_name, last.key.rate_per_minute / 60 if last else 0.0)
            admitted = await self.inner.take_for_key(pool, presented, size)
            if admitted.decision is not None:
                self._lease(lease_name, admitted.decision, admitted.key)
            else:
                self.leases.pop(lease_name, None)
        return admitted

    async def _spend_or_wait(self, name: str) -> _Spent | None:
        """A token of the lease; while another request is renewing it, one of the new lease
        once that is done (so concurrent requests of a busy caller whose lease ran out cost
        one statement, not one each). None: this request takes from the bucket itself."""
        spent = self._spend(name)
        renewal = self.renewals.get(name)
        if spent is not None or renewal is None:
            return spent
        await renewal.wait()
        return self._spend(name)

    @contextlib.contextmanager
    def _renewing(self, name: str) -> Iterator[None]:
        """While this request takes a lease from the bucket, others of the bucket wait for it
        (unless one already does: then this one takes tokens of its own alongside)."""
        if name in self.renewals:
            yield
            return
        renewal = self.renewals[name] = asyncio.Event()
        try:
            yield
        finally:
            del self.renewals[name]
            renewal.set()

    def holding(self, name: str) -> Lease | None:
        """The lease of bucket `name` (key_lease() for a key's) if it can pay for a request
        now, without a store: what api.fast_lane answers by. Nothing is spent."""
        lease = self.leases.get(name)
        if lease is None or lease.left < 1 or lease.until < time.monotonic():
            return None
        return lease

    def spend(self, lease: Lease) -> Decision:
        """One token of a lease holding() just gave (no await since), and the bucket as the
        caller then sees it."""
        assert lease.left >= 1, "spend a lease holding() found, before anything else runs"
        lease.left -= 1
        return _Spent(lease).decision_now()

    async def close(self) -> None:
        await self.inner.close()

    def purged(self, keys: list[str]) -> None:
        """Drop the leases of revoked keys (db.purge): the next request checks them again."""
        key_ids = purge.revoked_keys(keys)
        for name, lease in list(self.leases.items()):
            if lease.key is not None and lease.key.id in key_ids:
                del self.leases[name]

    def _spend(self, name: str) -> _Spent | None:
        lease = self.holding(name)
        if lease is None:
            return None
        lease.left -= 1
        return _Spent(lease)

    def _size(self, name: str, per_second: float) -> int:
        """Tokens to ask for: double the last lease if it was spent in time, half if not."""
        most = max(1, math.floor(per_second * self.lease_seconds))
        lease = self.leases.get(name)
        if lease is None:
            return 1
        spent_in_time = lease.left < 1 and lease.until >= time.monotonic()
        size = lease.size * 2 if spent_in_time else lease.size // 2
        return max(1, min(most, size))

    def _lease(self, name: str, found: Decision, key: Any = None) -> None:
        left = max(0, found.granted - 1)  # the request that took them spends one
        until = time.monotonic() + self.lease_seconds
        self.leases[name] = Lease(left, found.granted, until, found, key)
        if len(self.leases) > 100_000:  # callers come and go; keep the busy ones
            now = time.monotonic()
            self.leases = {k: v for k, v in self.leases.items() if v.until >= now}


@dataclass(frozen=True)
class _Spent:
    lease: Lease

    def decision_now(self) -> Decision:
        """The bucket as the caller sees it: what it held, plus what this lease still holds."""
        shared = self.lease.decision
        return Decision(
            allowed=True,
            limit=shared.limit,
            remaining=shared.remaining + self.lease.left,
            retry_after=0,
            reset_after=shared.reset_after,
        )
