"""The README's examples, run as written: a changed example that no longer works fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from graphql import build_schema, parse, validate

from tests.conftest import ROOT, bearer
from tests.test_cli import newsgraph
from tests.test_response_cache import _free_port

README = (ROOT / "README.md").read_text()


def block(language: str, containing: str) -> str:
    """The one code block of `language` that contains `containing`."""
    [found] = [
        text
        for text in re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)
        if containing in text
    ]
    return found


def test_the_quickstart_runs_as_written(make_database) -> None:
    """`scripts/serve`, then the first query's curl command, as the README gives them (only
    the port differs), on an empty database: the answer is the one the README shows."""
    serve = block("sh", "scripts/serve").strip()
    curl = block("sh", "curl -s http://127.0.0.1:8000/graphql")
    port = str(_free_port())
    env = os.environ | {
        "DATABASE_URL": make_database(),
        "NEWSGRAPH_PORT": port,
        "NEWSGRAPH_WEBHOOK_WORKER": "false",
    }
    with tempfile.TemporaryFile("w+") as log:
        serving = subprocess.Popen(
            ["bash", "-c", f"{serve} --workers 1"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 300  # scripts/serve installs first
            while not _answers(f"http://127.0.0.1:{port}/healthz"):
                log.seek(0)
                assert serving.poll() is None, log.read()
                assert time.monotonic() < deadline, log.read()
                time.sleep(0.5)
            asked = subprocess.run(
                ["bash", "-c", curl.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            serving.terminate()
            serving.wait(timeout=60)
    shown = json.loads(block("json", '"sourceCount"'))
    assert json.loads(asked.stdout)["data"] == shown["data"], asked.stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_the_paging_example_walks_every_page_once(client, demo) -> None:
    query = block("graphql", "query StoriesPage")
    seen: list[str] = []
    after = None
    while True:
        answer = await client.post("/graphql", json={"query": query, "variables": {"after": after}})
        page = answer.json()["data"]["stories"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert [edge["cursor"] for edge in page["edges"]][-1:] == [page["pageInfo"]["endCursor"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    whole = query.replace("first: 5", "first: 100")
    everything = (await client.post("/graphql", json={"query": whole})).json()["data"]["stories"]
    assert seen == [edge["node"]["id"] for edge in everything["edges"]]
    assert len(seen) == everything["totalCount"] > 5, "the example takes more than one page"


def documents_in_examples() -> list[tuple[str, str]]:
    """(language, document) of every GraphQL document in the README's code blocks: graphql
    blocks whole, gql`...` in TypeScript, triple-quoted strings in Swift and Kotlin. Relay's
    block is compiled by relay-compiler instead (tests/test_clients.py)."""
    found: list[tuple[str, str]] = []
    for language, text in re.findall(r"```(\w+)\n(.*?)```", README, re.DOTALL):
        if language == "graphql":
            found.append((language, text))
        elif language == "ts":
            found += [(language, t) for t in re.findall(r"gql`(.*?)`", text, re.DOTALL)]
        elif language in ("swift", "kotlin"):
            strings = re.findall(r'"""(.*?)"""', text, re.DOTALL)
            found += [(language, t.replace("${'$'}", "$")) for t in strings]
    return found


def test_every_graphql_document_in_the_examples_fits_the_schema() -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text())
    documents = documents_in_examples()
    assert {language for language, _ in documents} == {"graphql", "ts", "swift", "kotlin"}
    for language, text in documents:
        errors = validate(schema, parse(text))
        assert not errors, (language, text, errors)
    wrong = parse("query { stories(first: 5) { edges { node { headline } } } }")
    assert validate(schema, wrong), "the check can fail"


async def test_the_writing_example_runs_in_order_as_written(client, demo, editor) -> None:
    operations = re.split(r"\n\n(?=mutation )", block("graphql", "mutation Outlet").strip())
    assert [re.match(r"mutation (\w+)", o)[1] for o in operations] == [  # type: ignore[index]
        "Outlet",
        "Source",
        "Create",
        "Update",
        "Publish",
    ]
    done: dict[str, Any] = {}
    for operation in operations:
        name = re.match(r"mutation (\w+)", operation)[1]  # type: ignore[index]
        variables = {"id": done["Create"]["story"]["id"]} if "$id" in operation else {}
        answer = await client.post(
            "/graphql", json={"query": operation, "variables": variables}, headers=bearer(editor)
        )
        body = answer.json()
        assert "errors" not in body, (name, body)
        [payload] = body["data"].values()
        assert payload["userErrors"] == [], (name, payload)
        done[name] = payload
    assert done["Source"]["source"]["url"] == "https://gridtimes.example/eu-grid-deal"
    assert done["Create"]["story"]["status"] == "DRAFT" and done["Create"]["story"]["version"] == 1
    assert done["Update"]["story"]["version"] == 2
    assert done["Publish"]["story"]["status"] == "SCHEDULED"  # as its comment says


def test_the_ndjson_example_imports_as_written(make_database, tmp_path: Path) -> None:
    lines = block("json", '"type": "outlet"')
    path = tmp_path / "example.ndjson"
    path.write_text(lines)
    url = make_database()
    imported = newsgraph("import", str(path), database_url=url)
    assert imported.returncode == 0, imported.stderr
    assert "3 created, 0 updated, 0 unchanged, 0 rejected" in imported.stdout
