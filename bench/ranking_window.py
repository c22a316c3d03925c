"""How often search's ranking window changes the first page against exact ranking.

    python bench/ranking_window.py [--per-class 2] [--windows 2000:1000,500:200]

A query that matches more than db.search.RANKED stories (or deep dives) ranks only the newest
that many. For queries of every class bench/discovery.py measures (drawn the same way), this
prints the top 10 overlap of the windowed ranking (the configured windows, or each pair of
story:deep-dive windows given) with exact ranking (every match ranked), and each one's time.
Exact ranking of a common word reads every match: expect minutes on a million stories.
Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/bench).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from discovery import search_classes  # noqa: E402
from explain import search_filter_of  # noqa: E402

from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from db import search  # noqa: E402
from db.pool import create_pool  # noqa: E402

EVERYTHING = {"story": 10**9, "deep_dive": 10**9}


async def main(url: str, per_class: int, windows: list[dict[str, int]]) -> None:
    classes = await search_classes(url, random.Random(7), per_class)
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=2)
    differ = [0] * len(windows)
    overlaps: list[list[int]] = [[] for _ in windows]
    spent: list[list[float]] = [[] for _ in windows]
    n = 0
    print(f"windows {windows} against exact ranking, top 10 (overlap, ms):")
    try:
        for name, queries in classes.items():
            for query, given in queries:
                found = search_filter_of(given)
                tops, took = [], []
                for ranked in (*windows, EVERYTHING):
                    search.RANKED = ranked
                    started = time.perf_counter()
                    page = await search.search(pool, query, 10, None, found)
                    took.append((time.perf_counter() - started) * 1000)
                    tops.append([(hit.kind, hit.id) for hit in page.hits[:10]])
                exact = tops[-1]
                n += 1
                cells = []
                for i, windowed in enumerate(tops[:-1]):
                    overlap = len(set(windowed) & set(exact))
                    differ[i] += windowed != exact
                    overlaps[i].append(overlap)
                    spent[i].append(took[i])
                    cells.append(f"{overlap:2}{'*' if windowed != exact else ' '} {took[i]:7.1f}")
                print(
                    f"  {name:<16} {query!r:<28} {'   '.join(cells)}   exact {took[-1]:9.1f}",
                    flush=True,
                )
    finally:
        await pool.close()
    for i, window in enumerate(windows):
        mean = sum(overlaps[i]) / len(overlaps[i])
        median = sorted(spent[i])[len(spent[i]) // 2]
        print(
            f"{window}: {differ[i]} of {n} first pages differ from exact ranking (*); "
            f"mean overlap {mean:.1f} of 10; median {median:.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument(
        "--windows",
        default=f"{search.RANKED['story']}:{search.RANKED['deep_dive']}",
        help="story:deep_dive windows to compare, comma-separated (default: the configured)",
    )
    args = parser.parse_args()
    windows = [
        {"story": int(w.split(":")[0]), "deep_dive": int(w.split(":")[1])}
        for w in args.windows.split(",")
    ]
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    asyncio.run(
        main(resolve_url(settings.database_url, settings.data_dir), args.per_class, windows)
    )
