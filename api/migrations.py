"""Runs the Alembic migrations in migrations/ against a database URL.

Alembic (and SQLAlchemy under it) is imported only when a migration runs: a command on a
database that is already current never loads it (a quarter of a second of every CLI command)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The newest revision: revisions are numbered 0001, 0002, … in files named after them,
    one chain (tests/test_migrations.py checks this against Alembic's own reading)."""
    numbers = [
        found[1]
        for path in (MIGRATIONS_DIR / "versions").iterdir()
        if (found := _REVISION_FILE.match(path.name))
    ]
    assert numbers, "migrations/ has no revisions"
    return max(numbers)
