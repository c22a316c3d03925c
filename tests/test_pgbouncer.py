"""Behind PgBouncer in transaction mode (NEWSGRAPH_TRANSACTION_POOLER): a server process whose
DATABASE_URL is a PgBouncer with two server connections answers concurrent compiled queries,
searches (statements planned per request), Strawberry reads and writes correctly. Skipped
where PgBouncer is not installed (Debian's package `pgbouncer`; .ci/run installs it)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import server_address
from tests.test_mutations import CREATE, PUBLISH, create, ok
from tests.test_response_cache import _free_port, _process, _up, until

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="PgBouncer is not installed")

READS = [
    ("{ stories(first: 3) { edges { node { title sourceCount bias { left } } } } }", {}),
    ('{ search(query: "grid") { totalCount edges { node { __typename } } } }', {}),
    ("query($slug: String!) { story(slug: $slug) { title jsonLd } }", {"slug": "grid-deal"}),
    ("{ __schema { queryType { name } } }", {}),  # Strawberry's engine
]


def _bouncer_user(host: str) -> str | None:
    """Who runs PgBouncer (None: this user): it does not run as root, and must reach the
    server's socket (the embedded server's belongs to the user it runs as)."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name
    return "postgres"


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test database, two server connections."""
    assert PGBOUNCER is not None
    # Not under pytest's temporary folder: PgBouncer's user must be able to reach it.
    folder = Path(tempfile.mkdtemp(prefix="newsgraph-pgbouncer-"))
    host, port, database = server_address(database_url)
    listen = _free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{database} = host={host} port={port} dbname={database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\n"
        f"unix_socket_dir =\nauth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 200\n"
        f"logfile = {folder / 'pgbouncer.log'}\nignore_startup_parameters = extra_float_digits\n"
    )
    user = _bouncer_user(host)
    if user:
        entry = pwd.getpwnam(user)
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    process = subprocess.Popen(
        [PGBOUNCER, str(folder / "pgbouncer.ini")],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(listen)],
                             capture_output=True).returncode != 0:  # fmt: skip
            assert time.monotonic() < deadline, (folder / "pgbouncer.log").read_text()
            time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{listen}/{database}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


async def _post(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    answer = await http.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


async def test_serves_reads_and_writes_behind_pgbouncer_in_transaction_mode(
    database_url, bouncer, client, newsroom, editor
) -> None:
    story = await create(client, editor, category="world", sources=newsroom["sources"])
    await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1)
    settings = {
        "NEWSGRAPH_TRANSACTION_POOLER": "on",
        "NEWSGRAPH_LISTEN_URL": database_url,  # LISTEN does not pass a transaction pooler
        "NEWSGRAPH_RESPONSE_CACHE_BYTES": "0",  # every request reaches the database
    }
    with _process(bouncer, **settings) as served:
        async with httpx.AsyncClient(base_url=served, timeout=30) as http:
            await until(lambda: _up(http), bool, 60)
            expected = [await _post(http, query, variables) for query, variables in READS]
            assert expected[2]["story"]["title"] == story["title"]
            # Forty at once over two server connections: statements of different requests
            # interleave on each, as they would with a prepared-statement cache that breaks.
            rounds = await asyncio.gather(*(_post(http, q, v) for _ in range(10) for q, v in READS))
            assert rounds == expected * 10
            # Writes: a transaction at a time on whichever server connection is free.
            fields = {"slug": "behind", "title": "Behind the pooler", "category": "world"}
            made = await ok(http, CREATE, editor, "createStory", input={**fields, **newsroom})
            published = await ok(
                http, PUBLISH, editor, "publishStory", id=made["story"]["id"], version=1
            )
            assert published["story"]["status"] == "PUBLISHED"
            shown = await _post(http, READS[2][0], {"slug": "behind"})
            assert shown["story"]["title"] == "Behind the pooler"
