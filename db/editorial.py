"""Writes: content documents (content.documents) saved into the tables, and read back out.

Every save runs on a connection inside the caller's transaction, compares the stored document
with the new one (equal means unchanged: nothing is written and no version is bumped), checks
references (slugs and URLs) and reports what is wrong as content.documents.Invalid, with the
path of the offending field, before PostgreSQL would refuse it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from content.changes import reference_keys
from content.documents import Invalid, Path, Problem, natural_key
from content.sentiment import infer_sentiment
from db import audit, changes, figures, purge, search
from db.pool import Connection, Pool


@dataclass(frozen=True)
class Stored:
    """A document as stored, with the row's id and version (None for unversioned kinds)."""

    id: int
    version: int | None
    document: dict[str, Any]


@dataclass(frozen=True)
class Saved:
    outcome: str  # "created", "updated" or "unchanged"
    id: int
    before_version: int | None
    after_version: int | None


class Conflict(Exception):
    """The item changed since the caller read it: nothing was written."""

    def __init__(self, stored: Stored, expected_version: int) -> None:
        super().__init__(
            f"was changed by someone else: you sent version {expected_version}, "
            f"the current version is {stored.version}"
        )
        self.stored = stored
        self.expected_version = expected_version


# --- reading documents --------------------------------------------------------------------


def _image(alias: str) -> str:
    """A hero image's document (content.documents), or NULL."""
    return f"""CASE WHEN {alias}.hero_image_url IS NULL THEN NULL ELSE jsonb_build_object(
    'url', {alias}.hero_image_url, 'alt', {alias}.hero_image_alt,
    'caption', {alias}.hero_image_caption, 'credit', {alias}.hero_image_credit) END"""


_IMAGE = _image("s")
_SELECT = {
    "outlet": """SELECT o.id, NULL::int AS version, o.slug, o.name, o.domain, o.country, o.bias,
        o.factuality, o.owner, o.rating_basis, o.rated_on FROM outlets o""",
    "topic": """SELECT t.id, NULL::int AS version, t.slug, t.name, t.kind, t.description
        FROM topics t""",
    "source": """SELECT so.id, NULL::int AS version, so.url, o.slug AS outlet, so.title,
        so.author, so.published_at, so.language, so.excerpt, so.image_url, so.image_alt,
        so.image_caption, so.image_credit
        FROM sources so JOIN outlets o ON o.id = so.outlet_id""",
    "story": f"""SELECT s.id, s.version, s.slug, s.title, s.summary, c.slug AS category,
        ARRAY(SELECT t.slug FROM story_topics st JOIN topics t ON t.id = st.topic_id
              WHERE st.story_id = s.id ORDER BY st.position) AS topics,
        ARRAY(SELECT so.url FROM story_sources ss JOIN sources so ON so.id = ss.source_id
              WHERE ss.story_id = s.id ORDER BY ss.position) AS sources,
        s.sentiment, {_IMAGE} AS hero_image, s.status, s.published_at, s.syndicatable
        FROM stories s LEFT JOIN topics c ON c.id = s.category_id""",
    "deep_dive": f"""SELECT d.id, d.version, d.slug, st.slug AS story, d.title, d.dek, d.status,
        d.published_at,
        ARRAY(SELECT jsonb_build_object('heading', x.heading, 'body', x.body)
              FROM deep_dive_sections x WHERE x.deep_dive_id = d.id ORDER BY x.position)
            AS sections,
        ARRAY(SELECT t.slug FROM deep_dive_key_actors a JOIN topics t ON t.id = a.topic_id
              WHERE a.deep_dive_id = d.id ORDER BY a.position) AS key_actors,
        ARRAY(SELECT jsonb_build_object('source', so.url, 'note', c.note)
              FROM deep_dive_citations c JOIN sources so ON so.id = c.source_id
              WHERE c.deep_dive_id = d.id ORDER BY c.position) AS citations,
        d.syndicatable, {_image("d")} AS hero_image
        FROM deep_dives d JOIN stories st ON st.id = d.story_id""",
}
_ALIAS = {"outlet": "o", "topic": "t", "source": "so", "story": "s", "deep_dive": "d"}
_KEY = {"outlet": "slug", "topic": "slug", "source": "url", "story": "slug", "deep_dive": "slug"}
_LOCK = {kind: f"FOR UPDATE OF {alias}" for kind, alias in _ALIAS.items()}
_BY_KEY = {
    kind: f"{sql} WHERE {_ALIAS[kind]}.{_KEY[kind]} = $1 {_LOCK[kind]}"
    for kind, sql in _SELECT.items()
}
_BY_ID = {
    kind: f"{sql} WHERE {_ALIAS[kind]}.id = $1 {_LOCK[kind]}" for kind, sql in _SELECT.items()
}
_AFTER_ID = {
    kind: f"{sql} WHERE {_ALIAS[kind]}.id > $1 ORDER BY {_ALIAS[kind]}.id LIMIT $2"
    for kind, sql in _SELECT.items()
}
_JSON_COLUMNS = {"hero_image", "sections", "citations"}


