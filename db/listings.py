"""Which published stories and deep dives each list holds, a page of a list, and its size.

A list is named by a key: `stories`, `stories/category/<id>`, `stories/topic/<id>`,
`stories/outlet/<id>`, `stories/blindspot`, `stories/blindspot/<side>`; `deep-dives`,
`deep-dives/topic/<id>` (a key actor of the deep dive, or a topic of its story). The listing
tables hold an entry for every PUBLISHED item on each of its lists (a deep dive needs its
story PUBLISHED too), scheduled ones included, with the time the list sorts by; refresh()
keeps them true on every write, in the writer's transaction. Triggers keep listing_sizes
exact (migration 0008), so a reader's count is that size minus the entries whose time has not
come yet, which are few: its cost does not grow with the list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from db.pool import Connection, Pool

ALL_STORIES = "stories"
ALL_DEEP_DIVES = "deep-dives"
BLINDSPOTS = "stories/blindspot"


def stories_of(owner: str, owner_id: int | str) -> str:
    """The list of stories of a category, topic, outlet (by id) or blindspot side."""
    return f"stories/{owner}/{owner_id}"


def deep_dives_of_topic(topic_id: int) -> str:
    return f"deep-dives/topic/{topic_id}"


# What each story is listed on, as (list, story_id, published_at) rows of the stories in $1.
_STORY_LISTS = """
SELECT l.list, s.id AS story_id, s.published_at
FROM stories s CROSS JOIN LATERAL (
    SELECT 'stories'
    UNION SELECT 'stories/category/' || s.category_id WHERE s.category_id IS NOT NULL
    UNION SELECT 'stories/topic/' || st.topic_id FROM story_topics st WHERE st.story_id = s.id
    UNION SELECT 'stories/outlet/' || so.outlet_id
        FROM story_sources ss JOIN sources so ON so.id = ss.source_id WHERE ss.story_id = s.id
    UNION SELECT 'stories/blindspot' WHERE s.blindspot IS NOT NULL
    UNION SELECT 'stories/blindspot/' || s.blindspot WHERE s.blindspot IS NOT NULL
) AS l(list)
WHERE s.id = ANY($1::bigint[]) AND s.status = 'PUBLISHED'
"""
_DEEP_DIVE_LISTS = """
SELECT l.list, d.id AS deep_dive_id, d.published_at,
    greatest(d.published_at, s.published_at) AS visible_from
FROM deep_dives d JOIN stories s ON s.id = d.story_id CROSS JOIN LATERAL (
    SELECT 'deep-dives'
    UNION SELECT 'deep-dives/topic/' || a.topic_id
        FROM deep_dive_key_actors a WHERE a.deep_dive_id = d.id
    UNION SELECT 'deep-dives/topic/' || st.topic_id FROM story_topics st WHERE st.story_id = s.id
) AS l(list)
WHERE d.id = ANY($1::bigint[]) AND d.status = 'PUBLISHED' AND s.status = 'PUBLISHED'
"""


def _refresh(table: str, item: str, wanted: str, times: tuple[str, ...]) -> str:
    """Make the entries of the items in $1 exactly `wanted` (rows of list, `item`, times),
    touching only what differs."""
    names = ", ".join(times)
    new = ", ".join(f"EXCLUDED.{t}" for t in times)
    return f"""
