"""How often search's ranking window changes the first page against exact ranking.

    python bench/ranking_window.py [--per-class 2] [--story-window N --deep-dive-window N]

A query that matches more than db.search.RANKED stories (or deep dives) ranks only the newest
that many. For queries of every class bench/discovery.py measures (drawn the same way), this
prints the top 10 overlap of the windowed ranking (the configured windows, or the ones given)
with exact ranking (every match ranked), and each one's time. Exact ranking of a common word
reads every match: expect minutes on a million stories. Uses DATABASE_URL, else the embedded
PostgreSQL in NEWSGRAPH_DATA_DIR (default .newsgraph/bench).
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


async def main(per_class: int, windows: dict[str, int]) -> None:
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    classes = await search_classes(url, random.Random(7), per_class)
    pool = await create_pool(url, statement_timeout_ms=0, min_size=1, max_size=2)
    differ, overlaps, n = 0, [], 0
    print(f"windows {windows} against exact ranking, top 10:")
    try:
        for name, queries in classes.items():
            for query, given in queries:
                found = search_filter_of(given)
                tops, took = [], []
                for ranked in (windows, EVERYTHING):
                    search.RANKED = ranked
                    started = time.perf_counter()
                    page = await search.search(pool, query, 10, None, found)
                    took.append((time.perf_counter() - started) * 1000)
                    tops.append([(hit.kind, hit.id) for hit in page.hits[:10]])
                windowed, exact = tops
                overlap = len(set(windowed) & set(exact))
                n += 1
                differ += windowed != exact
                overlaps.append(overlap)
                print(
                    f"  {name:<16} {query!r:<28} overlap {overlap:2}/{len(exact):<2}"
                    f"{'' if windowed == exact else ' (order or hits differ)':24}"
                    f" windowed {took[0]:8.1f} ms, exact {took[1]:9.1f} ms",
                    flush=True,
                )
    finally:
        await pool.close()
    mean = sum(overlaps) / len(overlaps)
    print(f"{differ} of {n} first pages differ from exact ranking; mean overlap {mean:.1f} of 10")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument("--story-window", type=int, default=search.RANKED["story"])
    parser.add_argument("--deep-dive-window", type=int, default=search.RANKED["deep_dive"])
    args = parser.parse_args()
    windows = {"story": args.story_window, "deep_dive": args.deep_dive_window}
    asyncio.run(main(args.per_class, windows))
