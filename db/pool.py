from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import asyncpg
import orjson
from asyncpg import Connection
from asyncpg.pool import Pool

log = logging.getLogger("newsgraph.db")

T = TypeVar("T")
ConnectionSetup = Callable[[Connection], Awaitable[None]]
StatementTimeout = asyncpg.QueryCanceledError
"""What a statement raises when PostgreSQL cancels it (statement_timeout)."""
DatabaseUnavailable = (
    OSError,  # refused, reset, unreachable, and a pool that had no connection in time
    asyncpg.PostgresConnectionError,  # starting up, shutting down, too many connections
    asyncpg.ConnectionDoesNotExistError,  # the connection went away mid-statement
)
"""What a statement raises when the database cannot be reached (try again shortly)."""
__all__ = [
    "Connection",
    "ConnectionSetup",
    "DatabaseUnavailable",
    "Pool",
    "Publisher",
    "StatementTimeout",
]

# Statements asyncpg sends on its own: type introspection on a connection's first use of a
# type, the JIT toggle around it, and the reset query a pool runs when a connection returns.
_DRIVER_HOUSEKEEPING = (
    "WITH RECURSIVE typeinfo_tree",
    "SELECT current_setting('jit')",
    "SELECT set_config('jit'",
    "SELECT pg_advisory_unlock_all()",
)


def is_driver_housekeeping(query: str) -> bool:
    """True for statements the driver sent by itself rather than for the application."""
    return " ".join(query.split()).startswith(_DRIVER_HOUSEKEEPING)


class StatementCounter:
    """Counts the statements the application sends for the work measured with `spent_by`;
    pass `attach` as a pool's setup hook. Statements of the app's background workers (the
    figures drain, the embeddings switch, webhook deliveries) run outside that work's context
    and are not counted (the figures drain's, every 30 s, could land in a measured page: the
    likely cause of a StoryPage that cost 8 statements instead of 7 in two CI runs)."""

    def __init__(self) -> None:
        self.count = 0
        self._measuring: ContextVar[bool] = ContextVar("newsgraph_counted", default=False)

    def counts(self, query: str) -> bool:
        """Whether a statement the measured work sent counts."""
        return not is_driver_housekeeping(query)

    def log(self, record: Any) -> None:
        # asyncpg hands the record over with call_soon: in the context of the task that ran it.
        if self._measuring.get() and self.counts(record.query):
            self.count += 1

    async def attach(self, conn: Connection) -> None:
        conn.add_query_logger(self.log)

    async def spent_by(self, work: Awaitable[T]) -> tuple[T, int]:
        """What `work` returns, and the statements it and the tasks it starts sent, once the
        driver has delivered their log records."""
        before = await self._settled()
        token = self._measuring.set(True)
        try:
            result = await work
        finally:
            self._measuring.reset(token)
        return result, await self._settled() - before

    async def _settled(self) -> int:
        """The count once asyncpg has delivered pending log records (it defers them): once
        it has not changed for 20 ms."""
        while True:
            seen = self.count
            for _ in range(20):
                await asyncio.sleep(0)
            await asyncio.sleep(0.02)
            if self.count == seen:
                return seen


SESSION_SETTINGS = {"jit": "off"}
"""Settings of every session the service opens (through PgBouncer, set them on the database
role instead). JIT compilation pays off for statements that run for seconds; the service's
run for milliseconds, and PostgreSQL compiles any whose estimated cost passes
jit_above_cost, which a search over a million stories does: 15-20 ms of compiling added to
a 110 ms count."""
WORK_MEM_KB = 16_384
"""work_mem of the service's sessions unless told otherwise (PostgreSQL's default is 4 MB).
A search's bitmap of a common word's matches outgrows 4 MB at a million stories and turns
lossy: every story on its pages is then tested again (a common word's count within a
category: 420 ms at 4 MB, 170 ms at 16 MB)."""


async def create_pool(
    url: str,
    *,
    statement_timeout_ms: int,
    min_size: int = 2,
    max_size: int = 10,
    setup: ConnectionSetup | None = None,
    publisher: Publisher | None = None,
    transaction_pooler: bool = False,
    work_mem_kb: int = WORK_MEM_KB,
) -> Pool:
    """A pool whose every statement is cancelled by PostgreSQL after statement_timeout_ms.

    setup runs each time a connection is acquired (asyncpg drops per-connection hooks such
    as query loggers on release). publisher, if any, is handed the purge notices a
    connection's writes announced (db.purge) when it comes back to the pool, which is after
    their transaction committed. transaction_pooler: the URL is a pooler such as PgBouncer in
    transaction mode, where a session's state does not last between transactions: no
    statement cache or prepared statements, and no statement_timeout at startup (set it on
    the database role instead: ALTER ROLE … SET statement_timeout, and SESSION_SETTINGS and
    work_mem). work_mem_kb: each session's work_mem.
    """

    async def init(conn: Connection) -> None:
        await _prepare(conn)
        if isinstance(conn, _Connection):
            conn.publisher, conn.pooled = publisher, transaction_pooler

    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=init,
        setup=setup,
        reset=_keep,
        connection_class=_Connection,
        statement_cache_size=0 if transaction_pooler else 100,
        server_settings=(
            {"application_name": "newsgraph"}
            if transaction_pooler  # PgBouncer refuses other startup parameters
            else {
                "statement_timeout": str(statement_timeout_ms),
                "application_name": "newsgraph",
                "work_mem": f"{work_mem_kb}kB",
                **SESSION_SETTINGS,
            }
        ),
    )
    assert pool is not None
    return pool


async def fetchval_planned(pool: Pool, sql: str, *values: Any) -> Any:
    """fetchval through a statement prepared for this call alone, so PostgreSQL plans it
    with these values (a cached statement may get a generic plan after five runs, which
    for search estimates every word alike). One more round trip than a cached statement."""
    return (await _planned(pool, sql, values))[0][0]