def _stored(row: Any) -> Stored:
    document = {}
    for name, value in row.items():
        if name in ("id", "version"):
            continue
        if name in _JSON_COLUMNS and value is not None:
            value = _json(value)
        elif isinstance(value, list):
            value = list(value)
        document[name] = value
    return Stored(row["id"], row["version"], document)


def _json(value: Any) -> Any:
    """jsonb arrives decoded (db.pool's codec); a jsonb[] as a list of decoded values."""
    return list(value) if isinstance(value, list) else value


async def stored_by_key(conn: Connection, kind: str, key: str) -> Stored | None:
    """The stored document with this slug (URL for sources), locked for this transaction."""
    row = await conn.fetchrow(_BY_KEY[kind], key)
    return _stored(row) if row else None


async def stored_by_id(conn: Connection, kind: str, item_id: int) -> Stored | None:
    row = await conn.fetchrow(_BY_ID[kind], item_id)
    return _stored(row) if row else None


async def export_documents(pool: Pool, kind: str, batch: int = 500) -> AsyncIterator[Stored]:
    """Every stored document of a kind, in id order (the order they were created in)."""
    last = 0
    while True:
        rows = await pool.fetch(_AFTER_ID[kind], last, batch)
        for row in rows:
            yield _stored(row)
        if len(rows) < batch:
            return
        last = rows[-1]["id"]


# --- resolving references -----------------------------------------------------------------


async def _ids(
    conn: Connection, table: str, column: str, keys: Sequence[str], path: Path, what: str
) -> list[int]:
    """The ids of rows whose `column` is each of keys, in order; Invalid names the missing."""
    rows = await conn.fetch(
        f"""SELECT u.position, t.id FROM unnest($1::text[]) WITH ORDINALITY AS u(key, position)
            LEFT JOIN {table} t ON t.{column} = u.key ORDER BY u.position""",
        list(keys),
    )
    problems = [
        Problem((*path, index), "UNKNOWN_REFERENCE", f"no {what} {keys[index]!r}")
        for index, row in enumerate(rows)
        if row["id"] is None
    ]
    if problems:
        raise Invalid(problems)
    return [row["id"] for row in rows]


async def _one_id(
    conn: Connection, table: str, column: str, key: str, field: str, what: str
) -> int:
    rows = await conn.fetch(f"SELECT id FROM {table} WHERE {column} = $1", key)
    if not rows:
        raise Invalid([Problem((field,), "UNKNOWN_REFERENCE", f"no {what} {key!r}")])
    item_id: int = rows[0]["id"]
    return item_id


# Ordered link tables: table -> (owner column, target column).
_LINKS = {
    "story_sources": ("story_id", "source_id"),
    "story_topics": ("story_id", "topic_id"),
    "deep_dive_key_actors": ("deep_dive_id", "topic_id"),
}


async def _replace_links(conn: Connection, table: str, owner_id: int, targets: list[int]) -> None:
    """Make owner_id's links exactly `targets`, in order, touching only what changes (rows
    that stay are never deleted, so citations of a kept source stay valid)."""
    owner, target = _LINKS[table]
    await conn.execute(
        f"DELETE FROM {table} WHERE {owner} = $1 AND NOT ({target} = ANY($2::bigint[]))",
        owner_id,
        targets,
    )
    await conn.execute(f"UPDATE {table} SET position = -position WHERE {owner} = $1", owner_id)
    await conn.execute(
        f"""INSERT INTO {table} ({owner}, {target}, position)
            SELECT $1, u.target, u.position
            FROM unnest($2::bigint[]) WITH ORDINALITY AS u(target, position)
            ON CONFLICT ({owner}, {target}) DO UPDATE SET position = EXCLUDED.position""",
        owner_id,
        targets,
    )


