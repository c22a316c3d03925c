"""schema.graphql is generated and committed; it must match the code."""

from __future__ import annotations

from schema import build_schema
from tests.conftest import ROOT


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_schema().as_str() + "\n", (
        "schema.graphql is out of date: run `newsgraph export-schema > schema.graphql`"
    )
