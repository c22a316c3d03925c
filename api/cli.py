"""`newsgraph`: serve the API and manage its database."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib.resources import files
from typing import Any

from api import migrations
from api.database import resolve_url
from api.settings import Settings
from db.pool import Pool, create_pool

log = logging.getLogger("newsgraph")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("pgserver", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        args.run(args, settings)
    except KeyboardInterrupt:
        sys.exit(130)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsgraph",
        description="Bias-aware news content API. Uses DATABASE_URL when set, else an "
        "embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default ./.newsgraph).",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, load demo content if empty, and serve")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply or roll back database migrations")
    migrate.add_argument("direction", nargs="?", choices=["up", "down"], default="up")
    migrate.add_argument(
        "revision", nargs="?", help="target revision (default: head for up, one step for down)"
    )
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="load the demo content (idempotent)")
    demo.set_defaults(run=_demo)

    generate = commands.add_parser("generate", help="insert deterministic synthetic content")
    generate.add_argument("--stories", type=int, required=True, help="how many stories")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.set_defaults(run=_generate)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.set_defaults(run=_export_schema)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    settings = _ready(settings)
    asyncio.run(_with_pool(settings, _load_demo_if_empty))
    host, port = args.host or settings.host, args.port or settings.port
    log.info("serving GraphQL on http://%s:%s/graphql", host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _migrate(args: argparse.Namespace, settings: Settings) -> None:
    url = resolve_url(settings.database_url, settings.data_dir)
    if args.direction == "up":
        migrations.upgrade(url, args.revision or "head")
    else:
        migrations.downgrade(url, args.revision or "-1")


def _demo(args: argparse.Namespace, settings: Settings) -> None:
    counts = asyncio.run(_with_pool(_ready(settings), _load_demo))
    print("demo content loaded: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def _generate(args: argparse.Namespace, settings: Settings) -> None:
    if args.stories < 1:
        raise SystemExit("--stories must be at least 1")
    settings = _ready(settings)
    summary = asyncio.run(_with_pool(settings, lambda pool: _generate_into(pool, args)))
    print(summary)


async def _generate_into(pool: Pool, args: argparse.Namespace) -> str:
    from dataclasses import asdict

    from tqdm import tqdm

    from content.synthetic import FirstIds, Generator, chunks
    from db import bulk

    if await bulk.slug_taken(pool, "outlets", f"s{args.seed}-outlet-0"):
        raise SystemExit(f"content for seed {args.seed} is already here; use another --seed")
    ids = await bulk.next_ids(pool)
    generator = Generator(
        args.seed,
        FirstIds(ids["outlets"], ids["topics"], ids["sources"], ids["stories"], ids["deep_dives"]),
    )
    await bulk.copy_tables(pool, {"outlets": generator.outlets(), "topics": generator.topics()})
    totals: dict[str, int] = {}
    with tqdm(total=args.stories, unit="story", disable=None) as progress:
        for start, count in chunks(args.stories, 5_000):
            batch = asdict(generator.stories(start, count))
            await bulk.copy_tables(pool, batch)
            for table, rows in batch.items():
                totals[table] = totals.get(table, 0) + len(rows)
            progress.update(count)
    await bulk.sync_sequences(pool)
    await bulk.vacuum_analyze(pool)
    return "generated: " + ", ".join(f"{n} {table}" for table, n in totals.items())


def _export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from schema import build_schema

    print(build_schema().as_str())


def _ready(settings: Settings) -> Settings:
    """Settings pointing at a database that exists and is migrated to head."""
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    return replace(settings, database_url=url)


async def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[Any]]) -> Any:
    assert settings.database_url
    pool = await create_pool(settings.database_url, statement_timeout_ms=0, min_size=1)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def _load_demo(pool: Pool) -> dict[str, int]:
    from db.demo import load_bundle

    bundle = json.loads(files("content").joinpath("demo.json").read_text(encoding="utf-8"))
    return await load_bundle(pool, bundle)


async def _load_demo_if_empty(pool: Pool) -> None:
    from db.demo import has_stories

    if not await has_stories(pool):
        log.info("empty database: loading the demo content")
        await _load_demo(pool)


if __name__ == "__main__":
    main()
