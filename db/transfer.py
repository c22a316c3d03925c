"""NDJSON import and export: one content document a line, `{"type": kind, ...fields}`.

Import is idempotent (an unchanged document writes nothing), commits in batches, and isolates
each line in a savepoint, so a bad line is reported and the valid ones still land (unless
strict). Export writes every kind in reference order, so an export imports cleanly into an
empty database and exports again byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from content.documents import FILE_KINDS, KINDS, Invalid, natural_key, parse
from db import audit, editorial, figures, images
from db.pool import Pool


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class Report:
    counts: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    last_committed_line: int = 0

    def summary(self) -> str:
        parts = [f"{self.counts[o]} {o}" for o in ("created", "updated", "unchanged")]
        return ", ".join([*parts, f"{len(self.rejections)} rejected"])


def _decode(text: str) -> tuple[str, dict[str, Any]]:
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object")
    kind = raw.get("type")
    if kind not in FILE_KINDS:
        raise ValueError(f"`type` must be one of {', '.join(FILE_KINDS)}")
    return kind, parse(kind, raw)


async def import_lines(
    pool: Pool,
    lines: Iterable[tuple[int, str]],
    *,
    actor: audit.Actor,
    strict: bool = False,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
    report: Report | None = None,
) -> Report:
    """Save each (line number, text); blank lines are skipped. Pass a report to read how far
    the import got even if it is interrupted."""
    report = report if report is not None else Report()
    batch: list[tuple[int, str]] = []

    async def flush() -> bool:
        """Commit the batch; False when strict mode hit a bad line (the lines before it are
        committed, the checkpoint says so). Re-rated outlets' stories are recomputed then."""
        async with pool.acquire() as conn, conn.transaction():
            ok, last = await save_batch(conn)
        report.last_committed_line = last  # only once the transaction has committed
        await figures.drain(pool)
        progress(len(batch))
        batch.clear()
        return ok

    async def save_batch(conn: Any) -> tuple[bool, int]:
        last = report.last_committed_line
        for number, text in batch:
            try:
                kind, document = _decode(text)
                if kind == "image":  # an image's own metadata (db.images), not an item
                    async with conn.transaction():
                        outcome, image_id = await images.save_document(conn, document)
                    saved = editorial.Saved(outcome, image_id, None, None)
                else:
                    saved = await editorial.save(conn, kind, document)
            except (ValueError, Invalid) as error:
                report.rejections.append(Rejection(number, str(error)))
                if strict:
                    return False, last
                last = number
                continue
            last = number
            report.counts[saved.outcome] += 1
            if saved.outcome != "unchanged":
                await audit.record(
                    conn,
                    actor,
                    f"import:{saved.outcome}",
                    kind,
                    saved.id,
                    natural_key(kind, document),
                    saved.before_version,
                    saved.after_version,
                )
        return True, last

    for number, text in lines:
        if text.strip():
            batch.append((number, text))
        if len(batch) >= batch_size and not await flush():
            return report
    if batch:
        await flush()
    return report


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


async def export_lines(pool: Pool) -> AsyncIterator[bytes]:
    """Every document, one NDJSON line each (newline included), referenced kinds first
    (images' own metadata before all: stories and sources name them by URL)."""
    for image in await images.export_documents(pool):
        yield orjson.dumps({"type": "image", **image}) + b"\n"
    for kind in KINDS:
        async for stored in editorial.export_documents(pool, kind):
            yield orjson.dumps({"type": kind, **stored.document}, default=_default) + b"\n"