WITH wanted AS ({wanted}),
gone AS (
    DELETE FROM {table} x
    WHERE x.{item} = ANY($1::bigint[]) AND NOT EXISTS (
        SELECT 1 FROM wanted w WHERE w.list = x.list AND w.{item} = x.{item})
)
INSERT INTO {table} AS x (list, {item}, {names})
SELECT list, {item}, {names} FROM wanted
ON CONFLICT (list, {item}) DO UPDATE SET ({names}) = ROW({new})
WHERE ROW({", ".join(f"x.{t}" for t in times)}) IS DISTINCT FROM ROW({new})
"""


_REFRESH_STORIES = _refresh("story_listings", "story_id", _STORY_LISTS, ("published_at",))
_REFRESH_DEEP_DIVES = _refresh(
    "deep_dive_listings", "deep_dive_id", _DEEP_DIVE_LISTS, ("published_at", "visible_from")
)
_DEEP_DIVES_OF_STORIES = "SELECT id FROM deep_dives WHERE story_id = ANY($1::bigint[])"


async def refresh(
    conn: Connection | Pool, story_ids: Sequence[int], *, deep_dives: bool = True
) -> None:
    """Bring the entries of these stories, and of their deep dives, up to date."""
    if not story_ids:
        return
    await conn.execute(_REFRESH_STORIES, list(story_ids))
    if not deep_dives:
        return
    dives = [row[0] for row in await conn.fetch(_DEEP_DIVES_OF_STORIES, list(story_ids))]
    await refresh_deep_dives(conn, dives)


async def refresh_deep_dives(conn: Connection | Pool, deep_dive_ids: Sequence[int]) -> None:
    if deep_dive_ids:
        await conn.execute(_REFRESH_DEEP_DIVES, list(deep_dive_ids))


# --- reading -----------------------------------------------------------------------------

# The entries of a list that readers may not see yet: stories whose publish time is to come,
# deep dives whose own or whose story's is. Counted over an index range from now on.
_PENDING = {
    "story_listings": "SELECT count(*) FROM story_listings p WHERE p.list = {0} "
    "AND p.published_at > now()",
    "deep_dive_listings": "SELECT count(*) FROM deep_dive_listings p WHERE p.list = {0} "
    "AND p.visible_from > now()",
}


def stored_size(list_key: str) -> str:
    """SQL for the stored size of the list `list_key` (an SQL expression): its entries,
    scheduled ones included; 0 for a list that does not exist."""
    return f"coalesce((SELECT z.entries FROM listing_sizes z WHERE z.list = {list_key}), 0)"


def visible_count(table: str, list_key: str) -> str:
    """SQL for how many entries of the list `list_key` (an SQL expression) readers may see."""
    return f"({stored_size(list_key)} - ({_PENDING[table].format(list_key)}))"


_COUNTS = {
    table: f"SELECT k.list AS owner, {visible_count(table, 'k.list')} AS n "
    "FROM unnest($1::text[]) AS k(list)"
    for table in _PENDING
}


async def visible_counts(pool: Pool, table: str, lists: Sequence[str]) -> list[int]:
    """Per list key, how many of its entries readers may see now."""
    rows = await pool.fetch(_COUNTS[table], list(lists))
    counts = {row["owner"]: row["n"] for row in rows}
    return [counts[key] for key in lists]


STORY_ENTRY = "story_listings e JOIN stories s ON s.id = e.story_id"
DEEP_DIVE_ENTRY = "deep_dive_listings e JOIN deep_dives d ON d.id = e.deep_dive_id"


def story_entries(list_key: str) -> str:
    """The condition that selects the visible entries of a story list (`e`, joined to `s`).
    Visibility is the entry's time: only PUBLISHED stories are listed, and a story sorts by
    the time it becomes visible, so the page walks the index from now on down."""
    return f"e.list = {list_key} AND e.published_at <= now()"


def deep_dive_entries(list_key: str) -> str:
    """The same for a deep-dive list (`e`, joined to `d`): it sorts by its own publish time,
    never later than the time it becomes visible (its story's may be later)."""
    return f"e.list = {list_key} AND e.published_at <= now() AND e.visible_from <= now()"


# --- checking ----------------------------------------------------------------------------

_STORY_DIFFERENCES = f"""
WITH wanted AS ({_STORY_LISTS}),
stored AS (
    SELECT list, story_id, published_at FROM story_listings WHERE story_id = ANY($1::bigint[])
)
SELECT coalesce(w.story_id, x.story_id) AS item_id, coalesce(w.list, x.list) AS list,
    x.published_at AS stored, w.published_at AS expected
FROM wanted w FULL JOIN stored x ON x.list = w.list AND x.story_id = w.story_id
WHERE x.list IS NULL OR w.list IS NULL OR x.published_at <> w.published_at
"""
_DEEP_DIVE_DIFFERENCES = f"""
WITH wanted AS ({_DEEP_DIVE_LISTS}),
stored AS (
    SELECT list, deep_dive_id, published_at, visible_from FROM deep_dive_listings
    WHERE deep_dive_id = ANY($1::bigint[])
)
SELECT coalesce(w.deep_dive_id, x.deep_dive_id) AS item_id, coalesce(w.list, x.list) AS list,
    x.visible_from AS stored, w.visible_from AS expected
FROM wanted w FULL JOIN stored x ON x.list = w.list AND x.deep_dive_id = w.deep_dive_id
WHERE x.list IS NULL OR w.list IS NULL
   OR (x.published_at, x.visible_from) <> (w.published_at, w.visible_from)
"""
_SIZE_DIFFERENCES = """
SELECT coalesce(z.list, c.list) AS list, z.entries AS stored, c.n AS expected
FROM listing_sizes z FULL JOIN (
    SELECT list, count(*) AS n FROM story_listings GROUP BY list
    UNION ALL SELECT list, count(*) FROM deep_dive_listings GROUP BY list
) AS c ON c.list = z.list
WHERE coalesce(z.entries, 0) <> coalesce(c.n, 0)
"""
_IDS_AFTER = {
    "story": "SELECT id FROM stories WHERE id > $1 ORDER BY id LIMIT $2",
    "deep_dive": "SELECT id FROM deep_dives WHERE id > $1 ORDER BY id LIMIT $2",
}
_DIFFERENCES = {"story": _STORY_DIFFERENCES, "deep_dive": _DEEP_DIVE_DIFFERENCES}


async def verify(pool: Pool, batch: int = 5_000) -> AsyncIterator[tuple[str, int, str, Any, Any]]:
    """Each listing entry that is missing, extra or out of date, as (kind, item id, "listing
    <list>", stored time, expected time), and each list size that is not its entry count, as
    ("list", 0, "size <list>", stored, counted)."""
    for kind, differences in _DIFFERENCES.items():
        last = 0
        while ids := [row[0] for row in await pool.fetch(_IDS_AFTER[kind], last, batch)]:
            for row in await pool.fetch(differences, ids):
                yield kind, row["item_id"], f"listing {row['list']}", row["stored"], row["expected"]
            last = ids[-1]
    for row in await pool.fetch(_SIZE_DIFFERENCES):
        yield "list", 0, f"size {row['list']}", row["stored"], row["expected"]
