"""What ships besides the code: the Docker image's recipe and the compose file."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import ROOT


def test_the_image_fetches_graphiql_with_the_strawberry_the_project_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pinned] = [d for d in project["dependencies"] if d.startswith("strawberry-graphql")]
    recipe = (ROOT / "Dockerfile").read_text()
    assert f'"{pinned}"' in recipe  # the page GraphiQL's assets are read from is Strawberry's
    assert "python -m api.graphiql" in recipe
    assert re.search(r"^USER newsgraph$", recipe, re.MULTILINE)
    assert "NEWSGRAPH_DATA_DIR=/data" in recipe and "chown newsgraph /data" in recipe


def test_the_build_context_leaves_local_environments_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".newsgraph", ".git", "api/static"} <= set(ignored)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is missing")
def test_the_compose_file_is_valid() -> None:
    checked = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
