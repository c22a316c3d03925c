"""Stored figures: computed by content.figures from the raw rows whenever those change, kept
beside the stories and deep dives, and checked against a fresh computation by verify().

Writers call refresh_stories / refresh_deep_dives in their own transaction. An outlet's new
rating reaches every story citing it through figure_refreshes: the outlet's write queues the
stories, drain() recomputes them DRAIN_BATCH at a time, each batch its own short transaction,
so re-rating an outlet with 100,000 stories never holds their rows (or the writers' lock) for
more than one batch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from content.figures import (
    FIGURES_VERSION,
    DeepDiveFigures,
    SourceFacts,
    StoryFigures,
    deep_dive_figures,
    story_figures,
)
from db import changes, listings, vocabulary
from db.pool import Connection, Pool

log = logging.getLogger(__name__)

DRAIN_BATCH = 500
REBUILD_BATCH = 5_000

_STORY_COLUMNS = tuple(StoryFigures.__dataclass_fields__)
_JSON_COLUMNS = {"factuality_shares", "country_shares", "table_of_contents"}

# The raw rows a story's figures come from, and the figures stored now.
_STORY_INPUTS = f"""
SELECT s.id, s.title, s.summary, coalesce(s.sentiment, s.sentiment_inferred) AS sentiment,
    coalesce(src.biases, '{{}}') AS biases, coalesce(src.factualities, '{{}}') AS factualities,
    coalesce(src.countries, '{{}}') AS countries, coalesce(src.times, '{{}}') AS times,
    {", ".join(f"s.{name}" for name in _STORY_COLUMNS)}
FROM stories s LEFT JOIN LATERAL (
    SELECT array_agg(o.bias ORDER BY ss.position) AS biases,
        array_agg(o.factuality ORDER BY ss.position) AS factualities,
        array_agg(o.country ORDER BY ss.position) AS countries,
        array_agg(so.published_at ORDER BY ss.position) AS times
    FROM story_sources ss JOIN sources so ON so.id = ss.source_id
    JOIN outlets o ON o.id = so.outlet_id
    WHERE ss.story_id = s.id
) AS src ON TRUE
"""
_STORIES_BY_IDS = _STORY_INPUTS + "WHERE s.id = ANY($1::bigint[]) ORDER BY s.id"
_STORIES_AFTER = _STORY_INPUTS + "WHERE s.id > $1 ORDER BY s.id LIMIT $2"
_SQL_TYPES = {
    "dominant_side": "text",
    "coverage_label": "text",
    "blindspot": "text",
    "factuality_shares": "jsonb",
    "country_shares": "jsonb",
    "earliest_source_at": "timestamptz",
    "latest_source_at": "timestamptz",
    "share_text": "text",
}
"""Column types other than integer; JSON travels as text and is cast in the statement."""


def _write_stories() -> str:
    names = ", ".join(_STORY_COLUMNS)
    types = [_SQL_TYPES.get(name, "int") for name in _STORY_COLUMNS]
    arrays = ", ".join(f"${i}::{'text' if t == 'jsonb' else t}[]" for i, t in enumerate(types, 2))
    values = ", ".join(
        f"u.{name}::jsonb" if t == "jsonb" else f"u.{name}"
        for name, t in zip(_STORY_COLUMNS, types, strict=True)
    )
    return f"""UPDATE stories s SET ({names}) = ({values})
FROM unnest($1::bigint[], {arrays}) AS u(id, {names}) WHERE s.id = u.id"""


_WRITE_STORIES = _write_stories()

_DEEP_DIVE_INPUTS = """
SELECT d.id, d.title, d.dek, d.table_of_contents, d.word_count, d.read_time_minutes,
    d.share_text,
    coalesce(x.headings, '{}') AS headings, coalesce(x.bodies, '{}') AS bodies,
    coalesce(x.anchors, '{}') AS anchors, coalesce(x.html, '{}') AS html,
    coalesce(x.text, '{}') AS text
FROM deep_dives d LEFT JOIN LATERAL (
    SELECT array_agg(heading ORDER BY position) AS headings,
        array_agg(body ORDER BY position) AS bodies,
        array_agg(anchor ORDER BY position) AS anchors,
        array_agg(body_html ORDER BY position) AS html,
        array_agg(body_text ORDER BY position) AS text
    FROM deep_dive_sections WHERE deep_dive_id = d.id
) AS x ON TRUE
"""
_DEEP_DIVES_BY_IDS = _DEEP_DIVE_INPUTS + "WHERE d.id = ANY($1::bigint[]) ORDER BY d.id"
_DEEP_DIVES_AFTER = _DEEP_DIVE_INPUTS + "WHERE d.id > $1 ORDER BY d.id LIMIT $2"
_WRITE_DEEP_DIVES = """
UPDATE deep_dives d SET table_of_contents = u.toc::jsonb, word_count = u.words,
    read_time_minutes = u.minutes, share_text = u.share
FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[])
    AS u(id, toc, words, minutes, share)
WHERE d.id = u.id
"""
_WRITE_SECTIONS = """
UPDATE deep_dive_sections x SET anchor = u.anchor, body_html = u.html, body_text = u.text
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[])
    AS u(deep_dive_id, position, anchor, html, text)