# --- saving -------------------------------------------------------------------------------


async def save(
    conn: Connection, kind: str, document: dict[str, Any], *, create_only: bool = False
) -> Saved:
    """Create or update the item with the document's slug (URL for sources). Raises Invalid."""
    stored = await stored_by_key(conn, kind, document[_KEY[kind]])
    if stored is not None and create_only:
        raise Invalid(
            [Problem((_KEY[kind],), "TAKEN", f"{stored.document[_KEY[kind]]!r} is already taken")]
        )
    return await _save_over(conn, kind, document, stored)


async def apply(
    pool: Pool,
    kind: str,
    change: Callable[[dict[str, Any] | None], dict[str, Any]],
    *,
    actor: audit.Actor,
    action: str,
    item_id: int | None = None,
    expected_version: int | None = None,
    create_only: bool = False,
    takedown: str | None = None,
) -> Saved:
    """One write in one transaction. With item_id: read that item (locked), check the version
    the caller read, and build the new document with change(current document); without: build
    it with change(None) and save it by its slug or URL. change parses the document (it may
    raise Invalid). The write is noted in the audit log. Raises Invalid or Conflict; either way
    nothing is written. takedown: the reason, when the write takes the item down."""
    async with pool.acquire() as conn, conn.transaction():
        if item_id is None:
            document = change(None)
            saved = await save(conn, kind, document, create_only=create_only)
        else:
            stored = await stored_by_id(conn, kind, item_id)
            if stored is None:
                raise Invalid([Problem(("id",), "NOT_FOUND", "no such item")])
            if expected_version is not None and stored.version != expected_version:
                raise Conflict(stored, expected_version)
            document = change(stored.document)
            saved = await _save_over(conn, kind, document, stored, takedown=takedown)
        if saved.outcome != "unchanged":
            await audit.record(
                conn,
                actor,
                action,
                kind,
                saved.id,
                natural_key(kind, document),
                saved.before_version,
                saved.after_version,
            )
    if kind == "outlet" and saved.outcome == "updated":
        await figures.drain(pool)  # the stories a new rating changed
    return saved


async def _save_over(
    conn: Connection,
    kind: str,
    document: dict[str, Any],
    stored: Stored | None,
    *,
    takedown: str | None = None,
) -> Saved:
    """Write the document over the stored item (or as a new one): nothing when they are equal.
    Stories and deep dives also note what the write means to readers (db.changes)."""
    if stored is not None and stored.document == document:
        return Saved("unchanged", stored.id, stored.version, stored.version)
    await changes.serialize_writes(conn)
    key = document[_KEY[kind]]
    renamed = stored is not None and stored.document[_KEY[kind]] != key
    if renamed and await stored_by_key(conn, kind, key) is not None:
        raise Invalid([Problem((_KEY[kind],), "TAKEN", f"{key!r} is already taken")])
    try:
        async with conn.transaction():  # a savepoint: a refused write leaves nothing behind
            saved_id, version = await _WRITERS[kind](conn, document, stored)
    except asyncpg.UniqueViolationError as error:
        raise Invalid([_unique_problem(kind, error)]) from None
    except asyncpg.ForeignKeyViolationError as error:
        raise Invalid([_foreign_key_problem(error)]) from None
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        # The documents' own checks should have caught it; still an input problem, not a 500.
        raise Invalid([Problem((), "INVALID", f"refused by the database: {error}")]) from None
    if kind in _VERSIONED_KINDS:
        before = stored.document if stored else None
        await changes.note_write(conn, kind, saved_id, before, document, takedown=takedown)
    else:  # no change event, but cached answers show it: an outlet's name, a topic's
        slugs = [d[_KEY[kind]] for d in (stored.document if stored else None, document) if d]
        await purge.announce(conn, reference_keys(kind, saved_id, slugs))
    return Saved(
        "created" if stored is None else "updated",
        saved_id,
        stored.version if stored else None,
        version,
    )


