"""The one reader of the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from db.pool import WORK_MEM_KB


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _work_mem_kb() -> int:
    value = _int("NEWSGRAPH_WORK_MEM_KB", WORK_MEM_KB)
    if not 64 <= value <= 2_097_151:  # PostgreSQL's own bounds of work_mem, in kB
        raise SystemExit(f"NEWSGRAPH_WORK_MEM_KB must be between 64 and 2097151, got {value}")
    return value


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SystemExit(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _flag(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SystemExit(f"{name} must be on or off, got {raw!r}")


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset)."""
    raw = (os.environ.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise SystemExit(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\*$")


def _listed(name: str) -> tuple[str, ...]:
    """A comma-separated list, without blanks."""
    return tuple(item.strip() for item in (os.environ.get(name) or "").split(",") if item.strip())


def _postgres_url(name: str) -> str | None:
    """A PostgreSQL URL (postgresql:// or postgres://), or None when unset."""
    raw = (os.environ.get(name) or "").strip()
    if raw and not raw.startswith(("postgresql://", "postgres://")):
        scheme = raw.split("://", 1)[0] if "://" in raw else raw[:20]
        raise SystemExit(
            f"{name} must be a PostgreSQL URL, postgresql://user:password@host:port/database; "
            f"got {scheme!r}{'://…' if '://' in raw else ''} (Newsgraph runs on PostgreSQL only)"
        )
    return raw or None


def _address(name: str) -> str | None:
    """An http(s) base address (scheme, host, optional port and path), or None when unset."""
    raw = (os.environ.get(name) or "").strip().rstrip("/")
    if raw and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^?#\s]*)?", raw):
        raise SystemExit(
            f"{name} must be an http(s) address such as https://api.example.com, got {raw!r}"
        )
    return raw or None


def _origins(name: str) -> tuple[str, ...]:
    """Comma-separated browser origins (`https://app.example.com`, or `*` for any)."""
    found = tuple(origin.rstrip("/") for origin in _listed(name))
    wrong = [o for o in found if not _ORIGIN.match(o)]
    if wrong:
        raise SystemExit(
            f"{name} must list origins such as https://app.example.com (scheme, host and "
            f"port, no path), or *; got {', '.join(map(repr, wrong))}"
        )
    return found


@dataclass(frozen=True)
class Access:
    anonymous: bool = True
    """Whether callers without a key may read (PUBLIC visibility, read-only)."""
    anonymous_rate_per_minute: int = 60
    """Requests a minute per client address for anonymous callers."""
    key_rate_per_minute: int = 600
    """The rate a new key gets unless it is created with another."""
    redis_url: str | None = None
    """Keep rate-limit buckets in Redis instead of PostgreSQL."""


@dataclass(frozen=True)
class Webhooks:
    worker: bool = True
    """Whether this process delivers webhooks (every process may: they share the outbox)."""
    poll_seconds: float = 1.0
    """How often an idle worker looks for due deliveries."""
    timeout_seconds: float = 10.0
    """How long a receiver has to answer one delivery."""
    retry_base_seconds: float = 30.0
    """The first retry's delay; each later one doubles it (up to six hours)."""
    max_attempts: int = 12
    """Attempts before a delivery is marked FAILED (about a day and a half at the defaults)."""
    allow_private: bool = False
    """Allow endpoints on loopback and private networks (development and tests only)."""


@dataclass(frozen=True)
class Images:
    widths: tuple[int, ...] = (320, 640, 960, 1280, 1920)
    """The widths renditions are made at (api.images); no other width is ever made."""
    max_bytes: int = 20 * 1024 * 1024
    """The largest original accepted, fetched or uploaded."""
    max_pixels: int = 50_000_000
    """The most pixels an original may have (decompression bombs are refused)."""
    fetch_timeout_seconds: float = 10.0
    """How long fetching an original may take."""
    allow_private: bool = False
    """Fetch originals from loopback and private networks (development and tests only)."""
    directory: Path | None = None
    """Where originals and renditions are kept (default: NEWSGRAPH_DATA_DIR/images)."""


def _widths(name: str) -> tuple[int, ...]:
    listed = _listed(name)
    if not listed:
        return Images.widths
    try:
        widths = tuple(sorted({int(w) for w in listed}))
    except ValueError:
        widths = ()
    if not widths or not all(16 <= w <= 8192 for w in widths) or len(widths) > 20:
        raise SystemExit(f"{name} must list 1 to 20 widths from 16 to 8192, got {listed!r}")
    return widths


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 10
    max_tokens: int = 2_000
    max_aliases: int = 15
    max_nodes: int = 10_000
    """The most objects one operation may return (schema.limits.node_count)."""
    max_body_bytes: int = 64 * 1024
    max_subscriptions_per_key: int = 100
    """Live subscriptions one key may hold on one process."""
    max_subscriptions_per_connection: int = 20
    max_persisted_queries: int = 10_000
    """Documents callers may keep through APQ, in all; past it the oldest give way."""
    max_persisted_bytes: int = 16 * 1024 * 1024
    """Bytes of documents callers may keep through APQ, in all (oldest give way)."""
    persisted_queries_per_key: int = 1_000
    """Documents one key may keep through APQ (anonymous callers share one quota)."""
    trusted_documents: bool = False
    """Only registered documents run for callers (`newsgraph documents add`); editors and
    admins may still send any. Off: the open mode, where APQ stores what callers send."""
    anonymous_introspection: bool = True
    """Whether callers without a key may ask for `__schema` and `__type`."""
    request_timeout_seconds: float = 10.0
    """How long a request may take to arrive whole, from its first byte (api.server)."""
    max_connections: int = 10_000
    """HTTP and WebSocket connections one process holds at most (api.server)."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    """Browser origins whose pages may call the API (api.cors); `*` for any; none by default."""
    transaction_pooler: bool = False
    """DATABASE_URL (and the replicas') is a pooler in transaction mode, e.g. PgBouncer."""
    replica_urls: tuple[str, ...] = ()
    """Streaming replicas of database_url that may answer reads (db.replicas)."""
    data_dir: Path = Path(".newsgraph")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "https://newsgraph.example"
    api_url: str | None = None
    """This service's own address as partners and crawlers reach it (api.addresses); unset:
    the request's host."""
    statement_timeout_ms: int = 5_000
    work_mem_kb: int = WORK_MEM_KB
    """work_mem of the API's database sessions."""
    pool_min_size: int = 2
    pool_max_size: int = 10
    publisher_name: str = "Newsgraph"
    """Who publishes the content, as JSON-LD, feeds and news sitemaps name it."""
    language: str = "en"
    """BCP 47 language of the content (feeds, ninjs, JSON-LD, news sitemaps)."""
    feed_max_age: int = 60
    """Seconds a shared cache may keep a public feed, REST or GraphQL GET response."""
    search_config: str = "english"
    """PostgreSQL text-search configuration for search documents and queries (stemming,
    stop words); changing it rebuilds every document at the next start."""
    listen_url: str | None = None
    """Where the purge notices are LISTENed for (default: database_url). LISTEN needs a
    session of its own: behind a transaction pooler, point this at PostgreSQL itself."""
    response_cache_bytes: int = 64 * 1024 * 1024
    """Bytes of answers each process keeps (api.response_cache); 0 keeps none."""
    response_cache_seconds: float = 60.0
    """The longest an answer is kept, for what changes with the clock alone."""
    live_sharing: bool = True
    """Render each live event once per distinct subscription operation (schema.live);
    false renders it for every subscriber (the general path, for comparison)."""
    log_format: str = "text"
    """text, or json: one JSON object a line (api.observability)."""
    tracing: str = "off"
    """off, or otlp: OpenTelemetry spans exported over OTLP (api.tracing; the otel extra)."""
    access_log: bool = True
    """One log line per request (api.observability.RequestLog)."""
    execution: str = "auto"
    """auto: queries run compiled where they can (schema.planner); standard: every operation
    runs through Strawberry (for debugging and comparison)."""
    limits: QueryLimits = field(default_factory=QueryLimits)
    access: Access = field(default_factory=Access)
    webhooks: Webhooks = field(default_factory=Webhooks)
    images: Images = field(default_factory=Images)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=_postgres_url("DATABASE_URL"),
            cors_origins=_origins("NEWSGRAPH_CORS_ORIGINS"),
            transaction_pooler=_flag("NEWSGRAPH_TRANSACTION_POOLER", False),
            replica_urls=_listed("DATABASE_REPLICA_URLS"),
            data_dir=Path(env.get("NEWSGRAPH_DATA_DIR") or ".newsgraph"),
            host=env.get("NEWSGRAPH_HOST") or "127.0.0.1",
            port=_int("NEWSGRAPH_PORT", 8000),
            public_url=(env.get("NEWSGRAPH_PUBLIC_URL") or cls.public_url).rstrip("/"),
            api_url=_address("NEWSGRAPH_API_URL"),
            statement_timeout_ms=_int("NEWSGRAPH_STATEMENT_TIMEOUT_MS", 5_000),
            work_mem_kb=_work_mem_kb(),
            pool_min_size=_int("NEWSGRAPH_POOL_MIN", 2),
            pool_max_size=_int("NEWSGRAPH_POOL_MAX", 10),
            search_config=env.get("NEWSGRAPH_SEARCH_CONFIG") or "english",
            publisher_name=env.get("NEWSGRAPH_PUBLISHER_NAME") or "Newsgraph",
            language=env.get("NEWSGRAPH_LANGUAGE") or "en",
            feed_max_age=_int("NEWSGRAPH_CACHE_MAX_AGE", 60),
            listen_url=_postgres_url("NEWSGRAPH_LISTEN_URL"),
            log_format=_choice("NEWSGRAPH_LOG_FORMAT", ("text", "json")),
            tracing=_choice("NEWSGRAPH_TRACING", ("off", "otlp")),
            access_log=_flag("NEWSGRAPH_ACCESS_LOG", True),
            response_cache_bytes=_int("NEWSGRAPH_RESPONSE_CACHE_BYTES", 64 * 1024 * 1024),
            response_cache_seconds=_seconds("NEWSGRAPH_RESPONSE_CACHE_SECONDS", 60.0),
            live_sharing=_flag("NEWSGRAPH_LIVE_SHARING", True),
            execution=_choice("NEWSGRAPH_EXECUTION", ("auto", "standard")),
            limits=QueryLimits(
                max_depth=_int("NEWSGRAPH_MAX_DEPTH", 10),
                max_tokens=_int("NEWSGRAPH_MAX_TOKENS", 2_000),
                max_aliases=_int("NEWSGRAPH_MAX_ALIASES", 15),
                max_nodes=_int("NEWSGRAPH_MAX_NODES", 10_000),
                max_body_bytes=_int("NEWSGRAPH_MAX_BODY_BYTES", 64 * 1024),
                max_subscriptions_per_key=_int("NEWSGRAPH_MAX_SUBSCRIPTIONS_PER_KEY", 100),
                max_subscriptions_per_connection=_int(
                    "NEWSGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20
                ),
                max_persisted_queries=_int("NEWSGRAPH_MAX_PERSISTED_QUERIES", 10_000),
                max_persisted_bytes=_int("NEWSGRAPH_MAX_PERSISTED_BYTES", 16 * 1024 * 1024),
                persisted_queries_per_key=_int("NEWSGRAPH_PERSISTED_QUERIES_PER_KEY", 1_000),
                trusted_documents=_choice("NEWSGRAPH_DOCUMENTS", ("open", "trusted")) == "trusted",
                anonymous_introspection=_flag("NEWSGRAPH_ANONYMOUS_INTROSPECTION", True),
                request_timeout_seconds=_seconds("NEWSGRAPH_REQUEST_TIMEOUT_SECONDS", 10.0),
                max_connections=_int("NEWSGRAPH_MAX_CONNECTIONS", 10_000),
            ),
            access=Access(
                anonymous=_flag("NEWSGRAPH_ANONYMOUS", True),
                anonymous_rate_per_minute=_int("NEWSGRAPH_ANONYMOUS_RATE_PER_MINUTE", 60),
                key_rate_per_minute=_int("NEWSGRAPH_KEY_RATE_PER_MINUTE", 600),
                redis_url=env.get("REDIS_URL") or None,
            ),
            webhooks=Webhooks(
                worker=_flag("NEWSGRAPH_WEBHOOK_WORKER", True),
                timeout_seconds=_seconds("NEWSGRAPH_WEBHOOK_TIMEOUT_SECONDS", 10.0),
                retry_base_seconds=_seconds("NEWSGRAPH_WEBHOOK_RETRY_BASE_SECONDS", 30.0),
                max_attempts=_int("NEWSGRAPH_WEBHOOK_MAX_ATTEMPTS", 12),
                allow_private=_flag("NEWSGRAPH_WEBHOOK_ALLOW_PRIVATE", False),
            ),
            images=Images(
                widths=_widths("NEWSGRAPH_IMAGE_WIDTHS"),
                max_bytes=_int("NEWSGRAPH_IMAGE_MAX_BYTES", 20 * 1024 * 1024),
                max_pixels=_int("NEWSGRAPH_IMAGE_MAX_PIXELS", 50_000_000),
                fetch_timeout_seconds=_seconds("NEWSGRAPH_IMAGE_FETCH_TIMEOUT_SECONDS", 10.0),
                allow_private=_flag("NEWSGRAPH_IMAGE_ALLOW_PRIVATE", False),
                directory=Path(env["NEWSGRAPH_IMAGE_DIR"])
                if env.get("NEWSGRAPH_IMAGE_DIR")
                else None,
            ),
        )

    @staticmethod
    def test_database_url() -> str | None:
        return os.environ.get("TEST_DATABASE_URL") or None
