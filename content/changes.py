"""What a write means to readers outside: the change events of the `changes` feed and
webhooks, and the cache keys each one purges (no I/O).

An item is *live* from its start (the publish time of a PUBLISHED item; for a deep dive, the
later of its own and its story's) on. Events describe the live view only: editing a draft
tells partners nothing, a scheduled publish is announced when its time comes, and a live item
that stops being live is announced as its removal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Event(Enum):
    PUBLISHED = "PUBLISHED"
    UPDATED = "UPDATED"
    UNPUBLISHED = "UNPUBLISHED"
    ARCHIVED = "ARCHIVED"
    TAKEN_DOWN = "TAKEN_DOWN"


@dataclass(frozen=True)
class Planned:
    event: Event
    at: datetime
    """When the event happens for readers: now, or a scheduled publish time."""


def start(status: str, published_at: datetime | None) -> datetime | None:
    """When an item with this status and publish time is live from; None: not while so."""
    return published_at if status == "PUBLISHED" else None


def later_start(own: datetime | None, parent: datetime | None) -> datetime | None:
    """A deep dive is live only while the story it analyses is live too."""
    if own is None or parent is None:
        return None
    return max(own, parent)


def plan(
    before: datetime | None,
    after: datetime | None,
    now: datetime,
    *,
    changed: bool,
    removal: Event,
) -> list[Planned]:
    """The events of one write that moved an item's start from `before` to `after`.

    changed: whether the item's own content changed (a live item then gets UPDATED).
    removal: the event announcing that a live item is no longer live (by the new status).
    """
    was_live = before is not None and before <= now
    if after is None:
        return [Planned(removal, now)] if was_live else []
    if after <= now:
        if not was_live:
            return [Planned(Event.PUBLISHED, now)]
        return [Planned(Event.UPDATED, now)] if changed else []
    # Scheduled: announced when its time comes; pulled back from live until then.
    pulled = [Planned(Event.UNPUBLISHED, now)] if was_live else []
    return [*pulled, Planned(Event.PUBLISHED, after)]


# --- cache keys ---------------------------------------------------------------------------
# Every cached response (feeds, REST, sitemaps, GraphQL GET) names what it contains in
# Surrogate-Key / Cache-Tag; every change event names the keys to purge.

FEEDS = "feeds"
SITEMAPS = "sitemaps"
OUTLETS = "outlets"
TOPICS = "topics"
SOURCES = "sources"
LISTS = {"story": "stories", "deep_dive": "deep-dives"}
"""A list of a kind: any response whose items could change when one is published."""
_REFERENCE_LISTS = {"outlet": OUTLETS, "topic": TOPICS, "source": SOURCES}


def item_key(kind: str, pk: int) -> str:
    """ "story-12", "deep-dive-3", "outlet-7", "source-40"."""
    return f"{kind.replace('_', '-')}-{pk}"


def topic_key(slug: str) -> str:
    return f"topic-{slug}"


def purge_keys(kind: str, pk: int, topics: Iterable[str], related: Iterable[str] = ()) -> list[str]:
    """What to purge when a story or deep dive changes: the item, the lists of its kind, its
    topics' pages (slugs before and after the change), feeds and sitemaps, and `related`
    items that show it (a story shows its deep dive's link, a deep dive its story)."""
    keys = [item_key(kind, pk), *related, LISTS[kind], *map(topic_key, topics), FEEDS, SITEMAPS]
    return list(dict.fromkeys(keys))


def reference_keys(kind: str, pk: int, slugs: Iterable[str]) -> list[str]:
    """What to purge when an outlet, topic or source is written (they have no change
    events): the object wherever it is shown (a topic by its slugs before and after), and
    the list of its kind."""
    own = list(map(topic_key, slugs)) if kind == "topic" else [item_key(kind, pk)]
    return [*own, _REFERENCE_LISTS[kind]]
