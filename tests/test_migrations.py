"""Every migration has a working downgrade: upgrade, downgrade to base, upgrade again."""

from __future__ import annotations

import asyncio
from pathlib import Path

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


def test_the_head_read_from_file_names_is_alembics_head() -> None:
    """api.migrations reads the head from file names (no Alembic import for a current
    database): the files must form one chain numbered as they are named."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(""))
    assert script.get_heads() == [migrations.head_revision()]
    for revision in script.walk_revisions():
        assert revision.path is not None
        assert Path(revision.path).name.startswith(f"{revision.revision}_")
