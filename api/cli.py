"""`newsgraph`: serve the API and manage its database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from api import migrations, tracing
from api.database import resolve_url
from api.logs import configure_logging
from api.settings import Settings
from content.access import Role
from db.pool import Pool, create_pool, held_lock, schema_revision

log = logging.getLogger("newsgraph")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    # SIGTERM (docker stop, systemd, a supervisor) ends the command as Ctrl-C does, through
    # exit handlers: the embedded PostgreSQL stops with its last user. (uvicorn restores this
    # handler after its graceful shutdown and raises the signal again.)
    signal.signal(signal.SIGTERM, _terminated)
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    try:
        args.run(args, settings)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if args.debug:
            raise
        raise SystemExit(_explained(error, settings)) from None


def _terminated(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


def _explained(error: Exception, settings: Settings) -> str:
    """One or two lines for a failure, naming the setting to fix where one is to blame."""
    from db.pool import connection_problem

    found: BaseException | None = error
    while found is not None and settings.database_url:
        problem = connection_problem(found, settings.database_url)
        if problem:
            return (
                f"newsgraph: {problem}\nFix DATABASE_URL, or unset it to use the embedded "
                "PostgreSQL (--debug shows the traceback)."
            )
        found = getattr(found, "orig", None) or found.__cause__  # SQLAlchemy wraps asyncpg's
    return (
        f"newsgraph: {type(error).__name__}: {error}\n"
        "This is not a mistake the command recognises: run it again with --debug for the "
        "traceback, and please report it."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsgraph",
        description="Bias-aware news content API. Uses DATABASE_URL when set, else an "
        "embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default ./.newsgraph).",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of a failure (else one line)"
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, load demo content if empty, and serve")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument(
        "--no-access-log", action="store_true", help="log no line per request (benchmarks)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes serving the port (default: the number of cores)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply or roll back database migrations")
    migrate.add_argument("direction", nargs="?", choices=["up", "down"], default="up")
    migrate.add_argument(
        "revision", nargs="?", help="target revision (default: head for up, one step for down)"
    )
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="load the demo content (idempotent)")
    demo.set_defaults(run=_demo)

    load = commands.add_parser(
        "import",
        help="create or update content from NDJSON files (idempotent; see the README)",
        description="Each line is one document: an outlet, topic, source, story or deep "
        "dive, with references by slug or URL. Exits 1 if any line was rejected.",
    )
    load.add_argument("files", nargs="+", metavar="FILE", help="NDJSON files, - for stdin")
    load.add_argument("--strict", action="store_true", help="stop at the first bad line")
    load.add_argument(
        "--resume",
        action="store_true",
        help="skip the lines an earlier, interrupted import of the same file committed",
    )
    load.add_argument(
        "--batch-size", type=int, default=500, help="lines per transaction (default 500)"
    )
    load.set_defaults(run=_import)

    dump = commands.add_parser("export", help="write all content as NDJSON (import's format)")
    dump.add_argument("-o", "--output", help="file to write (default: standard output)")
    dump.set_defaults(run=_export)

    generate = commands.add_parser("generate", help="insert deterministic synthetic content")
    generate.add_argument("--stories", type=int, required=True, help="how many stories")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.set_defaults(run=_generate)

    embed = commands.add_parser(
        "embed",
        help="embed stories for semantic recommendations (needs the embeddings extra and "
        "pgvector; only changed stories)",
    )
    embed.add_argument("--batch-size", type=int, default=256, help="stories per batch")
    embed.set_defaults(run=_embed)

    verify = commands.add_parser(
        "verify",
        help="recompute every stored figure, listing and list size from the raw rows and "
        "report each that differs (exit 1 if any)",
    )
    verify.add_argument(
        "--show", type=int, default=50, help="mismatches to print in full (default 50)"
    )
    verify.set_defaults(run=_verify)

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    key_commands = keys.add_subparsers(title="key commands", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. web")
    create.add_argument(
        "--role",
        required=True,
        type=str.upper,
        choices=[role.value for role in Role],
        help="PUBLIC, PARTNER, EDITOR or ADMIN (any case)",
    )
    create.add_argument(
        "--rate", type=int, help="requests a minute (default NEWSGRAPH_KEY_RATE_PER_MINUTE)"
    )
    create.add_argument(
        "--expires", type=_aware_time, help="expiry, ISO-8601 with offset, e.g. 2027-01-01T00:00Z"
    )
    create.set_defaults(run=_keys_create)
    listing = key_commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.set_defaults(run=_keys_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key", help="the key's id or its 8-character prefix")
    revoke.set_defaults(run=_keys_revoke)

    documents = commands.add_parser(
        "documents",
        help="register the trusted documents that run when NEWSGRAPH_DOCUMENTS=trusted",
    )
    document_commands = documents.add_subparsers(
        title="document commands", required=True, metavar="ACTION"
    )
    add = document_commands.add_parser(
        "add",
        help="register every document of client manifests (.graphql files, Relay's or "
        "graphql-codegen's {hash: document} JSON, Apollo's persisted query manifest); "
        "all are checked against the schema first, and none is added if one fails",
    )
    add.add_argument("files", nargs="+", metavar="FILE", type=Path)
    add.set_defaults(run=_documents_add)
    listed = document_commands.add_parser("list", help="list the registered documents")
    listed.set_defaults(run=_documents_list)
    remove = document_commands.add_parser("remove", help="unregister documents by hash")
    remove.add_argument("hashes", nargs="+", metavar="SHA256")
    remove.set_defaults(run=_documents_remove)

    status = commands.add_parser(
        "status", help="where the database is, its revision, and what is stored (changes nothing)"
    )
    status.set_defaults(run=_status)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.set_defaults(run=_export_schema)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from api import server
    from api.app import create_app, tune_garbage_collection

    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if settings.transaction_pooler and not (settings.listen_url or settings.access.redis_url):
        raise SystemExit(
            "NEWSGRAPH_TRANSACTION_POOLER is on, and LISTEN does not pass a transaction pooler: "
            "set NEWSGRAPH_LISTEN_URL to PostgreSQL itself, or REDIS_URL, for purge notices"
        )
    if args.no_access_log:
        settings = replace(settings, access_log=False)
        os.environ["NEWSGRAPH_ACCESS_LOG"] = "off"  # for the workers, which read it there
    host, port = args.host or settings.host, args.port or settings.port
    _check_free(host, port)  # before the database work, and before "serving" is said
    tracing.check(settings.tracing)
    settings = _ready(settings, then=partial(_load_demo_if_empty, settings=settings))
    log.info(
        "serving GraphQL on http://%s:%s/graphql (%d process%s)",
        *(host, port, args.workers, "" if args.workers == 1 else "es"),
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": None,  # uvicorn logs through ours (api.observability)
        "access_log": False,  # RequestLog writes the line per request
        "http": server.configure(settings),  # each worker configures its own copy again
    }
    if args.workers == 1:
        tracing.configure(settings.tracing)
        tune_garbage_collection()
        uvicorn.run(create_app(settings), **options)
        return
    # Each worker builds its own app from the environment: the database this process
    # resolved (and, when embedded, keeps running) is handed to them there.
    os.environ["DATABASE_URL"] = settings.database_url or ""
    made = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # api.metrics: shared across workers
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="newsgraph-")
    try:
        uvicorn.run("api.app:app_from_env", factory=True, workers=args.workers, **options)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SystemExit(
                f"newsgraph serve: cannot listen on {host}:{port} ({error.strerror}): stop what "
                "holds it, or choose another with --port or NEWSGRAPH_PORT"
            ) from None


def _migrate(args: argparse.Namespace, settings: Settings) -> None:
    from alembic.util import CommandError

    located = replace(settings, database_url=resolve_url(settings.database_url, settings.data_dir))
    assert located.database_url
    before = asyncio.run(_with_pool(located, schema_revision))
    try:
        if args.direction == "up":
            migrations.upgrade(located.database_url, args.revision or "head")
        else:
            migrations.downgrade(located.database_url, args.revision or "-1")
    except CommandError as error:
        raise SystemExit(
            f"newsgraph migrate: {error}. Revisions go from 0001 to {migrations.head_revision()} "
            "(`base` is before the first); the database is at "
            f"{before or 'base'}."
        ) from None
    after = asyncio.run(_with_pool(located, schema_revision))
    moved = "stays" if after == before else f"went from {before or 'base'} to"
    latest = migrations.head_revision()
    print(f"database {moved} {after or 'base'} (this code's latest is {latest})")


def _status(args: argparse.Namespace, settings: Settings) -> None:
    from api.database import embedded_pid
    from db.status import overview

    if settings.database_url:
        print(f"database: {_without_password(settings.database_url)} (DATABASE_URL)")
    else:
        folder = settings.data_dir / "postgres"
        running = embedded_pid(settings.data_dir)
        state = (
            f"running (pid {running}), shared with the processes that use it"
            if running
            else "not running: started for this command, and stopped when it ends"
        )
        print(f"database: embedded PostgreSQL in {folder}, {state}")
    located = replace(settings, database_url=resolve_url(settings.database_url, settings.data_dir))
    revision = asyncio.run(_with_pool(located, schema_revision))
    latest = migrations.head_revision()
    if revision is None:
        print("revision: none (an empty database: `newsgraph migrate` or `newsgraph serve`)")
        return
    behind = "" if revision == latest else f": run `newsgraph migrate` to reach {latest}"
    print(f"revision: {revision} (this code's latest is {latest}){behind}")
    found = asyncio.run(_with_pool(located, overview))
    print(f"server: PostgreSQL {found.server_version}")

    def by_status(counts: dict[str, int]) -> str:
        order = ("PUBLISHED", "SCHEDULED", "DRAFT", "ARCHIVED")
        return ", ".join(f"{counts.get(s, 0)} {s.lower()}" for s in order)

    print(f"stories: {sum(found.stories.values())} ({by_status(found.stories)})")
    print(f"deep dives: {sum(found.deep_dives.values())} ({by_status(found.deep_dives)})")
    print(f"sources: {found.sources}, outlets: {found.outlets}, topics: {found.topics}")
    print("keys: " + ", ".join(f"{n} {state}" for state, n in found.keys.items()))
    print(f"webhooks: {found.webhooks}, deliveries waiting: {found.outbox}")


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _demo(args: argparse.Namespace, settings: Settings) -> None:
    report = asyncio.run(_with_pool(_ready(settings), partial(_load_demo, settings=settings)))
    print(f"demo content: {report.summary()}")


def _import(args: argparse.Namespace, settings: Settings) -> None:
    from api import transfer

    if args.batch_size < 1:
        raise SystemExit("--batch-size must be at least 1")
    settings = _ready(settings)
    rejected = 0
    for name in args.files:
        job = transfer.ImportJob(name, settings.data_dir, strict=args.strict, resume=args.resume)
        try:
            asyncio.run(_with_pool(settings, partial(job.run, batch_size=args.batch_size)))
        except KeyboardInterrupt:
            print(f"newsgraph: {job.interrupted()}", file=sys.stderr)
            sys.exit(130)
        finally:
            for note in job.notes:
                print(f"newsgraph: {note}", file=sys.stderr)
        report = job.report
        for rejection in report.rejections:
            print(f"{name}:{rejection.line}: {rejection.reason}", file=sys.stderr)
        print(f"{name}: {job.summary()}")
        rejected += len(report.rejections)
        if rejected and args.strict:
            break
    if rejected:
        sys.exit(1)


def _export(args: argparse.Namespace, settings: Settings) -> None:
    from api import transfer

    settings = _ready(settings)
    asyncio.run(_with_pool(settings, lambda pool: transfer.export_to(pool, args.output)))


def _generate(args: argparse.Namespace, settings: Settings) -> None:
    if args.stories < 1:
        raise SystemExit("--stories must be at least 1")
    settings = _ready(settings)
    from api.transfer import generate

    def work(pool: Pool) -> Awaitable[str]:
        return generate(pool, args.stories, seed=args.seed)

    try:
        print(asyncio.run(_with_pool(settings, work)))
    except ValueError as error:
        raise SystemExit(str(error)) from None


def _embed(args: argparse.Namespace, settings: Settings) -> None:
    from api.embedder import EmbeddingsUnavailable, embed

    if args.batch_size < 1:
        raise SystemExit("--batch-size must be at least 1")
    settings = _ready(settings)
    try:
        print(asyncio.run(_with_pool(settings, partial(embed, batch_size=args.batch_size))))
    except EmbeddingsUnavailable as error:
        raise SystemExit(f"newsgraph embed: {error}") from None


def _verify(args: argparse.Namespace, settings: Settings) -> None:
    from db import figures

    async def check(pool: Pool) -> tuple[int, int]:
        found = 0
        started = time.monotonic()
        async for mismatch in figures.verify(pool):
            found += 1
            if found <= args.show:
                print(
                    f"{mismatch.kind} {mismatch.item_id}: {mismatch.figure} is "
                    f"{mismatch.stored!r}, expected {mismatch.expected!r}"
                )
        log.info("checked in %.1f s", time.monotonic() - started)
        return found, await figures.queued(pool)

    mismatches, queued = asyncio.run(_with_pool(_ready(settings), check))
    if queued:
        print(f"{queued} stories are queued for a recompute (an outlet was re-rated)")
    print(f"{mismatches} mismatches")
    if mismatches:
        sys.exit(1)


def _aware_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. Z or +02:00")
    return value


def _keys_create(args: argparse.Namespace, settings: Settings) -> None:
    from db import keys

    if args.rate is not None and args.rate < 1:
        raise SystemExit("--rate must be at least 1")
    if not 1 <= len(args.name) <= 100:
        raise SystemExit("--name must be 1 to 100 characters")
    if args.expires is not None and args.expires <= datetime.now(UTC):
        raise SystemExit(f"--expires {args.expires.isoformat()} has passed: give a later time")
    rate = args.rate or settings.access.key_rate_per_minute
    record, key = asyncio.run(
        _with_pool(
            _ready(settings),
            lambda pool: keys.create_key(
                pool, name=args.name, role=args.role, rate_per_minute=rate, expires_at=args.expires
            ),
        )
    )
    print(key)
    print(
        f"created key {record.id} ({record.prefix}) for {record.name}: {record.role}, "
        f"{record.rate_per_minute}/min; store it now, it cannot be shown again",
        file=sys.stderr,
    )


def _keys_list(args: argparse.Namespace, settings: Settings) -> None:
    from db import keys

    found = asyncio.run(_with_pool(_ready(settings), keys.list_keys))
    now = datetime.now(UTC)
    print("id\tprefix\trole\trate/min\tname\tcreated\texpires\trevoked\tlast used\tstatus")
    for k in found:
        cells = [k.id, k.prefix, k.role, k.rate_per_minute, k.name, k.created_at, k.expires_at]
        status = "revoked" if k.revoked_at else "active"
        if not k.revoked_at and k.expires_at is not None and k.expires_at <= now:
            status = "expired"
        cells += [k.revoked_at, k.last_used_at, status]
        print("\t".join("-" if c is None else str(c) for c in cells))


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> None:
    from db import keys

    async def revoke(pool: Pool) -> keys.ApiKey | None:
        found = await keys.key_by_reference(pool, args.key)
        return await keys.revoke_key(pool, found.id) if found else None

    revoked = asyncio.run(_with_pool(_ready(settings), revoke))
    if revoked is None:
        raise SystemExit(f"no key with id or prefix {args.key!r}")
    print(f"revoked key {revoked.id} ({revoked.prefix}) at {revoked.revoked_at}")


def _documents_add(args: argparse.Namespace, settings: Settings) -> None:
    from api.documents import ManifestError, read_manifest
    from db.persisted_queries import register
    from schema import build_schema

    schema = build_schema()._schema
    try:
        found = [d for path in args.files for d in read_manifest(path, schema)]
    except ManifestError as error:
        raise SystemExit(f"newsgraph documents add: {error}; nothing was registered") from None
    rows = [(d.sha256, d.body, d.name) for d in found]
    added = asyncio.run(_with_pool(_ready(settings), lambda pool: register(pool, rows)))
    print(f"{len(found)} documents registered ({added} new)")


def _documents_list(args: argparse.Namespace, settings: Settings) -> None:
    from db.persisted_queries import registered, stored_by_callers

    async def both(pool: Pool) -> Any:
        return await registered(pool), await stored_by_callers(pool)

    found, (stored, stored_bytes) = asyncio.run(_with_pool(_ready(settings), both))
    print("sha256\tbytes\tregistered\tname")
    for d in found:
        print(f"{d.sha256}\t{d.bytes}\t{d.created_at:%Y-%m-%dT%H:%M:%SZ}\t{d.name or '-'}")
    print(
        f"{len(found)} registered; callers keep {stored} more through APQ ({stored_bytes} bytes)",
        file=sys.stderr,
    )


def _documents_remove(args: argparse.Namespace, settings: Settings) -> None:
    from db.persisted_queries import unregister

    hashes = [h.removeprefix("sha256:").lower() for h in args.hashes]
    removed = asyncio.run(_with_pool(_ready(settings), lambda pool: unregister(pool, hashes)))
    print(f"{removed} of {len(hashes)} documents unregistered")
    if removed < len(hashes):
        sys.exit(1)


def _export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from schema import build_schema

    print(build_schema().as_str())


def _ready(settings: Settings, then: Callable[[Pool], Awaitable[Any]] | None = None) -> Settings:
    """Settings pointing at a database that exists and is migrated to head, with `then` done
    too. Processes starting together on one database take turns here (one migrates and loads
    the demo; the others wait and find it done)."""
    url = resolve_url(settings.database_url, settings.data_dir)
    ready = replace(settings, database_url=url)
    asyncio.run(_prepare(ready, then))
    return ready


async def _prepare(settings: Settings, then: Callable[[Pool], Awaitable[Any]] | None) -> None:
    assert settings.database_url
    # Behind a transaction pooler a session lock may land on any server connection: it is
    # taken on PostgreSQL itself (NEWSGRAPH_LISTEN_URL) when that is known.
    lock_url = settings.listen_url if settings.transaction_pooler else settings.database_url
    async with held_lock(lock_url, "newsgraph.startup") if lock_url else contextlib.nullcontext():
        pool = await _open_pool(settings)
        try:
            if await schema_revision(pool) != migrations.head_revision():
                await pool.close()  # its connections predate what the migration creates
                # Alembic runs its own event loop: a thread of its own keeps it off this one.
                await asyncio.to_thread(migrations.upgrade, settings.database_url)
                pool = await _open_pool(settings)
            await _ensure_derived(pool, settings.search_config)
            if then is not None:
                await then(pool)
        finally:
            await pool.close()


async def _ensure_derived(pool: Pool, config: str) -> None:
    """Search documents and stored figures made by the definitions of this code."""
    from db import figures, search

    try:
        if await search.ensure_index(pool, config):
            log.info("search documents rebuilt with configuration %s", config)
    except search.UnknownConfig as error:
        raise SystemExit(f"NEWSGRAPH_SEARCH_CONFIG: {error}") from None
    if await figures.ensure_current(pool):
        log.info("stored figures computed")


async def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[Any]]) -> Any:
    pool = await _open_pool(settings)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def _open_pool(settings: Settings) -> Pool:
    assert settings.database_url
    from db.purge import redis_notices

    publisher = redis_notices(settings.access.redis_url)  # a revoked key reaches every process
    return await create_pool(
        settings.database_url,
        statement_timeout_ms=0,
        min_size=1,
        publisher=publisher,
        transaction_pooler=settings.transaction_pooler,
    )


async def _load_demo(pool: Pool, settings: Settings) -> Any:
    """The demo content, its photographs stored where this service keeps images."""
    from api.images import DiskStore
    from api.transfer import load_demo

    return await load_demo(
        pool, DiskStore(settings.images.directory or settings.data_dir / "images")
    )


async def _load_demo_if_empty(pool: Pool, settings: Settings) -> None:
    from db.editorial import has_stories

    if not await has_stories(pool):
        log.info("empty database: loading the demo content")
        await _load_demo(pool, settings)


if __name__ == "__main__":
    main()