WHERE x.deep_dive_id = u.deep_dive_id AND x.position = u.position
"""


@dataclass(frozen=True)
class Mismatch:
    """A stored figure that differs from what the raw rows give now."""

    kind: str
    item_id: int
    figure: str
    stored: Any
    expected: Any


# --- stories ------------------------------------------------------------------------------


def _story_expected(row: Any) -> dict[str, Any]:
    facts = [
        SourceFacts(*found)
        for found in zip(
            row["biases"], row["factualities"], row["countries"], row["times"], strict=True
        )
    ]
    figures = story_figures(row["title"], row["summary"], row["sentiment"], facts)
    return _plain(asdict(figures))


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Figures as the database stores and returns them (JSON columns as lists of dicts)."""
    return {
        name: [dict(item) for item in value] if name in _JSON_COLUMNS else value
        for name, value in values.items()
    }


def _story_stored(row: Any) -> dict[str, Any]:
    return {name: _decoded(name, row[name]) for name in _STORY_COLUMNS}


def _decoded(name: str, value: Any) -> Any:
    """JSON columns arrive decoded from pools made by db.pool; parse them from any other."""
    return orjson.loads(value) if name in _JSON_COLUMNS and isinstance(value, str) else value


async def refresh_stories(conn: Connection | Pool, story_ids: Sequence[int]) -> list[int]:
    """Recompute and store the figures of these stories and refresh their listings; the ids
    whose figures changed."""
    if not story_ids:
        return []
    rows = await conn.fetch(_STORIES_BY_IDS, list(story_ids))
    changed = await _store_stories(conn, rows)
    await listings.refresh(conn, story_ids)
    return changed


async def _store_stories(conn: Connection | Pool, rows: Sequence[Any]) -> list[int]:
    updates = []
    for row in rows:
        wanted = _story_expected(row)
        if wanted != _story_stored(row):
            updates.append((row["id"], wanted))
    if updates:
        columns = [
            [_encoded(name, wanted[name]) for _, wanted in updates] for name in _STORY_COLUMNS
        ]
        await conn.execute(_WRITE_STORIES, [sid for sid, _ in updates], *columns)
    return [sid for sid, _ in updates]


def _encoded(name: str, value: Any) -> Any:
    return orjson.dumps(value).decode() if name in _JSON_COLUMNS else value


# --- deep dives ---------------------------------------------------------------------------


def _deep_dive_expected(row: Any) -> DeepDiveFigures:
    return deep_dive_figures(
        row["title"], row["dek"], zip(row["headings"], row["bodies"], strict=True)
    )


def _deep_dive_differences(row: Any, wanted: DeepDiveFigures) -> dict[str, tuple[Any, Any]]:
    """Each stored figure of the deep dive that differs: (stored, expected)."""
    expected = {
        "table_of_contents": [asdict(entry) for entry in wanted.table_of_contents],
        "word_count": wanted.word_count,
        "read_time_minutes": wanted.read_time_minutes,
        "share_text": wanted.share_text,
        "anchors": [s.anchor for s in wanted.sections],
        "html": [s.html for s in wanted.sections],
        "text": [s.text for s in wanted.sections],
    }
    stored = {
        "table_of_contents": _decoded("table_of_contents", row["table_of_contents"]),
        "word_count": row["word_count"],
        "read_time_minutes": row["read_time_minutes"],
        "share_text": row["share_text"],
        "anchors": list(row["anchors"]),
        "html": list(row["html"]),
        "text": list(row["text"]),
    }
    return {
        name: (stored[name], expected[name]) for name in expected if stored[name] != expected[name]
    }


async def refresh_deep_dives(conn: Connection | Pool, deep_dive_ids: Sequence[int]) -> None:
    """Render and store the bodies and figures of these deep dives; refresh their listings."""
    if not deep_dive_ids:
        return
    rows = await conn.fetch(_DEEP_DIVES_BY_IDS, list(deep_dive_ids))
    await _store_deep_dives(conn, rows)
    await listings.refresh_deep_dives(conn, deep_dive_ids)


async def _store_deep_dives(conn: Connection | Pool, rows: Sequence[Any]) -> None:
    figures = [(row, _deep_dive_expected(row)) for row in rows]
    figures = [(row, wanted) for row, wanted in figures if _deep_dive_differences(row, wanted)]
    if not figures:
        return
    await conn.execute(
        _WRITE_DEEP_DIVES,
        [row["id"] for row, _ in figures],
        [
            orjson.dumps([asdict(e) for e in wanted.table_of_contents]).decode()
            for _, wanted in figures
        ],
        [wanted.word_count for _, wanted in figures],
        [wanted.read_time_minutes for _, wanted in figures],
        [wanted.share_text for _, wanted in figures],
    )
    sections = [
        (row["id"], position, section)
        for row, wanted in figures
        for position, section in enumerate(wanted.sections, 1)
    ]
    await conn.execute(
        _WRITE_SECTIONS,
        [dive_id for dive_id, _, _ in sections],
        [position for _, position, _ in sections],
        [section.anchor for _, _, section in sections],
        [section.html for _, _, section in sections],
        [section.text for _, _, section in sections],
    )


