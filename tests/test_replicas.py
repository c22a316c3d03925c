"""Read replicas (db.replicas, api.replicas) against a real streaming replica: a primary and a
replica started for this module from the embedded PostgreSQL's binaries (pg_basebackup), the
replica replaying the log 1.5 s late so that a read sent to it too soon would show."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api import migrations
from db import keys
from db.pool import create_pool
from tests.conftest import bearer
from tests.test_mutations import CREATE, PUBLISH, make_newsroom, ok
from tests.test_response_cache import _free_port, _process, _up, until

APPLY_DELAY = "1500ms"
STORY = "query($slug: String!) { story(slug: $slug) { title } }"


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh database with the migrations applied."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.postgres_server import POSTGRES_BIN_PATH

        base = tmp_path_factory.mktemp("replicated")
        primary = pgserver.get_server(base / "primary", cleanup_mode="delete")
    info = primary.get_postmaster_info()
    user = "pgserver" if os.geteuid() == 0 else None  # PostgreSQL does not run as root
    replica_dir = base / "replica"
    if user:
        os.chown(base, pwd.getpwnam(user).pw_uid, -1)

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, user=user, timeout=120)

    run(
        str(POSTGRES_BIN_PATH / "pg_basebackup"),
        *("-D", str(replica_dir), "-R", "-X", "stream", "-U", "postgres"),
        *("-h", str(info.socket_dir), "-p", str(info.port)),
    )
    port = _free_port()
    with (replica_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = ''\nrecovery_min_apply_delay = '{APPLY_DELAY}'\n"
        )
    run(str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(replica_dir), "-w", "-l",
        str(base / "replica.log"), "start")  # fmt: skip
    try:
        primary_url = primary.get_uri("postgres")
        migrations.upgrade(primary_url)
        yield primary_url, f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(replica_dir), "-m", "immediate", "stop")
        shutil.rmtree(replica_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def editor_key(replicated: tuple[str, str]) -> str:
    async def make() -> str:
        pool = await create_pool(replicated[0], statement_timeout_ms=10_000, min_size=1)
        try:
            _, key = await keys.create_key(
                pool, name="editor", role="EDITOR", rate_per_minute=1_000_000, expires_at=None
            )
            return key
        finally:
            await pool.close()

    return asyncio.run(make())


async def _database(http: httpx.AsyncClient) -> dict[str, Any]:
    found: dict[str, Any] = (await http.get("/stats")).json()["database"]
    return found


async def _read(
    http: httpx.AsyncClient, slug: str, after: str | None = None, **headers: str
) -> httpx.Response:
    body = {"query": STORY, "variables": {"slug": slug}}
    if after is not None:
        headers["X-Read-After"] = after
    return await http.post("/graphql", json=body, headers=headers)


async def test_reads_go_to_a_replica_and_a_writer_reads_its_own_writes(
    replicated, editor_key
) -> None:
    primary_url, replica_url = replicated
    settings = {"DATABASE_REPLICA_URLS": replica_url, "NEWSGRAPH_RESPONSE_CACHE_BYTES": "0"}
    with _process(primary_url, **settings) as one, _process(primary_url, **settings) as two:
        async with httpx.AsyncClient(base_url=one) as a, httpx.AsyncClient(base_url=two) as b:
            for http in (a, b):
                await until(lambda h=http: _up(h), bool, 60)
                await until(lambda h=http: _database(h), lambda d: None not in d["replayed"])
            # Reads with nothing to wait for go to the replica.
            before = await _database(a)
            assert (await _read(a, "nothing-yet")).json()["data"] == {"story": None}
            after = await _database(a)
            assert after["readsFromReplicas"][0] > before["readsFromReplicas"][0]

            newsroom = await make_newsroom(a, editor_key)
            story = {"slug": "fresh", "title": "Fresh", "category": "world"}
            created = await ok(a, CREATE, editor_key, "createStory", input={**story, **newsroom})
            published = await a.post(
                "/graphql",
                json={"query": PUBLISH, "variables": {"id": created["story"]["id"], "version": 1}},
                headers=bearer(editor_key),
            )
            assert published.json()["data"]["publishStory"]["story"], published.text
            position = published.headers["X-Read-After"]
            # The writer's own process reads it at once (the replica replays 1.5 s late) ...
            assert (await _read(a, "fresh")).json()["data"]["story"]["title"] == "Fresh"
            # ... and so does another process given the position the write named.
            shown = await _read(b, "fresh", position)
            assert shown.json()["data"]["story"]["title"] == "Fresh"
            # Once the replica has replayed the write, it answers such reads again.
            await asyncio.sleep(2.0)
            before = await _database(b)
            assert (await _read(b, "fresh", position)).json()["data"]["story"]["title"] == "Fresh"
            after = await _database(b)
            assert after["readsFromReplicas"][0] > before["readsFromReplicas"][0]
            # A position that is not one is refused, not ignored.
            refused = await _read(b, "fresh", "yesterday")
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
            assert "X-Read-After" in refused.json()["errors"][0]["message"]


async def test_without_replicas_every_read_is_the_primarys(client) -> None:
    found = (await client.get("/stats")).json()["database"]
    assert found["replicas"] == 0 and found["readsFromReplicas"] == []
    assert (
        "X-Read-After"
        not in (await client.post("/graphql", json={"query": "{ __typename }"})).headers
    )
