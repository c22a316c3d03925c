"""The service as real clients' tools see it (tests/clients, npm packages at pinned versions):
graphql-http's audit of the GraphQL-over-HTTP spec against a running server, and
relay-compiler compiling refetchable and paginated fragments over schema.graphql, whose
persisted output then runs as trusted documents. Skipped where npm is missing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from db.pool import Pool
from schema.relay import to_global_id
from tests.conftest import ROOT, serving
from tests.factories import create_story
from tests.test_cli import newsgraph
from tests.test_response_cache import _process, _up, until

CLIENTS = ROOT / "tests" / "clients"


@pytest.fixture(scope="session")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/clients with its packages installed (npm ci, from the lock file)."""
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("NEWSGRAPH_REQUIRE_NPM"):  # .ci/run: CI machines have npm
            pytest.fail("npm is not installed, and NEWSGRAPH_REQUIRE_NPM says it must be")
        pytest.skip("npm is not installed (the README's test command runs without it)")
    folder = tmp_path_factory.mktemp("clients")
    shutil.copytree(CLIENTS, folder, dirs_exist_ok=True)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


def node(clients: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", *args], cwd=clients, capture_output=True, text=True, timeout=300)


async def test_the_graphql_over_http_audit_passes_every_check(
    clients: Path, database_url: str
) -> None:
    with _process(database_url) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await until(lambda: _up(http), bool, 60)
        audited = node(clients, "audit.mjs", f"{url}/graphql")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    last = audited.stdout.strip().splitlines()[-1]
    assert last.endswith(" ok, 0 warn, 0 error"), audited.stdout


def compile_relay(clients: Path) -> dict[str, str]:
    """relay-compiler over tests/clients/src, persisting with SHA-256 as a Relay app would;
    the persisted documents by hash."""
    (clients / "persisted.json").write_text("{}")
    # The README's Relay example, compiled as the module its fragment's name says it is.
    [example] = re.findall(r"```tsx\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (clients / "src" / "StorySources.js").write_text(example)
    config = {
        "src": "./src",
        "schema": str(ROOT / "schema.graphql"),
        "language": "javascript",
        "persistConfig": {"file": "./persisted.json", "algorithm": "SHA256"},
    }
    (clients / "relay.config.json").write_text(json.dumps(config))
    compiled = subprocess.run(
        [str(clients / "node_modules" / ".bin" / "relay-compiler")],
        cwd=clients,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    persisted: dict[str, str] = json.loads((clients / "persisted.json").read_text())
    return persisted


async def test_relay_compiles_every_node_type_refetchable_and_its_documents_run_trusted(
    clients: Path, database_url: str, settings: Settings, pool: Pool
) -> None:
    persisted = compile_relay(clients)
    names = {text.split("(")[0].removeprefix("query ") for text in persisted.values()}
    assert {
        "StoryRefetchQuery",
        "DeepDiveRefetchQuery",
        "SourceRefetchQuery",
        "OutletRefetchQuery",
        "TopicRefetchQuery",
        "StorySourcesPaginationQuery",
        "TopicStoriesPaginationQuery",
        "StorySourcesListPaginationQuery",  # the README's example
    } <= names
    assert all(hashlib.sha256(t.encode()).hexdigest() == h for h, t in persisted.items())

    added = newsgraph(
        "documents", "add", str(clients / "persisted.json"), database_url=database_url
    )
    assert added.returncode == 0, added.stderr
    story = await create_story(pool, leans=["LEFT", "CENTER", "RIGHT"])
    [paginate] = [h for h, t in persisted.items() if "StorySourcesPaginationQuery" in t]
    variables: dict[str, Any] = {"id": to_global_id("Story", story), "count": 2}
    trusted = replace(settings, limits=replace(settings.limits, trusted_documents=True))
    async with serving(trusted) as http:
        first = await http.post(
            "/graphql", json={"documentId": f"sha256:{paginate}", "variables": variables}
        )
        page = first.json()["data"]["node"]["sources"]
        assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"] is True
        rest = await http.post(
            "/graphql",
            json={
                "documentId": f"sha256:{paginate}",
                "variables": {**variables, "cursor": page["pageInfo"]["endCursor"]},
            },
        )
        more = rest.json()["data"]["node"]["sources"]
        assert len(more["edges"]) == 1 and more["pageInfo"]["hasNextPage"] is False
