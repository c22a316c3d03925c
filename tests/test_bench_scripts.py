"""The benchmark scripts that read a database run against one (they are not timed here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def test_explain_shows_a_plan_for_every_statement_it_probes(database_url, demo) -> None:
    """bench/explain.py EXPLAINs what the API sends, writes in a rolled-back transaction.
    On the demo's few rows PostgreSQL scans small tables whole, so only that it runs through
    is checked (it once crashed on search, which takes a pool)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "explain.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("ok", "SEQ SCAN"))]
    probed = {line[9:34].strip() for line in lines}
    assert {"search", "search count", "home feed, first page"} <= probed, done.stdout
    assert "statements scan a big table sequentially" in done.stdout
