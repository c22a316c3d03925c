"""The `newsgraph` command, run as a user would run it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from tests.conftest import ROOT, with_database
from tests.test_response_cache import _free_port

COMMANDS = [
    "serve",
    "migrate",
    "demo",
    "generate",
    "keys",
    "documents",
    "status",
    "export-schema",
]


def _wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def newsgraph(
    *args: str, database_url: str | None = None, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url or ""}
    if data_dir is not None:
        env["NEWSGRAPH_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None) -> None:
    result = newsgraph(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: newsgraph" in result.stdout
    if command is None:
        assert all(name in result.stdout for name in COMMANDS)


def test_export_schema_prints_the_committed_sdl() -> None:
    result = newsgraph("export-schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text()


def test_demo_is_idempotent_and_migrate_goes_down_and_up(make_database) -> None:
    url = make_database()
    first = newsgraph("demo", database_url=url)
    assert first.returncode == 0, first.stderr
    assert "75 created, 0 updated, 0 unchanged, 0 rejected" in first.stdout
    second = newsgraph("demo", database_url=url)
    assert "0 created, 0 updated, 75 unchanged, 0 rejected" in second.stdout
    count = newsgraph("generate", "--stories", "0", database_url=url)
    assert count.returncode != 0
    assert "--stories must be at least 1" in count.stderr
    down = newsgraph("migrate", "down", "base", database_url=url)
    assert down.returncode == 0, down.stderr
    assert "database went from 0" in down.stdout and " to base " in down.stdout
    up = newsgraph("migrate", database_url=url)
    assert up.returncode == 0, up.stderr
    assert "database went from base to 0" in up.stdout
    again = newsgraph("migrate", database_url=url)
    assert "database stays" in again.stdout
    unknown = newsgraph("migrate", "up", "9999", database_url=url)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "Can't locate revision identified by '9999'" in unknown.stderr
    assert "Revisions go from 0001 to" in unknown.stderr


def test_bad_arguments_exit_with_usage() -> None:
    result = newsgraph("migrate", "sideways")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_generate_is_deterministic_and_refuses_a_repeated_seed(make_database) -> None:
    digests = []
    for url in (make_database(), make_database()):
        result = newsgraph("generate", "--stories", "300", "--seed", "3", database_url=url)
        assert result.returncode == 0, result.stderr
        assert "300 stories" in result.stdout
        digests.append(asyncio.run(_digest(url)))
    assert digests[0] == digests[1]
    again = newsgraph("generate", "--stories", "10", "--seed", "3", database_url=url)
    assert again.returncode == 1
    assert "already here" in again.stderr


async def _digest(url: str) -> tuple:
    conn = await asyncpg.connect(url)
    try:
        # The generated columns only: created_at and updated_at record when rows arrived.
        tables = {
            "stories": "slug, title, summary, category_id, sentiment, status, published_at",
            "sources": "id, outlet_id, url, title, published_at, excerpt",
            "story_sources": "*",
            "deep_dive_sections": "*",
        }
        sql = "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM (SELECT {} FROM {}) t"
        return tuple(
            [await conn.fetchval(sql.format(cols, table)) for table, cols in tables.items()]
        )
    finally:
        await conn.close()


def test_processes_starting_together_migrate_and_load_the_demo_once(make_database) -> None:
    """Workers or machines started at once on an empty database take turns at the start:
    one migrates and loads the demo content, the others find it done."""
    url = make_database()  # empty: not even migrated
    env = {**os.environ, "DATABASE_URL": url, "NEWSGRAPH_WEBHOOK_WORKER": "false"}
    ports = [_free_port() for _ in range(3)]
    starting = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    try:
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
    finally:
        for process in starting:
            process.terminate()
    logs = [process.communicate(timeout=60)[1] for process in starting]
    loaded = [log for log in logs if "empty database: loading the demo content" in log]
    assert len(loaded) == 1, logs
    assert not any("Traceback" in log for log in logs), logs

    async def stories() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM stories"))
        finally:
            await conn.close()

    assert asyncio.run(stories()) == 11


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql://postgres@127.0.0.1:1/x", "nothing accepts connections on 127.0.0.1:1"),
        ("mysql://user:secret@db/news", "DATABASE_URL must be a PostgreSQL URL"),
        ("postgresql://postgres@no-such-host.invalid/x", "no-such-host.invalid is not known"),
    ],
)
def test_a_wrong_database_url_is_one_line_naming_the_setting(url: str, says: str) -> None:
    failed = newsgraph("keys", "list", database_url=url)
    assert failed.returncode == 1
    assert says in failed.stderr and "DATABASE_URL" in failed.stderr
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) <= 2
    assert "secret" not in failed.stderr


def test_a_missing_database_is_named_with_the_fix(server_url: str) -> None:
    missing = with_database(server_url, "newsgraph_no_such_database")
    failed = newsgraph("migrate", database_url=missing)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "database newsgraph_no_such_database does not exist" in failed.stderr
    assert "createdb newsgraph_no_such_database" in failed.stderr
    debug = newsgraph("--debug", "migrate", database_url=missing)
    assert "Traceback" in debug.stderr


def test_a_port_in_use_is_said_before_anything_else(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        failed = newsgraph("serve", "--workers", "1", "--port", port, database_url=database_url)
    assert failed.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in failed.stderr and "--port" in failed.stderr
    assert "serving" not in failed.stderr and "Traceback" not in failed.stderr


def test_status_reports_the_revision_and_what_is_stored(make_database) -> None:
    url = make_database()
    empty = newsgraph("status", database_url=url)
    assert empty.returncode == 0, empty.stderr
    assert "revision: none (an empty database" in empty.stdout
    assert newsgraph("demo", database_url=url).returncode == 0

    async def counts() -> list[int]:
        conn = await asyncpg.connect(url)
        try:
            return [
                await conn.fetchval(f"SELECT count(*) FROM {table}{where}")
                for table, where in [
                    ("stories", ""),
                    ("stories", " WHERE status = 'PUBLISHED'"),
                    ("deep_dives", ""),
                    ("sources", ""),
                    ("outlets", ""),
                ]
            ]
        finally:
            await conn.close()

    stories, published, deep_dives, sources, outlets = asyncio.run(counts())
    parts = urlsplit(url)
    at = parts.netloc.rsplit("@", 1)[-1]

    def with_password(password: str) -> str:
        return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{at}"))

    shown = newsgraph("status", database_url=with_password("letmein"))  # trust auth: any
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"database: {with_password('***')} (DATABASE_URL)"
    assert "letmein" not in shown.stdout + shown.stderr
    latest = sorted(p.name[:4] for p in (ROOT / "migrations" / "versions").glob("0*.py"))[-1]
    assert lines[1] == f"revision: {latest} (this code's latest is {latest})"
    assert f"stories: {stories} ({published} published, " in shown.stdout
    assert f"deep dives: {deep_dives} (" in shown.stdout
    assert f"sources: {sources}, outlets: {outlets}, topics: " in shown.stdout
    assert newsgraph("migrate", "down", "0013", database_url=url).returncode == 0
    behind = newsgraph("status", database_url=url)
    assert f"revision: 0013 (this code's latest is {latest}): run `newsgraph migrate`" in (
        behind.stdout
    )


def test_the_embedded_server_runs_only_while_a_command_uses_it(tmp_path: Path) -> None:
    """Without DATABASE_URL: status says whether the embedded PostgreSQL runs; it stops when
    the last command using it exits, serve included."""
    from api.database import embedded_pid

    data_dir = tmp_path / "data"
    alone = newsgraph("status", data_dir=data_dir)
    assert alone.returncode == 0, alone.stderr
    assert "not running: started for this command, and stopped when it ends" in alone.stdout
    assert embedded_pid(data_dir) is None
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": "", "NEWSGRAPH_DATA_DIR": str(data_dir)}
    serving = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)],
        cwd=ROOT,
        env={**env, "NEWSGRAPH_WEBHOOK_WORKER": "false"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz")
        running = embedded_pid(data_dir)
        assert running is not None
        shared = newsgraph("status", data_dir=data_dir)
        assert f"running (pid {running}), shared with the processes that use it" in shared.stdout
        assert embedded_pid(data_dir) == running, "status must not stop a server others use"
    finally:
        serving.terminate()
        serving.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while embedded_pid(data_dir) is not None:
        assert time.monotonic() < deadline, "the embedded PostgreSQL outlived serve"
        time.sleep(0.2)