def _unique_problem(kind: str, error: asyncpg.UniqueViolationError) -> Problem:
    constraint = error.constraint_name or ""
    if constraint == "outlets_domain_key":
        return Problem(("domain",), "TAKEN", "another outlet has this domain")
    if constraint == "deep_dives_story_id_key":
        return Problem(("story",), "TAKEN", "that story already has a deep dive")
    return Problem((_KEY[kind],), "TAKEN", "is already taken")


def _foreign_key_problem(error: asyncpg.ForeignKeyViolationError) -> Problem:
    if error.constraint_name == "deep_dive_citations_story_source_fkey":
        return Problem(
            ("sources",),
            "CITED_SOURCE",
            "a source the story's deep dive cites cannot be removed; remove the citation first",
        )
    return Problem((), "UNKNOWN_REFERENCE", "refers to something that does not exist")


_VERSIONED = {"stories", "deep_dives"}
_VERSIONED_KINDS = {"story", "deep_dive"}


async def _write_row(
    conn: Connection, values: dict[str, Any], stored: Stored | None, *, table: str
) -> tuple[int, int | None]:
    """Insert the row, or update the stored one (bumping its version where the table has one);
    its id and version."""
    names = ", ".join(values)
    versioned = table in _VERSIONED
    returning = "RETURNING id, " + ("version" if versioned else "NULL::int AS version")
    if stored is None:
        slots = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        if versioned:  # created already published: unedited since (see content.web_metadata)
            at = list(values).index("published_at") + 1
            names += ", updated_at"
            slots += f", least(now(), coalesce(${at}::timestamptz, now()))"
        sql = f"INSERT INTO {table} ({names}) VALUES ({slots}) {returning}"
        row = await conn.fetchrow(sql, *values.values())
    else:
        slots = ", ".join(f"${i}" for i in range(2, len(values) + 2))
        bump = (", version", ", version + 1") if versioned else ("", "")
        sql = f"""UPDATE {table} SET ({names}{bump[0]}, updated_at) = ({slots}{bump[1]}, now())
                  WHERE id = $1 {returning}"""
        row = await conn.fetchrow(sql, stored.id, *values.values())
    return row["id"], row["version"]


async def _write_source(
    conn: Connection, d: dict[str, Any], stored: Stored | None
) -> tuple[int, int | None]:
    outlet_id = await _one_id(conn, "outlets", "slug", d["outlet"], "outlet", "outlet")
    values = {name: value for name, value in d.items() if name != "outlet"}
    saved = await _write_row(conn, values | {"outlet_id": outlet_id}, stored, table="sources")
    if stored is not None and _changed(stored, d, _SOURCE_FIGURE_INPUTS):
        citing = [row[0] for row in await conn.fetch(_CITING, saved[0])]
        changed = await figures.refresh_stories(conn, citing)
        await changes.note_figures_changed(conn, changed)
    return saved


# What a story's figures read of its sources and their outlets (content.figures.SourceFacts).
_SOURCE_FIGURE_INPUTS = ("outlet", "published_at")
_OUTLET_FIGURE_INPUTS = ("bias", "factuality", "country")
_CITING = "SELECT story_id FROM story_sources WHERE source_id = $1"


def _changed(stored: Stored, document: dict[str, Any], names: tuple[str, ...]) -> bool:
    return any(stored.document[name] != document[name] for name in names)


async def _write_outlet(
    conn: Connection, d: dict[str, Any], stored: Stored | None
) -> tuple[int, int | None]:
    """A re-rated outlet queues the stories citing it; db.figures.drain recomputes them in
    short transactions of their own once this one commits."""
    saved = await _write_row(conn, d, stored, table="outlets")
    if stored is not None and _changed(stored, d, _OUTLET_FIGURE_INPUTS):
        await figures.queue_outlet(conn, saved[0])
    return saved


