"""What `newsgraph status` reports: the server, and how much of each kind is stored."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Pool


@dataclass(frozen=True)
class Overview:
    server_version: str
    stories: dict[str, int]  # by status (DRAFT, SCHEDULED, PUBLISHED, ARCHIVED)
    deep_dives: dict[str, int]
    sources: int
    outlets: int
    topics: int
    keys: dict[str, int]  # active, expired, revoked
    webhooks: int
    outbox: int


async def overview(pool: Pool) -> Overview:
    """Exact counts, read in one statement (a sequential pass over each table: fine for an
    operator's command, not for a request)."""
    row = await pool.fetchrow(
        """
        SELECT current_setting('server_version') AS server_version,
               (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
                   (SELECT status, count(*) AS n FROM stories GROUP BY status) s) AS stories,
               (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
                   (SELECT status, count(*) AS n FROM deep_dives GROUP BY status) d) AS deep_dives,
               (SELECT count(*) FROM sources) AS sources,
               (SELECT count(*) FROM outlets) AS outlets,
               (SELECT count(*) FROM topics) AS topics,
               (SELECT jsonb_build_object(
                   'active', count(*) FILTER (WHERE revoked_at IS NULL
                       AND (expires_at IS NULL OR expires_at > now())),
                   'expired', count(*) FILTER (WHERE revoked_at IS NULL AND expires_at <= now()),
                   'revoked', count(*) FILTER (WHERE revoked_at IS NOT NULL))
                FROM api_keys) AS keys,
               (SELECT count(*) FROM webhooks) AS webhooks,
               (SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING') AS outbox
        """
    )
    assert row is not None
    return Overview(**dict(row))
