"""Read replicas: reads go to a streaming replica that has replayed what they must see,
writes and everything else to the primary.

What a read must see is a position in the primary's write-ahead log (an LSN): the caller's
own last write, which a response to a write names and the next request may carry
(api.replicas), and every write this process has heard of (each purge notice: the response
cache must not keep an answer read from before the write it was just purged for). A replica
that has not replayed that far is passed over, and with none caught up the primary answers.
Each replica's replay position is read in the background every POLL_SECONDS, so choosing a
pool costs no query; while a heard write's position is being read, reads go to the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re

from db.pool import Pool

log = logging.getLogger("newsgraph.replicas")

POLL_SECONDS = 0.05
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def parse_position(text: str) -> int | None:
    """A log position as PostgreSQL writes it (`16/B374D848`), or None if it is not one."""
    found = _LSN.match(text.strip())
    return (int(found[1], 16) << 32) + int(found[2], 16) if found else None


def format_position(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


async def primary_position(pool: Pool) -> int:
    """Where the primary's log ends now: past every write committed so far."""
    text: str = await pool.fetchval("SELECT pg_current_wal_lsn()::text")
    return parse_position(text) or 0


async def replayed_position(pool: Pool) -> int | None:
    """How far a replica has replayed the primary's log (None: it is not a replica)."""
    text: str | None = await pool.fetchval("SELECT pg_last_wal_replay_lsn()::text")
    return parse_position(text) if text else None


class Replicas:
    """The primary and its replicas, and which may answer a read now."""

    def __init__(self, primary: Pool, replicas: list[Pool]) -> None:
        self.primary, self.replicas = primary, replicas
        self.replayed: list[int | None] = [None] * len(replicas)
        """Each replica's replay position when last read (None: unknown or unreachable)."""
        self.seen = 0
        """The latest write position this process knows of."""
        self.reads = [0] * (len(replicas) + 1)
        """Reads sent to the primary (first) and to each replica, for GET /stats."""
        self._looking = 0  # positions of heard writes still being read
        self._turn = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> bool:
        """Whether there are replicas to route reads to at all."""
        return bool(self.replicas)

    def choose(self, after: int = 0) -> Pool:
        """A pool to read from that shows every write up to `after` and all this process
        has heard of."""
        if self.active and not self._looking:
            needed = max(after, self.seen)
            ready = [n for n, at in enumerate(self.replayed) if at is not None and at >= needed]
            if ready:
                n = ready[next(self._turn) % len(ready)]
                self.reads[n + 1] += 1
                return self.replicas[n]
        self.reads[0] += 1
        return self.primary

    async def wrote(self) -> int:
        """The position after this process's latest write (for the writer's next reads)."""
        position = await primary_position(self.primary)
        self.seen = max(self.seen, position)
        return position

    def purged(self, keys: list[str]) -> None:
        """A write was heard of (db.purge.Listener): reads wait for its position."""
        if not self.active:
            return
        self._looking += 1
        task = asyncio.get_running_loop().create_task(self._look())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look(self) -> None:
        try:
            await self.wrote()
        except Exception as error:  # the primary answers every read meanwhile
            log.warning("cannot read the primary's log position: %s", error)
        finally:
            self._looking -= 1

    async def run(self) -> None:
        """Keep each replica's replay position fresh."""
        while True:
            for n, replica in enumerate(self.replicas):
                try:
                    self.replayed[n] = await replayed_position(replica)
                except Exception as error:  # a replica away is passed over until it is back
                    if self.replayed[n] is not None:
                        log.warning("replica %d is not answering: %s", n + 1, error)
                    self.replayed[n] = None
            await asyncio.sleep(POLL_SECONDS)

    def stats(self) -> dict[str, object]:
        return {
            "replicas": len(self.replicas),
            "readsFromPrimary": self.reads[0],
            "readsFromReplicas": self.reads[1:],
            "replayed": [format_position(p) if p is not None else None for p in self.replayed],
        }

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for replica in self.replicas:
            with contextlib.suppress(Exception):
                await replica.close()