# --- outlets re-rated ---------------------------------------------------------------------

_QUEUE_OUTLET = """
INSERT INTO figure_refreshes (story_id)
SELECT DISTINCT ss.story_id FROM sources so JOIN story_sources ss ON ss.source_id = so.id
WHERE so.outlet_id = $1
ON CONFLICT (story_id) DO NOTHING
"""
_TAKE_QUEUED = """
DELETE FROM figure_refreshes WHERE story_id IN (
    SELECT story_id FROM figure_refreshes ORDER BY story_id LIMIT $1 FOR UPDATE SKIP LOCKED
) RETURNING story_id
"""


async def queue_outlet(conn: Connection, outlet_id: int) -> None:
    """Queue every story citing the outlet for a recompute (in the outlet write's
    transaction); drain() does the work."""
    await conn.execute(_QUEUE_OUTLET, outlet_id)


async def drain(pool: Pool, batch: int = DRAIN_BATCH) -> int:
    """Recompute queued stories, `batch` to a transaction, until none is left; announce the
    live ones whose figures changed (UPDATED, with purge keys). How many it recomputed."""
    done = 0
    if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM figure_refreshes)"):
        return done
    while True:
        async with pool.acquire() as conn, conn.transaction():
            await changes.serialize_writes(conn)
            ids = await take_queued(conn, batch)
            if not ids:
                return done
            changed = await refresh_stories(conn, ids)
            await changes.note_figures_changed(conn, changed)
        done += len(ids)


async def take_queued(conn: Connection, batch: int) -> list[int]:
    """Up to `batch` queued story ids, taken off the queue (inside the caller's transaction:
    they come back if it rolls back)."""
    return sorted(row[0] for row in await conn.fetch(_TAKE_QUEUED, batch))


async def queued(pool: Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM figure_refreshes")
    return count


# --- everything, at once ------------------------------------------------------------------


async def ensure_current(pool: Pool) -> bool:
    """Recompute every stored figure and listing when they were made by another definition
    (content.figures.FIGURES_VERSION), e.g. on the first start after migration 0008. True
    when it did."""
    async with pool.acquire() as conn:
        # One process recomputes; the others wait here and then find nothing to do.
        await conn.execute("SELECT pg_advisory_lock(hashtext('newsgraph.figures'))")
        try:
            stored = await conn.fetchval(
                "SELECT version FROM derived_versions WHERE name = 'figures'"
            )
            if stored == FIGURES_VERSION:
                return False
            log.info("computing stored figures (definition %s)", FIGURES_VERSION)
            await rebuild(pool)
            await conn.execute(
                "UPDATE derived_versions SET version = $1 WHERE name = 'figures'", FIGURES_VERSION
            )
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('newsgraph.figures'))")


async def rebuild(pool: Pool, batch: int = REBUILD_BATCH) -> None:
    """Recompute the figures and listings of every story and deep dive, `batch` at a time,
    each batch a transaction of its own under the writers' lock (so that a write between
    reading the raw rows and storing the figures cannot be overwritten)."""
    for select, store in ((_STORIES_AFTER, _rebuild_stories), (_DEEP_DIVES_AFTER, _rebuild_dives)):
        last = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                await changes.serialize_writes(conn)
                await conn.execute("SET LOCAL statement_timeout = 0")
                rows = await conn.fetch(select, last, batch)
                if not rows:
                    break
                await store(conn, rows)
            last = rows[-1]["id"]


async def _rebuild_stories(conn: Connection, rows: Sequence[Any]) -> None:
    await _store_stories(conn, rows)
    await listings.refresh(conn, [row["id"] for row in rows], deep_dives=False)


async def _rebuild_dives(conn: Connection, rows: Sequence[Any]) -> None:
    await _store_deep_dives(conn, rows)
    await listings.refresh_deep_dives(conn, [row["id"] for row in rows])


# --- checking -----------------------------------------------------------------------------


async def verify(pool: Pool, batch: int = REBUILD_BATCH) -> AsyncIterator[Mismatch]:
    """Every stored figure, listing entry and list size that differs from a fresh computation
    from the raw rows."""
    last = 0
    while rows := await pool.fetch(_STORIES_AFTER, last, batch):
        for row in rows:
            stored, expected = _story_stored(row), _story_expected(row)
            for name in _STORY_COLUMNS:
                if stored[name] != expected[name]:
                    yield Mismatch("story", row["id"], name, stored[name], expected[name])
        last = rows[-1]["id"]
    last = 0
    while rows := await pool.fetch(_DEEP_DIVES_AFTER, last, batch):
        for row in rows:
            found = _deep_dive_differences(row, _deep_dive_expected(row))
            for name, (stored, expected) in found.items():
                yield Mismatch("deep_dive", row["id"], name, stored, expected)
        last = rows[-1]["id"]
    async for mismatch in listings.verify(pool):
        yield Mismatch(*mismatch)
    async for mismatch in vocabulary.verify(pool):
        yield Mismatch(*mismatch)
