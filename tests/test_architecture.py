"""The layers of DESIGN.md: api -> schema -> db, SQL only in db/, content/ free of I/O."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

FORBIDDEN = {
    "db": {"strawberry", "starlette", "api", "schema", "uvicorn"},
    "schema": {"asyncpg", "starlette", "api", "uvicorn"},
    "content": {"asyncpg", "strawberry", "starlette", "api", "schema", "db"},
}
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b"
    # and the pieces a compiled statement is made of: a derived table, a CASE, an ARRAY, a
    # comparison of a row's column, a cast
    r"|\)\s+AS\s+\w|\bCASE\s+WHEN\b|\bARRAY\[|\b\w\.\w+\s*(=|<>|IS)\s|\w::\w",
    re.S,
)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        bad = imports(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def texts(path: Path) -> list[tuple[int, str]]:
    """Every string the module spells out, an f-string with `x` for what it fills in."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr):
            parts = (v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
            found.append((node.lineno, "".join(str(part) for part in parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("package", ["api", "schema", "content"])
def test_sql_lives_only_in_db(package: str) -> None:
    """The compiled engine plans in schema/ but every piece of its SQL comes from db/."""
    for path in (ROOT / package).rglob("*.py"):
        for line, text in texts(path):
            assert not SQL.search(text), f"SQL in {path.relative_to(ROOT)}:{line}: {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id FROM stories",
        "(x) AS x",
        "(CASE WHEN x THEN x ELSE x END)",
        "ARRAY[x.x]",
        "s.id = x",
        "x::bigint[]",
    ],
)
def test_the_sql_check_sees_statements_and_their_pieces(text: str) -> None:
    assert SQL.search(text)
