"""Search quality on the relevance set (tests/relevance.py): precision@5 and reciprocal rank
per query, and their means per kind of query and overall.

    python bench/relevance.py

Builds its own database (`newsgraph_relevance`, replaced on every run) on DATABASE_URL's
server, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default .newsgraph/bench): the
demo content plus the generated stories the set was judged on, so other content cannot move
the figures.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.app import create_app, with_lifespan_state  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.transfer import generate, load_demo  # noqa: E402
from db.pool import create_pool  # noqa: E402
from tests.relevance import DEMO_CASES, SEED, STORIES, evaluate, generated_cases  # noqa: E402

DATABASE = "newsgraph_relevance"


async def _fresh_database(server_url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{DATABASE}"))


async def _run(settings: Settings) -> None:
    assert settings.database_url
    pool = await create_pool(settings.database_url, statement_timeout_ms=0, min_size=1)
    try:
        await load_demo(pool)
        await generate(pool, STORIES, seed=SEED, progress=False)
    finally:
        await pool.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=with_lifespan_state(app, dict(state)))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            report = await evaluate(client, DEMO_CASES + generated_cases())
    print(f"{'P@5':>5} {'RR':>5}  {'kind':<7} query")
    for scored in report.scored:
        print(
            f"{scored.precision:5.2f} {scored.reciprocal_rank:5.2f}  "
            f"{scored.case.kind:<7} {scored.case.query}"
        )
    print()
    for kind in sorted({s.case.kind for s in report.scored}):
        n = sum(1 for s in report.scored if s.case.kind == kind)
        print(
            f"{kind:<7} n={n:<3} precision@5 {report.mean('precision', kind):.3f}  "
            f"MRR {report.mean('reciprocal_rank', kind):.3f}"
        )
    print(
        f"{'all':<7} n={len(report.scored):<3} precision@5 {report.mean('precision'):.3f}  "
        f"MRR {report.mean('reciprocal_rank'):.3f}"
    )


def main() -> None:
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    server = resolve_url(settings.database_url, settings.data_dir)
    url = asyncio.run(_fresh_database(server))
    migrations.upgrade(url)
    asyncio.run(_run(replace(settings, database_url=url)))


if __name__ == "__main__":
    main()