async def fetch_planned(pool: Pool, sql: str, *values: Any) -> list[Any]:
    """fetch, planned with these values (see fetchval_planned)."""
    return await _planned(pool, sql, values)


async def _planned(pool: Pool, sql: str, values: Sequence[Any]) -> list[Any]:
    async with pool.acquire() as conn:
        started = time.monotonic()
        try:
            if isinstance(conn, _Connection) and conn.pooled:
                # An unnamed statement, which PostgreSQL plans with its values too.
                pooled: list[Any] = await conn.fetch(sql, *values)
                return pooled
            statement = await conn.prepare(sql)
            rows: list[Any] = await statement.fetch(*values)
            return rows
        finally:  # asyncpg logs no prepared statement's run: count its time here
            _add(time.monotonic() - started)


async def _prepare(conn: Connection) -> None:
    """Each new connection: jsonb values arrive as Python values (stored figures such as a
    story's shares), and its statements' time counts toward the request's (timing())."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_encode, decoder=orjson.loads, format="text"
    )
    conn.add_query_logger(_note_time)


class Publisher(Protocol):
    """Sends purge notices to every process another way than NOTIFY (db.purge)."""

    async def publish(self, notices: list[str]) -> None: ...


def note_purge(conn: Connection, notice: str) -> None:
    """Keep a purge notice for the pool's publisher, sent when the connection is released."""
    if isinstance(conn, _Connection) and conn.publisher is not None:
        conn.purges.append(notice)


class _Connection(asyncpg.Connection):
    """Notes when a task gave up on one of its statements: asyncpg may have sent it in part
    (prepared, not yet executed), leaving the server waiting with the statement's locks.
    Holds the purge notices its writes announced until it is released (note_purge)."""

    interrupted = False
    publisher: Publisher | None = None
    pooled = False
    """Behind a transaction pooler (create_pool)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purges: list[str] = []

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._execute(*args, **kwargs)  # type: ignore[misc]
        except asyncio.CancelledError:
            self.interrupted = True
            raise


async def _keep(conn: Connection) -> None:
    """The pool's reset when a connection comes back: nothing to send. The service keeps no
    session state on a connection (advisory locks are transaction-scoped or released, no
    LISTEN, no session settings), and asyncpg itself rolls back an open transaction and
    drops listeners before it calls this; so the reset query would be one round trip per
    request for nothing. Only a connection whose statement was interrupted (a GraphQL error
    abandons the loads of its sibling fields) gets asyncpg's reset, which also ends what the
    server was still waiting for."""
    if getattr(conn, "interrupted", False):
        conn.interrupted = False  # type: ignore[attr-defined]
        await conn.execute(conn.get_reset_query())
    if isinstance(conn, _Connection) and conn.purges:
        notices, conn.purges = conn.purges, []
        if conn.publisher is not None:
            # After the commit (a rolled-back write's notice only drops entries for nothing).
            try:
                await conn.publisher.publish(notices)
            except Exception:  # the cache entries live out their time instead (db.purge)
                log.exception("could not publish %d purge notices", len(notices))


_spent: ContextVar[tuple[list[float], ...]] = ContextVar("newsgraph_db_time", default=())


@contextlib.contextmanager
def timing() -> Iterator[list[float]]:
    """Sum the database time of the statements run in the block (element 0, seconds) and
    count them (element 1); blocks nest (a request's and its operation's both count). The
    driver reports each statement just after it ends, so read after the next await."""
    spent = [0.0, 0.0]
    token = _spent.set((*_spent.get(), spent))
    try:
        yield spent
    finally:
        _spent.reset(token)


def _add(seconds: float) -> None:
    for spent in _spent.get():
        spent[0] += seconds
        spent[1] += 1


def _note_time(record: Any) -> None:
    if not is_driver_housekeeping(record.query):
        _add(record.elapsed)


def _encode(value: Any) -> str:
    return orjson.dumps(value).decode()


async def schema_revision(pool: Pool) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    exists = await pool.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return None
    revision: str | None = await pool.fetchval("SELECT version_num FROM alembic_version")
    return revision


async def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` on the server unless it exists; True if it was created."""
    conn = await asyncpg.connect(server_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = await conn.fetchval("SELECT quote_ident($1)", name)
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def held_lock(database_url: str, name: str) -> AsyncIterator[None]:
    """Hold PostgreSQL's session advisory lock `name` on a connection of its own, so that
    processes starting together on one database (workers, machines behind a load balancer)
    take turns at the work inside: the first migrates and loads, the others find it done."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", name)
        yield
    finally:
        await conn.close()  # ends the session, and so releases the lock


def connection_problem(error: BaseException, database_url: str) -> str | None:
    """What a failure to reach the database at `database_url` means, in a line an operator
    can act on; None for an error that is not about reaching it."""
    parts = urlsplit(database_url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    name = parts.path.lstrip("/") or "(the user's own)"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return f"database {name} does not exist on {where}: create it (createdb {name})"
    refused = asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    if isinstance(error, refused):
        return f"PostgreSQL on {where} refused the credentials: {error}"
    if isinstance(error, asyncpg.ClientConfigurationError):
        return f"not a PostgreSQL URL ({error})"
    if isinstance(error, ConnectionRefusedError):
        return f"nothing accepts connections on {where}: is PostgreSQL running there?"
    if isinstance(error, socket.gaierror):
        return f"the host {parts.hostname} is not known ({error.strerror})"
    if isinstance(error, TimeoutError | OSError | asyncpg.PostgresConnectionError):
        return f"cannot reach PostgreSQL on {where}: {error}"
    return None
