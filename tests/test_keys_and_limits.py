"""API keys (hashed, revocable, expiring), anonymous access and shared token-bucket limits."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.settings import Access, Settings
from db.pool import Pool
from db.rate_limits import LeasingRateLimiter, PostgresRateLimiter, RedisRateLimiter
from tests.conftest import bearer, data, error_codes, serving
from tests.test_cli import newsgraph

PING = "{ stories(first: 1) { totalCount } }"


async def post(client: Any, headers: dict[str, str] | None = None) -> Any:
    return await client.post("/graphql", json={"query": PING}, headers=headers or {})


def limited(settings: Settings, **access: Any) -> Settings:
    return replace(settings, access=Access(**access))


async def test_a_key_works_as_bearer_and_as_x_api_key(client: Any, make_key: Any) -> None:
    key = await make_key("PARTNER")
    for headers in (bearer(key), {"X-API-Key": key}):
        response = await post(client, headers)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()


async def test_keys_are_stored_hashed_with_a_visible_prefix(pool: Pool, make_key: Any) -> None:
    key = await make_key("EDITOR")
    row = await pool.fetchrow("SELECT prefix, key_hash FROM api_keys")
    assert key.startswith(f"ng_{row['prefix']}_")
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    stored = await pool.fetchval("SELECT row_to_json(k)::text FROM api_keys k")
    assert key not in stored and key[len("ng_12345678_") :] not in stored


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer ng_deadbeef_not-a-real-key"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"X-API-Key": "ng_00000000_x"},
    ],
    ids=["unknown", "malformed", "wrong-scheme", "empty", "unknown-x-api-key"],
)
async def test_a_wrong_key_is_401_never_anonymous(client: Any, headers: dict[str, str]) -> None:
    response = await post(client, headers)
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_key_with_a_right_prefix_and_a_wrong_secret_is_401(
    client: Any, make_key: Any
) -> None:
    key = await make_key()
    forged = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    assert (await post(client, bearer(forged))).status_code == 401


async def test_revoked_and_expired_keys_are_401(client: Any, pool: Pool, make_key: Any) -> None:
    revoked = await make_key(name="revoked")
    assert (await post(client, bearer(revoked))).status_code == 200
    await pool.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'revoked'")
    assert (await post(client, bearer(revoked))).status_code == 401

    expired = await make_key(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await post(client, bearer(expired))).status_code == 401
    live = await make_key(expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert (await post(client, bearer(live))).status_code == 200


async def test_last_use_is_recorded(client: Any, pool: Pool, make_key: Any) -> None:
    key = await make_key()
    assert await pool.fetchval("SELECT last_used_at FROM api_keys") is None
    await post(client, bearer(key))
    assert await pool.fetchval("SELECT last_used_at FROM api_keys") is not None


async def test_anonymous_access_can_be_switched_off(settings: Settings, make_key: Any) -> None:
    key = await make_key()
    async with serving(limited(settings, anonymous=False)) as client:
        response = await post(client)
        assert response.status_code == 401
        assert "needs an API key" in response.json()["errors"][0]["message"]
        assert (await post(client, bearer(key))).status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_anonymous_callers_may_not_preview(client: Any) -> None:
    body = await client.post(
        "/graphql", json={"query": "{ stories(first: 1, preview: true) { totalCount } }"}
    )
    assert error_codes(body.json()) == ["FORBIDDEN"]


@pytest.mark.parametrize("role", ["PUBLIC", "PARTNER"])
async def test_reader_keys_may_not_preview(client: Any, make_key: Any, role: str) -> None:
    key = await make_key(role)
    query = "{ stories(first: 1, filter: {status: [DRAFT]}) { totalCount } }"
    body = await client.post("/graphql", json={"query": query}, headers=bearer(key))
    assert error_codes(body.json()) == ["FORBIDDEN"]
    assert "EDITOR or ADMIN" in body.json()["errors"][0]["message"]


async def test_every_response_carries_rate_limit_headers(client: Any, make_key: Any) -> None:
    key = await make_key(rate=50)
    first, second = await post(client, bearer(key)), await post(client, bearer(key))
    assert first.headers["X-RateLimit-Limit"] == "50"
    assert int(first.headers["X-RateLimit-Remaining"]) == 49
    assert int(second.headers["X-RateLimit-Remaining"]) == 48
    assert int(second.headers["X-RateLimit-Reset"]) >= 1
    error = await client.post("/graphql", content=b"{", headers=bearer(key))
    assert error.status_code == 400 and "X-RateLimit-Remaining" in error.headers


async def over_the_limit(client: Any, headers: dict[str, str], limit: int) -> Any:
    for _ in range(limit):
        assert (await post(client, headers)).status_code == 200
    return await post(client, headers)


async def test_a_key_over_its_rate_gets_429_with_retry_after(client: Any, make_key: Any) -> None:
    key, other = await make_key(rate=3), await make_key(rate=3)
    response = await over_the_limit(client, bearer(key), 3)
    assert response.status_code == 429
    assert error_codes(response.json()) == ["RATE_LIMITED"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert (await post(client, bearer(other))).status_code == 200, "buckets are per key"


async def test_anonymous_callers_are_limited_per_address(settings: Settings) -> None:
    async with serving(limited(settings, anonymous_rate_per_minute=2)) as client:
        response = await over_the_limit(client, {}, 2)
        assert response.status_code == 429
        assert error_codes(response.json()) == ["RATE_LIMITED"]


async def test_the_bucket_refills_over_time(settings: Settings, make_key: Any) -> None:
    key = await make_key(rate=60)  # one token a second
    async with serving(settings) as client:
        for _ in range(60):
            await post(client, bearer(key))
        assert (await post(client, bearer(key))).status_code == 429
        await asyncio.sleep(1.1)
        assert (await post(client, bearer(key))).status_code == 200


async def test_processes_share_one_bucket_through_postgresql(
    settings: Settings, make_key: Any
) -> None:
    key = await make_key(rate=4)
    async with serving(settings) as one, serving(settings) as two:
        statuses = [
            (await post(client, bearer(key))).status_code for client in (one, two, one, two, one)
        ]
    assert statuses == [200, 200, 200, 200, 429]


async def test_redis_buckets_are_shared_and_limit_alike(
    settings: Settings, make_key: Any, redis_url: str
) -> None:
    key = await make_key(rate=3)
    redis_settings = limited(settings, redis_url=redis_url, anonymous_rate_per_minute=100)
    async with serving(redis_settings) as one, serving(redis_settings) as two:
        statuses = [(await post(c, bearer(key))).status_code for c in (one, two, one, two)]
        last = await post(one, bearer(key))
    assert statuses == [200, 200, 200, 429]
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1


class Counted(PostgresRateLimiter):
    """The PostgreSQL buckets, counting the statements that reach them."""

    calls = 0

    async def take(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await super().take(*args, **kwargs)

    async def take_for_key(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await super().take_for_key(*args, **kwargs)


async def test_leases_spend_a_busy_bucket_in_few_statements_never_past_it(pool: Pool) -> None:
    # Two processes' limiters over one bucket of 100 tokens, leases of up to a minute's rate.
    inner = [Counted(pool, namespace="leases:"), Counted(pool, namespace="leases:")]
    one, two = (LeasingRateLimiter(limiter, lease_seconds=60) for limiter in inner)
    clock = asyncio.get_running_loop().time
    started, decisions = clock(), []
    while sum(d.allowed for d in decisions) < 100 and len(decisions) < 1_000:
        decisions.append(await (one, two)[len(decisions) % 2].take("bucket", 100, 100 / 60))
    assert sum(limiter.calls for limiter in inner) < 50, "spent mostly from leases"
    assert decisions[0].remaining == 99
    # Both limiters now refuse: no lease holds a token the bucket did not give.
    later = [await limiter.take("bucket", 100, 100 / 60) for limiter in (one, two, one, two)]
    refilled = (clock() - started) * 100 / 60
    assert sum(d.allowed for d in later) <= refilled


async def test_concurrent_requests_whose_lease_ran_out_renew_it_once(pool: Pool) -> None:
    inner = Counted(pool, namespace="herd:")
    limiter = LeasingRateLimiter(inner, lease_seconds=0.2)
    rate = 600_000.0  # 10,000 a second: leases of up to 2,000
    for _ in range(300):  # a busy caller: its lease grows past 100
        await limiter.take("bucket", 10**9, rate)
    await asyncio.sleep(0.3)  # the lease runs out of time
    before = inner.calls
    decisions = await asyncio.gather(*(limiter.take("bucket", 10**9, rate) for _ in range(20)))
    assert all(d.allowed for d in decisions)
    assert inner.calls == before + 1, "one renewal for twenty requests"
    remaining = sorted(d.remaining for d in decisions)
    assert len(set(remaining)) == 20, "each request spent a token of its own"


async def test_a_modest_rate_is_counted_where_it_is_shared(pool: Pool) -> None:
    # 60 a minute: no lease would last; every request takes its token from the bucket.
    inner = Counted(pool, namespace="modest:")
    limiter = LeasingRateLimiter(inner)
    decisions = [await limiter.take("bucket", 60, 1.0) for _ in range(10)]
    assert inner.calls == 10
    assert [d.remaining for d in decisions] == list(range(59, 49, -1))


async def test_a_busy_key_is_leased_and_its_headers_count_down(settings, make_key) -> None:
    key = await make_key(rate=6_000)  # 100 a second: leases of up to 25
    async with serving(settings) as client:
        responses = [await post(client, bearer(key)) for _ in range(60)]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert remaining[0] == 5_999 and remaining[-1] < remaining[0]
    assert remaining[-1] >= 5_999 - 60  # refills may add a few; nothing is counted twice


async def test_leases_share_redis_buckets_too(redis_url: str) -> None:
    one = LeasingRateLimiter(RedisRateLimiter(redis_url, namespace="leases:"), lease_seconds=60)
    two = LeasingRateLimiter(RedisRateLimiter(redis_url, namespace="leases:"), lease_seconds=60)
    try:
        decisions = [await (one, two)[n % 2].take("bucket", 50, 50 / 60) for n in range(80)]
        assert 50 <= sum(d.allowed for d in decisions) <= 52
    finally:
        await one.close()
        await two.close()


async def test_cli_creates_lists_and_revokes_keys(database_url: str, pool: Pool) -> None:
    created = newsgraph(
        "keys", "create", "--name", "web", "--role", "public", "--rate", "120",
        database_url=database_url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ng_") and "cannot be shown again" in created.stderr
    prefix = key[3:11]

    listed = newsgraph("keys", "list", database_url=database_url)
    assert prefix in listed.stdout and "web" in listed.stdout and "PUBLIC" in listed.stdout
    assert key not in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if prefix in line)
    assert row.endswith("\tactive")
    await pool.execute("UPDATE api_keys SET expires_at = now() - interval '1 minute'")
    listed = newsgraph("keys", "list", database_url=database_url)
    assert next(line for line in listed.stdout.splitlines() if prefix in line).endswith("\texpired")

    past = newsgraph(
        "keys", "create", "--name", "late", "--role", "public",
        "--expires", "2020-01-01T00:00:00Z", database_url=database_url,
    )  # fmt: skip
    assert past.returncode == 1 and "has passed" in past.stderr and "Traceback" not in past.stderr

    revoked = newsgraph("keys", "revoke", prefix, database_url=database_url)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    listed = newsgraph("keys", "list", database_url=database_url)
    assert next(line for line in listed.stdout.splitlines() if prefix in line).endswith("\trevoked")
    missing = newsgraph("keys", "revoke", "99999", database_url=database_url)
    assert missing.returncode != 0 and "no key" in missing.stderr


async def test_a_prefix_of_digits_only_still_names_its_key(
    pool: Pool, make_key: Any, database_url: str
) -> None:
    # About 1 prefix in 40 is all digits; it must not be read as a key id.
    await make_key(name="digits")
    await pool.execute("UPDATE api_keys SET prefix = '12345678' WHERE name = 'digits'")
    revoked = newsgraph("keys", "revoke", "12345678", database_url=database_url)
    assert revoked.returncode == 0, revoked.stderr
    assert await pool.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys") is True


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--role", "owner"], "invalid choice"),
        (["--role", "public", "--expires", "2027-01-01"], "time zone"),
        (["--role", "public", "--rate", "0"], "at least 1"),
    ],
)
def test_cli_rejects_bad_key_options(database_url: str, args: list[str], complaint: str) -> None:
    result = newsgraph("keys", "create", "--name", "x", *args, database_url=database_url)
    assert result.returncode != 0 and complaint in result.stderr


async def test_keys_only_read_with_the_role_they_have(client: Any, make_key: Any) -> None:
    key = await make_key("PUBLIC")
    assert (await data(client, PING, key=key))["stories"]["totalCount"] == 0


async def test_the_graphiql_page_needs_no_key_but_its_queries_do(settings: Settings) -> None:
    async with serving(limited(settings, anonymous=False)) as client:
        html = {"Accept": "text/html"}
        page = await client.get("/graphql", headers=html)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        query = await client.get("/graphql", params={"query": "{ __typename }"}, headers=html)
        assert query.status_code == 401


async def test_processes_making_a_service_secret_at_once_agree_on_it(pool) -> None:
    """The secret is made by whichever process comes first; one that raced it (its insert
    waited for the other's commit) reads the winner's instead of nothing (CI saw a second
    server fail to start with None)."""
    import asyncio

    from db.secrets import service_secret

    name = "race-test"
    await pool.execute("DELETE FROM service_secrets WHERE name = $1", name)
    async with pool.acquire() as first:
        transaction = first.transaction()
        await transaction.start()
        await first.execute(
            "INSERT INTO service_secrets (name, secret) VALUES ($1, $2)", name, b"w" * 32
        )
        racing = asyncio.create_task(service_secret(pool, name))
        await asyncio.sleep(0.3)  # it now waits on the uncommitted row
        assert not racing.done()
        await transaction.commit()
    assert await racing == b"w" * 32
    await pool.execute("DELETE FROM service_secrets WHERE name = $1", name)
