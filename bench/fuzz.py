"""Fuzz the API with schemathesis, in one run: the OpenAPI document (every REST operation, all
of schemathesis's phases and checks) and the GraphQL schema (every root query and mutation
field, generated arguments and selections), anonymously and with an EDITOR key. Prints, per
part and in all: cases sent, server errors (HTTP 5xx, INTERNAL_SERVER_ERROR, or an answer
that is not JSON), schema violations (a REST answer off the OpenAPI document, a GraphQL
answer not in GraphQL's response shape or an error without a code), schema-valid requests
refused (expected for opaque cursors), and the error codes met.

    python bench/fuzz.py [--examples 100]

Needs the `fuzz` extra (`.venv/bin/pip install -e '.[fuzz]'`). Uses DATABASE_URL, else the
embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default .newsgraph/fuzz, with the demo content):
mutations with the EDITOR key write to it, so do not point it at data you keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import migrations  # noqa: E402
from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.cache import _prepare  # noqa: E402
from bench.live import _wait_until_up  # noqa: E402

RESULTS = ROOT / "bench" / "results"  # every problem in full, one a line
PORT = 8350  # bench.live's: _wait_until_up polls it
GRAPHQL_KEYS = {"data", "errors", "extensions"}


@dataclass
class Tally:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    refused_valid: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.cases += other.cases
        self.server_errors += other.server_errors
        self.violations += other.violations
        self.refused_valid += other.refused_valid
        self.statuses.update(other.statuses)
        self.codes.update(other.codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and phase")
    args = parser.parse_args()
    if shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("schemathesis is missing: .venv/bin/pip install -e '.[fuzz]'")
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "fuzz"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    migrations.upgrade(url)
    _, editor, _ = asyncio.run(_prepare(url))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "NEWSGRAPH_WEBHOOK_WORKER": "false",
        "NEWSGRAPH_ANONYMOUS_RATE_PER_MINUTE": str(10**9),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--no-access-log", "--workers", "1"]
    server = subprocess.Popen(
        [*command, "--port", str(PORT)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{PORT}"
    parts = {
        "REST (OpenAPI)": [f"{base}/v1/openapi.json"],
        "GraphQL, anonymous": [f"{base}/graphql", "--phases", "fuzzing"],
        "GraphQL, EDITOR key": [
            f"{base}/graphql",
            "--phases",
            "fuzzing",
            "-H",
            f"Authorization: Bearer {editor}",
        ],
    }
    total = Tally()
    try:
        _wait_until_up()
        for name, target in parts.items():
            found = _fuzz(target, args.examples, graphql="/graphql" in target[0])
            _report(name, found)
            total.add(found)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _report("in all", total)


def _fuzz(target: list[str], examples: int, *, graphql: bool) -> Tally:
    with tempfile.TemporaryDirectory() as reports:
        subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                *target,
                "--checks",
                "all",
                "--max-examples",
                str(examples),
                "--continue-on-failure",
                "--no-shrink",
                "--report",
                "vcr",
                "--report-dir",
                reports,
            ],
            stdout=subprocess.DEVNULL,
            check=False,  # its exit status counts what we count ourselves, differently
        )
        [cassette] = Path(reports).glob("*.yaml")
        recorded = yaml.safe_load(cassette.read_text())
    tally = Tally()
    for interaction in recorded.get("http_interactions") or []:
        _judge(interaction, tally, graphql=graphql)
    return tally


def _judge(interaction: dict[str, Any], tally: Tally, *, graphql: bool) -> None:
    response = interaction.get("response")
    if not response:
        return  # not sent (e.g. a request the client itself could not build)
    tally.cases += 1
    status = int(response["status"]["code"])
    tally.statuses[status] += 1
    request = interaction["request"]
    sent = (request.get("body") or {}).get("string", "")
    where = f"{request['method']} {request['uri']} {sent}"
    checks = {c["name"]: c["status"] for c in interaction.get("checks") or []}
    if checks.get("positive_data_acceptance") == "FAILURE":
        tally.refused_valid += 1
    if status >= 500:
        tally.server_errors.append(f"{status}: {where}")
    try:
        body = json.loads(response["body"].get("string") or "")
    except (json.JSONDecodeError, AttributeError):
        if status != 304:
            tally.server_errors.append(f"not JSON ({status}): {where}")
        return
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        tally.codes[code or "(none)"] += 1
        if code == "INTERNAL_SERVER_ERROR":
            tally.server_errors.append(f"INTERNAL_SERVER_ERROR: {where}")
        if code is None:
            tally.violations.append(f"an error without a code: {where}")
    if graphql:
        if (
            not isinstance(body, dict)
            or not set(body) <= GRAPHQL_KEYS
            or not set(body)
            & {
                "data",
                "errors",
            }
        ):
            tally.violations.append(f"not a GraphQL response: {where}")
    elif checks.get("response_schema_conformance") == "FAILURE":
        tally.violations.append(f"off the OpenAPI document: {where}")


def _report(name: str, tally: Tally) -> None:
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
    codes = ", ".join(f"{c} {n}" for c, n in tally.codes.most_common())
    print(
        f"{name}: {tally.cases} cases, {len(tally.server_errors)} server errors, "
        f"{len(tally.violations)} schema violations, {tally.refused_valid} schema-valid "
        f"requests refused\n  statuses {statuses}\n  error codes {codes or '-'}"
    )
    for problem in (tally.server_errors + tally.violations)[:10]:
        print(f"  ! {problem[:300]}")
    if tally.server_errors or tally.violations:
        RESULTS.mkdir(exist_ok=True)
        with (RESULTS / "fuzz-problems.txt").open("a") as out:
            out.writelines(f"{name}: {p}\n" for p in tally.server_errors + tally.violations)


if __name__ == "__main__":
    main()
