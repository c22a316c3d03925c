"""EXPLAIN the statements the API really sends for feed pages and their counts, slug
lookups, topic and outlet pages, blindspots, search, recommendations, and the writes that keep
stored figures and listings true, and report any sequential scan of a big table. Writes run in
a transaction that is rolled back.

Run after `newsgraph generate`: DATABASE_URL=... python bench/explain.py
(without DATABASE_URL it uses the embedded server in NEWSGRAPH_DATA_DIR).

    python bench/explain.py --search [--per-class 3]

instead runs EXPLAIN ANALYZE on the search statements (page 1, the count, both) of queries of
every class bench/discovery.py measures, drawn the same way, and prints each class's plans
(node, relation or index, actual rows and time), so a slow class shows where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.database import resolve_url
from api.settings import Settings
from db import deep_dives, figures, recommendations, search, stories, topics
from db.json_sql import Slots
from db.paging import PageKey
from db.pool import Pool, create_pool, is_driver_housekeeping
from db.visibility import Scope

Probe = Callable[[Pool], Awaitable[Any]]
BIG_TABLES = {
    "stories",
    "sources",
    "story_sources",
    "story_topics",
    "deep_dives",
    "story_listings",
    "story_search",
    "deep_dive_listings",
}


async def sample(pool: Pool) -> dict[str, Any]:
    row = await pool.fetchrow(
        """SELECT s.id, s.slug, s.category_id, s.published_at,
                  (SELECT slug FROM topics WHERE id = s.category_id) AS category,
                  t.slug AS topic, t.id AS topic_id, split_part(s.title, ' ', 2) AS title_word,
                  (SELECT so.outlet_id FROM story_sources ss JOIN sources so
                   ON so.id = ss.source_id WHERE ss.story_id = s.id LIMIT 1) AS outlet_id,
                  (SELECT o.slug FROM story_sources ss JOIN sources so ON so.id = ss.source_id
                   JOIN outlets o ON o.id = so.outlet_id WHERE ss.story_id = s.id LIMIT 1)
                      AS outlet,
                  (SELECT d.id FROM deep_dives d WHERE d.story_id > s.id ORDER BY d.story_id
                   LIMIT 1) AS deep_dive_id
           FROM stories s
           JOIN LATERAL (SELECT t.slug, t.id FROM story_topics st
                         JOIN topics t ON t.id = st.topic_id
                         WHERE st.story_id = s.id ORDER BY st.position LIMIT 1) t ON true
           WHERE s.status = 'PUBLISHED' ORDER BY s.id LIMIT 1
           OFFSET least(5000, (SELECT count(*) / 4 FROM stories))"""
    )  # on a small database (the demo) a story a quarter of the way in
    if row is None:
        raise SystemExit("no published story with a topic to sample: run `newsgraph generate`")
    return dict(row)


def probes(s: dict[str, Any]) -> dict[str, Probe]:
    cursor = (s["published_at"], s["id"])
    feed, count = stories.story_feed, stories.story_feed_count
    by = stories.StoryFilter
    return {
        "home feed, first page": lambda p: feed(p, by(), 20, None),
        "home feed, later page": lambda p: feed(p, by(), 20, cursor),
        "home feed count": lambda p: count(p, by()),
        "category feed": lambda p: feed(p, by(category=s["category"]), 20, None),
        "category feed, later": lambda p: feed(p, by(category=s["category"]), 20, cursor),
        "category count": lambda p: count(p, by(category=s["category"])),
        "topic filter feed": lambda p: feed(p, by(topic=s["topic"]), 20, None),
        "topic filter count": lambda p: count(p, by(topic=s["topic"])),
        "outlet filter feed": lambda p: feed(p, by(outlet=s["outlet"]), 20, None),
        "two filters feed": lambda p: feed(
            p, by(topic=s["topic"], category=s["category"]), 20, None
        ),
        "two filters count": lambda p: count(p, by(topic=s["topic"], category=s["category"])),
        "story by slug": lambda p: stories.story_by_slug(p, s["slug"]),
        "stories by ids": lambda p: stories.stories_by_ids(p, [s["id"]]),
        "topic page stories": lambda p: stories.topic_story_pages(p, [PageKey(s["topic_id"], 20)]),
        "topic page, later": lambda p: stories.topic_story_pages(
            p, [PageKey(s["topic_id"], 20, cursor)]
        ),
        "topic page count": lambda p: stories.topic_story_counts(p, [s["topic_id"]]),
        "topic page deep dives": lambda p: deep_dives.topic_deep_dive_pages(
            p, [PageKey(s["topic_id"], 5)]
        ),
        "topic deep dive count": lambda p: deep_dives.topic_deep_dive_counts(p, [s["topic_id"]]),
        "deep dive list": lambda p: deep_dives.deep_dive_feed(
            p, deep_dives.DeepDiveFilter(), 20, None
        ),
        "deep dive count": lambda p: deep_dives.deep_dive_feed_count(
            p, deep_dives.DeepDiveFilter()
        ),
        "deep dive sections": lambda p: deep_dives.sections_by_deep_dive_ids(
            p, [s["deep_dive_id"]]
        ),
        "topic by slug": lambda p: topics.topic_by_slug(p, s["topic"]),
        "related stories": lambda p: recommendations.related(
            p, [recommendations.RelatedKey(s["id"], 5)], require_deep_dive=False, semantic=False
        ),
        "more like this": lambda p: recommendations.related(
            p, [recommendations.RelatedKey(s["id"], 3)], require_deep_dive=True, semantic=False
        ),
        "for you": lambda p: recommendations.for_you(p, [s["topic"]], [], 40),
        # search() takes a pool (it prepares each statement for its values): send its SQL.
        "search": lambda p: _search_statement(p, s["title_word"], "page"),
        "search count": lambda p: _search_statement(p, s["title_word"], "count"),
        "outlet stories": lambda p: stories.outlet_story_pages(p, [PageKey(s["outlet_id"], 10)]),
        "outlet count": lambda p: stories.outlet_story_counts(p, [s["outlet_id"]]),
        "blindspots": lambda p: feed(p, by(blindspot=["LEFT", "RIGHT"]), 20, None),
        "blindspots count": lambda p: count(p, by(blindspot=["LEFT", "RIGHT"])),
        "left blindspots count": lambda p: count(p, by(blindspot=["LEFT"])),
        # Writes (rolled back): what every story, deep-dive and outlet write sends.
        "refresh story figures": lambda p: figures.refresh_stories(p, [s["id"]]),
        "refresh deep dive": lambda p: figures.refresh_deep_dives(p, [s["deep_dive_id"]]),
        "queue outlet re-rating": lambda p: figures.queue_outlet(p, s["outlet_id"]),  # type: ignore[arg-type]
        "drain one batch": lambda p: _drain_batch(p, s["outlet_id"]),
    }


async def _search_statement(conn: Any, word: str, which: str) -> None:
    for name, sql, values in _statements(word, search.SearchFilter()):
        if name == which:
            await conn.fetch(sql, *values)


async def _drain_batch(conn: Any, outlet_id: int) -> None:
    await figures.queue_outlet(conn, outlet_id)
    await figures.take_queued(conn, 20)


async def explain(pool: Pool, name: str, probe: Probe) -> tuple[bool, str]:
    sent: list[Any] = []
    async with pool.acquire() as conn:
        rollback = conn.transaction()
        await rollback.start()
        conn.add_query_logger(sent.append)
        await probe(conn)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        conn.remove_query_logger(sent.append)
        lines = []
        seq_scan = False
        for record in (r for r in sent if not is_driver_housekeeping(r.query)):
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {record.query}", *record.args)
            nodes = list(_nodes(json.loads(plan)[0]["Plan"]))
            seq_scan |= any(
                n["Node Type"] == "Seq Scan" and n.get("Relation Name") in BIG_TABLES for n in nodes
            )
            lines.append(", ".join(sorted({_label(n) for n in nodes if "Relation Name" in n})))
        await rollback.rollback()
    return seq_scan, "; ".join(lines)


def _nodes(plan: dict[str, Any]):  # type: ignore[no-untyped-def]
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _label(node: dict[str, Any]) -> str:
    index = node.get("Index Name")
    return f"{node['Node Type']} {node['Relation Name']}" + (f" ({index})" if index else "")


async def main(url: str) -> int:
    pool = await create_pool(url, statement_timeout_ms=60_000, min_size=1)
    try:
        s = await sample(pool)
        failures = 0
        for name, probe in probes(s).items():
            seq_scan, summary = await explain(pool, name, probe)
            failures += seq_scan
            print(f"{'SEQ SCAN' if seq_scan else 'ok':8} {name:24} {summary}", flush=True)
        print(
            f"\n{failures} of {len(probes(s))} statements scan a big table sequentially "
            f"({', '.join(sorted(BIG_TABLES))})"
        )
        return 1 if failures else 0
    finally:
        await pool.close()


def search_filter_of(given: dict[str, Any] | None) -> search.SearchFilter:
    """The db filter of a GraphQL SearchFilter as bench/discovery.py draws them."""
    given = given or {}
    after = given.get("publishedAfter")
    return search.SearchFilter(
        category=given.get("category"),
        topic=given.get("topic"),
        outlet=given.get("outlet"),
        published_after=datetime.fromisoformat(after) if after else None,
    )


def _statements(query: str, found: search.SearchFilter) -> Iterator[tuple[str, str, list[Any]]]:
    """The search statements for the query, with their values: page 1, the count alone,
    and both, as one compiled statement asks them (the count reading the page's ranked
    matches, db.search.HITS)."""
    slots = Slots()
    at = slots.add(datetime.now(UTC), "timestamptz")
    page = search.page_sql(Scope.PUBLIC, slots, query, found, as_of=at, after=None, limit=11)
    yield "page", page, slots.values
    slots = Slots()
    yield "count", search.count_statement(Scope.PUBLIC, slots, query, found), slots.values
    slots = Slots()
    at = slots.add(datetime.now(UTC), "timestamptz")
    hits = search.hits_sql(Scope.PUBLIC, slots, query, found, as_of=at)
    page = search.page_sql(
        Scope.PUBLIC, slots, query, found, as_of=at, after=None, limit=11, define_hits=False
    )
    count = search.count_sql(Scope.PUBLIC, slots, query, found, from_hits=True)
    both = f"""WITH {hits}, counted AS (SELECT {count} AS n)
        SELECT p.*, (SELECT n FROM counted) AS n FROM ({page}) AS p"""
    yield "both", both, slots.values


_COSTS = re.compile(r"  \(cost=[^)]*\)")


async def explain_search(url: str, per_class: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import random

    from discovery import search_classes

    classes = await search_classes(url, random.Random(7), per_class)
    pool = await create_pool(url, statement_timeout_ms=120_000, min_size=1)
    try:
        for name, queries in classes.items():
            print(f"\n=== {name}")
            for n, (query, given) in enumerate(queries):
                for label, sql, values in _statements(query, search_filter_of(given)):
                    async with pool.acquire() as conn:
                        rows = await conn.fetch(
                            f"EXPLAIN (ANALYZE, BUFFERS, TIMING) {sql}", *values
                        )
                    lines = [row[0] for row in rows]
                    took = next(line for line in reversed(lines) if "Execution Time" in line)
                    print(f"{label:5} {query!r} {given or ''}: {took.strip()}")
                    if n == 0:  # the first query's plan, without the estimates
                        for line in lines:
                            if "->" in line or line.startswith(("Limit", "Result", "Sort")):
                                print("      " + _COSTS.sub("", line))
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", action="store_true", help="plans of every search class")
    parser.add_argument("--per-class", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.from_env()
    url = resolve_url(settings.database_url, settings.data_dir)
    if args.search:
        asyncio.run(explain_search(url, args.per_class))
        sys.exit(0)
    sys.exit(asyncio.run(main(url)))
