"""Offline evaluation of recommendations on generated content, whose generator knows the true
topic clusters (content.synthetic: a story's topics all come from one cluster).

    python bench/recommend_eval.py [--sample 400] [--first 5]

For a sample of published stories it takes relatedStories' candidates (db.recommendations) and
ranks them twice, with the viewpoint-diversity step (content.ranking, balance 0.7) and without
it (balance 1: relevance order), and prints for each:

- hit rate: the share of top-N items that come from the story's own cluster;
- diversity: the share of top-N lists whose stories lean more than one way (Left, Center,
  Right by their coverage; Mixed and Unrated lists count as one lean each);
- mean distinct leans per list.

Uses DATABASE_URL, else the embedded PostgreSQL in NEWSGRAPH_DATA_DIR (default
.newsgraph/bench); generate content first (`newsgraph generate --stories N`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.database import resolve_url  # noqa: E402
from api.settings import Settings  # noqa: E402
from db import recommendations  # noqa: E402
from db.pool import Pool, create_pool  # noqa: E402
from db.recommendations import BALANCE  # noqa: E402
from schema.recommendations import lean  # noqa: E402

CLUSTER = re.compile(r"^s\d+-c(\d+)-t\d+$")


async def _sample(pool: Pool, size: int) -> list[tuple[int, str]]:
    """(story id, cluster) of published generated stories, spread over the id range."""
    rows = await pool.fetch(
        """SELECT s.id, min(t.slug) AS topic FROM stories s
           JOIN story_topics st ON st.story_id = s.id JOIN topics t ON t.id = st.topic_id
           WHERE s.status = 'PUBLISHED' AND s.published_at <= now() AND t.slug ~ '^s\\d+-c'
             AND s.id % 97 = 0
           GROUP BY s.id ORDER BY s.id LIMIT $1""",
        size,
    )
    return [(row["id"], _cluster(row["topic"])) for row in rows]


def _cluster(slug: str) -> str:
    found = CLUSTER.match(slug)
    return found.group(1) if found else ""


async def _clusters(pool: Pool, story_ids: list[int]) -> dict[int, str]:
    rows = await pool.fetch(
        """SELECT st.story_id, min(t.slug) AS topic FROM story_topics st
           JOIN topics t ON t.id = st.topic_id WHERE st.story_id = ANY($1::bigint[])
           GROUP BY st.story_id""",
        story_ids,
    )
    return {row["story_id"]: _cluster(row["topic"]) for row in rows}


async def _evaluate(pool: Pool, size: int, first: int) -> None:
    sample = await _sample(pool, size)
    keys = [recommendations.RelatedKey(story_id, first) for story_id, _ in sample]
    print(f"{'ranking':<22} {'hit rate':>8} {'diverse':>8} {'leans':>6} {'ms/list':>8}")
    for name, balance in ((f"with diversity ({BALANCE})", BALANCE), ("relevance only (1.0)", 1.0)):
        started = time.perf_counter()
        lists = []
        for key in keys:  # one at a time, as a story page asks
            lists += await recommendations.related(
                pool, [key], require_deep_dive=False, semantic=False, balance=balance
            )
        elapsed = (time.perf_counter() - started) / len(sample) * 1000
        clusters = await _clusters(pool, sorted({c.story.id for top in lists for c in top}))
        hits = total = diverse = 0
        leans_per_list = []
        for (_, cluster), top in zip(sample, lists, strict=True):
            hits += sum(1 for c in top if clusters.get(c.story.id) == cluster)
            total += len(top)
            leans = {lean(c) for c in top}
            diverse += len(leans & {"Left", "Center", "Right"}) > 1
            leans_per_list.append(len(leans))
        print(
            f"{name:<22} {hits / max(total, 1):8.3f} {diverse / len(sample):8.3f} "
            f"{sum(leans_per_list) / len(sample):6.2f} {elapsed:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--first", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("NEWSGRAPH_DATA_DIR", str(ROOT / ".newsgraph" / "bench"))
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)

    async def run() -> None:
        pool = await create_pool(url, statement_timeout_ms=0, min_size=1)
        try:
            await _evaluate(pool, args.sample, args.first)
        finally:
            await pool.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
