"""Every list's totalCount is exact and follows visibility at read time: scheduled items join
their lists when their time comes, with no write; drafts, archived and taken-down items never
count. Each count is compared with a count(*) over the raw tables."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from db.pool import Pool
from schema.relay import to_global_id
from tests.conftest import data
from tests.factories import (
    cite,
    create_deep_dive,
    create_outlet,
    create_story,
    create_topic,
)
from tests.test_mutations import ARCHIVE, UNPUBLISH, ok
from tests.test_stored_figures import TAKE_DOWN

COUNTS = """query($topic: String!, $outlet: String!, $category: String!) {
  all: stories { totalCount }
  category: stories(filter: {category: $category}) { totalCount }
  byTopic: stories(filter: {topic: $topic}) { totalCount }
  byOutlet: stories(filter: {outlet: $outlet}) { totalCount }
  topic(slug: $topic) { stories { totalCount } deepDives { totalCount } }
  outlet(slug: $outlet) { stories { totalCount } }
  blindspots { totalCount }
  left: blindspots(side: LEFT) { totalCount }
  right: blindspots(side: RIGHT) { totalCount }
  deepDives { totalCount }
  topicDives: deepDives(filter: {topic: $topic}) { totalCount }
}"""
VISIBLE = "s.status = 'PUBLISHED' AND s.published_at <= now()"
# The blindspot rule over the raw rows, written out independently of content.figures.
SIDES = """(SELECT count(*) FILTER (WHERE o.bias IN ('LEFT', 'LEAN_LEFT')) AS l,
    count(*) FILTER (WHERE o.bias = 'CENTER') AS c,
    count(*) FILTER (WHERE o.bias IN ('RIGHT', 'LEAN_RIGHT')) AS r
    FROM story_sources ss JOIN sources so ON so.id = ss.source_id
    JOIN outlets o ON o.id = so.outlet_id WHERE ss.story_id = s.id)"""
EXPECTED = {
    "all": f"SELECT count(*) FROM stories s WHERE {VISIBLE}",
    "category": f"""SELECT count(*) FROM stories s JOIN topics t ON t.id = s.category_id
        WHERE {VISIBLE} AND t.slug = 'world'""",
    "topic": f"""SELECT count(*) FROM stories s WHERE {VISIBLE} AND EXISTS (
        SELECT 1 FROM story_topics st JOIN topics t ON t.id = st.topic_id
        WHERE st.story_id = s.id AND t.slug = 'energy')""",
    "outlet": f"""SELECT count(*) FROM stories s WHERE {VISIBLE} AND EXISTS (
        SELECT 1 FROM story_sources ss JOIN sources so ON so.id = ss.source_id
        JOIN outlets o ON o.id = so.outlet_id WHERE ss.story_id = s.id AND o.slug = 'the-wire')""",
    "left": f"""SELECT count(*) FROM stories s, LATERAL {SIDES} AS x
        WHERE {VISIBLE} AND x.l = 0 AND x.r >= 3 AND x.r * 5 >= (x.l + x.c + x.r) * 4""",
    "right": f"""SELECT count(*) FROM stories s, LATERAL {SIDES} AS x
        WHERE {VISIBLE} AND x.r = 0 AND x.l >= 3 AND x.l * 5 >= (x.l + x.c + x.r) * 4""",
    "dives": f"""SELECT count(*) FROM deep_dives d JOIN stories s ON s.id = d.story_id
        WHERE {VISIBLE} AND d.status = 'PUBLISHED' AND d.published_at <= now()""",
    "topic dives": f"""SELECT count(*) FROM deep_dives d JOIN stories s ON s.id = d.story_id
        WHERE {VISIBLE} AND d.status = 'PUBLISHED' AND d.published_at <= now() AND (
            EXISTS (SELECT 1 FROM deep_dive_key_actors a JOIN topics t ON t.id = a.topic_id
                    WHERE a.deep_dive_id = d.id AND t.slug = 'energy')
            OR EXISTS (SELECT 1 FROM story_topics st JOIN topics t ON t.id = st.topic_id
                       WHERE st.story_id = s.id AND t.slug = 'energy'))""",
}


async def expected(pool: Pool) -> dict[str, int]:
    return {name: await pool.fetchval(sql) for name, sql in EXPECTED.items()}


async def served(client: Any) -> dict[str, int]:
    got = await data(client, COUNTS, topic="energy", outlet="the-wire", category="world")
    counts = {
        "all": got["all"]["totalCount"],
        "category": got["category"]["totalCount"],
        "topic": got["topic"]["stories"]["totalCount"],
        "outlet": got["outlet"]["stories"]["totalCount"],
        "left": got["left"]["totalCount"],
        "right": got["right"]["totalCount"],
        "dives": got["deepDives"]["totalCount"],
        "topic dives": got["topic"]["deepDives"]["totalCount"],
    }
    # The same lists reached another way count the same.
    assert got["byTopic"]["totalCount"] == counts["topic"]
    assert got["byOutlet"]["totalCount"] == counts["outlet"]
    assert got["topicDives"]["totalCount"] == counts["topic dives"]
    assert got["blindspots"]["totalCount"] == counts["left"] + counts["right"]
    return counts


async def test_counts_are_exact_through_the_whole_lifecycle(client, pool, make_key) -> None:
    editor, admin = await make_key("EDITOR"), await make_key("ADMIN")
    world = await create_topic(pool, kind="CATEGORY", slug="world", name="World")
    energy = await create_topic(pool, slug="energy", name="Energy")
    wire = await create_outlet(pool, slug="the-wire", bias="RIGHT")
    others = [await create_outlet(pool, bias="RIGHT") for _ in range(3)]
    soon = datetime.now(UTC) + timedelta(seconds=2)

    def story(**fields: Any) -> Any:
        return create_story(pool, category_id=world, topic_ids=[energy], **fields)

    published = [await story() for _ in range(4)]
    scheduled = await story(published_at=soon)
    draft = await story(status="DRAFT", published_at=None)
    archived = await story(status="ARCHIVED")
    for story_id in (*published, scheduled, draft, archived):
        await cite(pool, story_id, [wire, *others])  # all right-leaning: a LEFT blindspot
    await create_story(pool)  # on no list but all stories
    for story_id in published[:2]:
        await create_deep_dive(pool, story_id=story_id)
    await create_deep_dive(pool, story_id=scheduled)
    await create_deep_dive(pool, story_id=published[2], published_at=soon)
    await create_deep_dive(pool, story_id=draft)
    await create_deep_dive(pool, story_id=published[3], status="DRAFT", published_at=None)
    elsewhere = await create_story(pool)
    await create_deep_dive(pool, story_id=elsewhere, key_actor_ids=[energy])  # a key actor

    before = await served(client)
    assert before == await expected(pool)
    assert before["all"] == 6 and before["left"] == 4 and before["dives"] == 3

    # Time passes: the scheduled story and deep dives appear, nothing was written.
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.2)
    after = await served(client)
    assert after == await expected(pool)
    assert after["all"] == before["all"] + 1 and after["dives"] == before["dives"] + 2

    # Editors take stories out of sight: unpublish, archive, take down.
    for (query, field), story_id, key in zip(
        [(UNPUBLISH, "unpublishStory"), (ARCHIVE, "archiveStory"), (TAKE_DOWN, "takeDownStory")],
        published[:3],
        [editor, editor, admin],
        strict=True,
    ):
        await ok(client, query, key, field, id=to_global_id("Story", story_id), version=1)
    final = await served(client)
    assert final == await expected(pool)
    assert final["all"] == after["all"] - 3 and final["dives"] == after["dives"] - 3
