"""The command line's side of NDJSON import and export: files, checkpoints, progress."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import IO

from PIL import Image
from tqdm import tqdm

from api.images import DiskStore, Store
from content.access import COMMAND_LINE
from db.audit import Actor
from db.pool import Pool
from db.transfer import Report, export_lines, import_lines

DEMO = "demo.ndjson"


def _numbered(stream: IO[str], skip_through: int) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(stream, 1):
        if number > skip_through:
            yield number, text


class ImportJob:
    """One file's import. With resume, lines an interrupted run committed are skipped; the
    checkpoint (in the data directory's `imports` folder) is kept per file and only trusted
    while the file's size and modification time are unchanged. Where that folder cannot be
    written the import still runs, without a checkpoint, and says so once."""

    def __init__(self, name: str, data_dir: Path, *, strict: bool, resume: bool) -> None:
        self.name, self.strict, self.resume = name, strict, resume
        self.path = None if name == "-" else Path(name)
        digest = hashlib.sha256(str(self.path and self.path.resolve()).encode()).hexdigest()
        self.checkpoint = data_dir / "imports" / f"{digest[:24]}.json"
        self.report = Report()
        self.skipped = 0
        self.total: int | None = None
        self.notes: list[str] = []
        if resume and self.path is None:
            raise SystemExit("--resume needs a file: standard input keeps no checkpoint")

    def _stamp(self) -> dict[str, int]:
        assert self.path is not None
        stat = self.path.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def _resume_after(self) -> int:
        if not self.resume or self.path is None:
            return 0
        try:
            saved = json.loads(self.checkpoint.read_text())
        except FileNotFoundError:
            self.notes.append(f"no checkpoint for {self.name} in {self.checkpoint.parent}")
            return 0
        except (OSError, ValueError) as error:
            self.notes.append(f"checkpoint {self.checkpoint} unreadable ({error})")
            return 0
        if saved.get("stamp") != self._stamp():
            self.notes.append(f"{self.name} changed since its checkpoint")
            return 0
        return int(saved["line"])

    def _checkpoints_writable(self) -> bool:
        if self.path is None:
            return False
        with contextlib.suppress(OSError):
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        if os.access(self.checkpoint.parent, os.W_OK | os.X_OK):
            return True
        self.notes.append(
            f"checkpoints are not kept: {self.checkpoint.parent} cannot be written (set "
            "NEWSGRAPH_DATA_DIR to a writable folder to be able to --resume)"
        )
        return False

    def _save_checkpoint(self, line: int) -> None:
        try:
            self.checkpoint.write_text(json.dumps({"line": line, "stamp": self._stamp()}))
        except OSError as error:
            self.notes.append(f"checkpoint not saved: {error}")

    async def run(self, pool: Pool, batch_size: int) -> Report:
        if self.path is not None and not self.path.is_file():
            raise SystemExit(f"{self.name}: no such file")
        skip = self.skipped = self._resume_after()
        if self.notes and skip == 0 and self.resume:
            self.notes[-1] += ": importing from the first line"
        keep = self._checkpoints_writable()
        stream = sys.stdin if self.path is None else self.path.open(encoding="utf-8")
        self.total = None if self.path is None else sum(1 for _ in self.path.open("rb"))
        report = self.report
        try:
            with tqdm(
                total=self.total, initial=skip, unit="line", desc=self.name, disable=None
            ) as bar:
                await import_lines(
                    pool,
                    _numbered(stream, skip),
                    actor=Actor(f"import ({COMMAND_LINE.name})", None),
                    strict=self.strict,
                    batch_size=batch_size,
                    progress=bar.update,
                    report=report,
                )
        finally:
            if stream is not sys.stdin:
                stream.close()
            report.last_committed_line = max(skip, report.last_committed_line)
            # Also when interrupted: the report knows the last line that committed.
            if keep:
                self._save_checkpoint(report.last_committed_line)
        return report

    def summary(self) -> str:
        """What this run did, and what an earlier run had done when it resumed."""
        done = self.report.summary()
        if not self.skipped:
            return done
        if self.skipped >= (self.total or 0):
            lines = "the line was" if self.skipped == 1 else f"all {self.skipped} lines were"
            return (
                f"nothing left: {lines} committed by an earlier run (checkpoint {self.checkpoint})"
            )
        return f"resumed after line {self.skipped} (committed by an earlier run): {done}"

    def interrupted(self) -> str:
        """The hint for an import stopped part way (Ctrl-C)."""
        line = self.report.last_committed_line
        if self.path is None:
            return (
                f"interrupted: lines 1-{line} of standard input are committed; importing "
                "them again is safe (imports are idempotent)"
            )
        where = f"{line} of {self.total}" if self.total else str(line)
        return (
            f"interrupted: lines through {where} of {self.name} are committed; run the same "
            "command with --resume to continue after them"
        )


async def export_to(pool: Pool, output: str | None) -> None:
    stream = sys.stdout.buffer if output is None else open(output, "wb")  # noqa: SIM115
    try:
        async for line in export_lines(pool):
            stream.write(line)
    finally:
        if output is not None:
            stream.close()


DEMO_IMAGES = "https://demo-images.newsgraph.invalid/"
"""Where demo.ndjson's photographs say they come from (.invalid never resolves): the demo
loader stores them under these URLs as uploads are stored, so nothing is ever fetched."""


async def load_demo(pool: Pool, store: Store | None = None) -> Report:
    """The demo content, through the same import as `newsgraph import`, its photographs
    (content/demo_images, with their rights in images.json) stored first in `store` (by
    default the data folder's), so the demo needs no network."""
    await _store_demo_images(pool, store or DiskStore(Path(".newsgraph") / "images"))
    text = files("content").joinpath(DEMO).read_text(encoding="utf-8")
    return await import_lines(
        pool, enumerate(text.splitlines(), 1), actor=Actor("demo loader", None), strict=True
    )


async def _store_demo_images(pool: Pool, store: Store) -> None:
    from db import images as db_images

    folder = files("content").joinpath("demo_images")
    manifest = json.loads(folder.joinpath("images.json").read_text())
    for name, facts in manifest.items():
        data = folder.joinpath(name).read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
        store.put(f"originals/{sha256}", data)
        record = await db_images.uploaded(
            pool,
            DEMO_IMAGES + name,
            sha256=sha256,
            content_type="image/jpeg",
            width=width,
            height=height,
            size=len(data),
        )
        await db_images.update(
            pool, record.id, {k: facts[k] for k in db_images.EDITABLE if k in facts}
        )


async def generate(pool: Pool, stories: int, *, seed: int = 1, progress: bool = True) -> str:
    """Insert `stories` deterministic synthetic stories (content.synthetic) with their
    outlets, topics, sources and deep dives; a one-line summary. Raises ValueError when the
    seed's content is already here."""
    from dataclasses import asdict

    from content.synthetic import FirstIds, Generator, chunks
    from db import bulk

    if await bulk.slug_taken(pool, "outlets", f"s{seed}-outlet-0"):
        raise ValueError(f"content for seed {seed} is already here; use another --seed")
    ids = await bulk.next_ids(pool)
    generator = Generator(
        seed,
        FirstIds(ids["outlets"], ids["topics"], ids["sources"], ids["stories"], ids["deep_dives"]),
        total=stories,
    )
    await bulk.copy_tables(pool, {"outlets": generator.outlets(), "topics": generator.topics()})
    totals: dict[str, int] = {}
    with tqdm(total=stories, unit="story", disable=None if progress else True) as bar:
        for start, count in chunks(stories, 5_000):
            batch = asdict(generator.stories(start, count))
            await bulk.copy_tables(pool, batch)
            for table, rows in batch.items():
                totals[table] = totals.get(table, 0) + len(rows)
            bar.update(count)
    await bulk.sync_sequences(pool)
    await bulk.vacuum_analyze(pool)
    return "generated: " + ", ".join(f"{n} {table}" for table, n in totals.items())
