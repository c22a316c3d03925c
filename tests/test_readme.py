"""The README's examples, run as written: a changed example that no longer works fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, bearer
from tests.test_cli import newsgraph

README = (ROOT / "README.md").read_text()


def block(language: str, containing: str) -> str:
    """The one code block of `language` that contains `containing`."""
    [found] = [
        text
        for text in re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)
        if containing in text
    ]
    return found


async def test_the_first_query_answers_what_the_readme_shows(client, demo) -> None:
    curl = block("sh", "curl -s http://127.0.0.1:8000/graphql")
    sent = json.loads(re.search(r"-d '(.*)'", curl, re.DOTALL)[1])  # type: ignore[index]
    shown = json.loads(block("json", '"sourceCount"'))
    answer = await client.post("/graphql", json=sent)
    assert answer.json()["data"] == shown["data"]


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