async def _write_story(
    conn: Connection, d: dict[str, Any], stored: Stored | None
) -> tuple[int, int | None]:
    category_id = None
    if d["category"] is not None:
        category_id = await conn.fetchval(
            "SELECT id FROM topics WHERE slug = $1 AND kind = 'CATEGORY'", d["category"]
        )
        if category_id is None:
            raise Invalid([Problem(("category",), "UNKNOWN_REFERENCE", "no such category")])
    topic_ids = await _ids(conn, "topics", "slug", d["topics"], ("topics",), "topic")
    source_ids = await _ids(conn, "sources", "url", d["sources"], ("sources",), "source")
    image = d["hero_image"] or {}
    values = {name: d[name] for name in ("slug", "title", "summary", "sentiment")}
    values |= {f"hero_image_{part}": image.get(part) for part in ("url", "alt", "caption")}
    values |= {
        "hero_image_credit": image.get("credit"),
        "category_id": category_id,
        "status": d["status"],
        "published_at": d["published_at"],
        "sentiment_inferred": infer_sentiment(d["title"], d["summary"]),
        "syndicatable": d["syndicatable"],
    }
    story_id, version = await _write_row(conn, values, stored, table="stories")
    await _replace_links(conn, "story_sources", story_id, source_ids)
    await _replace_links(conn, "story_topics", story_id, topic_ids)
    await search.refresh(conn, "story", [story_id])
    await figures.refresh_stories(conn, [story_id])
    return story_id, version


async def _write_deep_dive(
    conn: Connection, d: dict[str, Any], stored: Stored | None
) -> tuple[int, int | None]:
    story_id = await _one_id(conn, "stories", "slug", d["story"], "story", "story")
    actor_ids = await _ids(conn, "topics", "slug", d["key_actors"], ("key_actors",), "topic")
    cited = await conn.fetch(
        """SELECT u.position, ss.source_id
           FROM unnest($2::text[]) WITH ORDINALITY AS u(url, position)
           LEFT JOIN sources so ON so.url = u.url
           LEFT JOIN story_sources ss ON ss.source_id = so.id AND ss.story_id = $1
           ORDER BY u.position""",
        story_id,
        [c["source"] for c in d["citations"]],
    )
    problems = [
        Problem(
            ("citations", i, "source"), "NOT_A_STORY_SOURCE", "is not one of the story's sources"
        )
        for i, row in enumerate(cited)
        if row["source_id"] is None
    ]
    if problems:
        raise Invalid(problems)
    values = {
        name: d[name] for name in ("slug", "title", "dek", "status", "published_at", "syndicatable")
    }
    image = d["hero_image"] or {}
    values |= {f"hero_image_{part}": image.get(part) for part in ("url", "alt", "caption")}
    values["hero_image_credit"] = image.get("credit")
    dive_id, version = await _write_row(
        conn, values | {"story_id": story_id}, stored, table="deep_dives"
    )
    for table in ("deep_dive_sections", "deep_dive_citations"):
        await conn.execute(f"DELETE FROM {table} WHERE deep_dive_id = $1", dive_id)
    await conn.executemany(
        "INSERT INTO deep_dive_sections (deep_dive_id, position, heading, body) "
        "VALUES ($1, $2, $3, $4)",
        [(dive_id, i, s["heading"], s["body"]) for i, s in enumerate(d["sections"], 1)],
    )
    await conn.executemany(
        """INSERT INTO deep_dive_citations (deep_dive_id, story_id, position, source_id, note)
           VALUES ($1, $2, $3, $4, $5)""",
        [
            (dive_id, story_id, i, row["source_id"], c["note"])
            for i, (row, c) in enumerate(zip(cited, d["citations"], strict=True), 1)
        ],
    )
    await _replace_links(conn, "deep_dive_key_actors", dive_id, actor_ids)
    await search.refresh(conn, "deep_dive", [dive_id])
    await figures.refresh_deep_dives(conn, [dive_id])
    return dive_id, version


async def _write_topic(
    conn: Connection, d: dict[str, Any], stored: Stored | None
) -> tuple[int, int | None]:
    topic_id, version = await _write_row(conn, d, stored, table="topics")
    if stored is not None and stored.document["name"] != d["name"]:
        await search.refresh_topic(conn, topic_id)  # its name is in stories' documents
    return topic_id, version


_WRITERS: dict[str, Any] = {
    "outlet": _write_outlet,
    "topic": _write_topic,
    "source": _write_source,
    "story": _write_story,
    "deep_dive": _write_deep_dive,
}


async def has_stories(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM stories)"))
