"""Every migration has a working downgrade: upgrade, downgrade to base, upgrade again."""

from __future__ import annotations

import asyncio

import asyncpg

from api import migrations

TABLES = """SELECT count(*) FROM information_schema.tables
            WHERE table_schema = 'public' AND table_name <> 'alembic_version'"""


def test_upgrade_downgrade_upgrade(make_database) -> None:
    url = make_database()

    async def tables() -> int:
        conn = await asyncpg.connect(url)
        try:
            count: int = await conn.fetchval(TABLES)
            return count
        finally:
            await conn.close()

    migrations.upgrade(url)
    built = asyncio.run(tables())
    assert built >= 10
    migrations.downgrade(url, "base")
    assert asyncio.run(tables()) == 0
    migrations.upgrade(url)
    assert asyncio.run(tables()) == built
