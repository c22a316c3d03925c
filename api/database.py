"""Where the database is: the configured server, or an embedded PostgreSQL in a data folder."""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from pathlib import Path

from db.pool import ensure_database

log = logging.getLogger(__name__)


def embedded_url(data_dir: Path, database: str = "newsgraph") -> str:
    """Start (or reuse) the embedded PostgreSQL under data_dir and return a URL to `database`.

    The server stops when this process exits. The database is created on first use.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded path needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir.resolve() / "postgres")
    if asyncio.run(ensure_database(server.get_uri("postgres"), database)):
        log.info("created database %s in %s", database, data_dir)
    return str(server.get_uri(database))


def embedded_pid(data_dir: Path) -> int | None:
    """The process id of the embedded PostgreSQL under data_dir while one runs, else None."""
    try:
        first = (data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_url(data_dir)
