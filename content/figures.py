"""Derived figures, each computed here and nowhere else (DESIGN.md, "Derived figures").

They are computed when the data they depend on is written, and stored (db.figures): reads
only project the stored values, and `newsgraph verify` recomputes them all from the raw rows
with these same functions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from content.text import RenderedSection, render_sections

WORDS_PER_MINUTE = 230
_WORD = re.compile(r"[\w'\u2019-]+")  # apostrophes and hyphens stay inside a word

BLINDSPOT_MIN_SOURCES = 3
"""A side is a blindspot only when the other side has at least this many rated sources ..."""
BLINDSPOT_MIN_SHARE = 80
"""... and at least this percentage of rated sources."""

FIGURES_VERSION = 2
"""Bump when a definition below changes: the next start recomputes every stored figure."""

_SIDE_OF_BIAS = {
    "LEFT": "left",
    "LEAN_LEFT": "left",
    "CENTER": "center",
    "LEAN_RIGHT": "right",
    "RIGHT": "right",
}
_LABEL_OF_SIDE = {"left": "Left", "center": "Center", "right": "Right"}
_SIDES = ("left", "center", "right")


SHARE_TEXT_LENGTH = 200


def share_text(text: str) -> str:
    """What a share button says of a page: its text, cut at a word to at most
    SHARE_TEXT_LENGTH characters with an ellipsis."""
    if len(text) <= SHARE_TEXT_LENGTH:
        return text
    return text[: SHARE_TEXT_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def read_time_minutes(words: int) -> int:
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


@dataclass(frozen=True)
class Coverage:
    """How many of a story's sources lean each way."""

    left: int = 0
    center: int = 0
    right: int = 0
    unrated: int = 0

    @classmethod
    def of(cls, biases: Iterable[str | None]) -> Coverage:
        """The counts of sources from outlets with these leans (None: unrated)."""
        sides = Counter(_SIDE_OF_BIAS.get(bias or "", "unrated") for bias in biases)
        return cls(sides["left"], sides["center"], sides["right"], sides["unrated"])

    @property
    def rated(self) -> int:
        return self.left + self.center + self.right

    @property
    def total(self) -> int:
        return self.rated + self.unrated

    def percentages(self) -> tuple[int, int, int] | None:
        """Left/center/right shares of rated sources, summing to exactly 100."""
        if self.rated == 0:
            return None
        left, center, right = _largest_remainder((self.left, self.center, self.right), 100)
        return left, center, right

    def dominant_side(self) -> str:
        if self.rated == 0:
            return "Unrated"
        counts = dict(zip(_SIDES, (self.left, self.center, self.right), strict=True))
        top = max(counts.values())
        leaders = [side for side, count in counts.items() if count == top]
        return _LABEL_OF_SIDE[leaders[0]] if len(leaders) == 1 else "Mixed"

    def blindspot(self) -> str | None:
        """LEFT or RIGHT: the side with no rated source while the other side has at least
        BLINDSPOT_MIN_SOURCES of them, making up at least BLINDSPOT_MIN_SHARE percent."""
        for side, missing, other in (
            ("LEFT", self.left, self.right),
            ("RIGHT", self.right, self.left),
        ):
            if (
                missing == 0
                and other >= BLINDSPOT_MIN_SOURCES
                and other * 100 >= self.rated * BLINDSPOT_MIN_SHARE
            ):
                return side
        return None


def shares(counts: tuple[int, ...]) -> tuple[int, ...] | None:
    """Each count's share of their sum in whole percent, summing to exactly 100 (largest
    remainder); None when the sum is 0."""
    return _largest_remainder(counts, 100) if sum(counts) else None


def coverage_label(coverage: Coverage, sentiment: str) -> str:
    return f"{coverage.dominant_side()} {sentiment.capitalize()}"


def _largest_remainder(counts: tuple[int, ...], total: int) -> tuple[int, ...]:
    whole = sum(counts)
    exact = [count * total / whole for count in counts]
    shares = [math.floor(value) for value in exact]
    # Hand out what flooring lost, biggest remainder first; earlier sides win exact ties.
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(exact[i] - shares[i]), i))
    for index in by_remainder[: total - sum(shares)]:
        shares[index] += 1
    return tuple(shares)


# --- a story's figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFacts:
    """What a story's figures need to know of one of its sources and its outlet."""

    bias: str | None
    factuality: str | None
    country: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class Share:
    """How many of a story's sources share one value (None: the outlet has none), and their
    share of all the story's sources."""

    value: str | None
    count: int
    percent: int


@dataclass(frozen=True)
class StoryFigures:
    """Every figure a story shows, as stored beside it."""

    source_count: int
    lefts: int
    centers: int
    rights: int
    unrated: int
    left_percent: int | None
    center_percent: int | None
    right_percent: int | None
    dominant_side: str
    coverage_label: str
    blindspot: str | None
    factuality_shares: tuple[Share, ...]
    country_shares: tuple[Share, ...]
    earliest_source_at: datetime | None
    latest_source_at: datetime | None
    word_count: int
    read_time_minutes: int
    share_text: str


def story_figures(
    title: str, summary: str, sentiment: str, sources: Sequence[SourceFacts]
) -> StoryFigures:
    """The figures of a story with this text, (effective) sentiment and these sources."""
    coverage = Coverage.of(source.bias for source in sources)
    left, center, right = coverage.percentages() or (None, None, None)
    times = [source.published_at for source in sources if source.published_at is not None]
    words = word_count(f"{title}\n{summary}")
    return StoryFigures(
        source_count=coverage.total,
        lefts=coverage.left,
        centers=coverage.center,
        rights=coverage.right,
        unrated=coverage.unrated,
        left_percent=left,
        center_percent=center,
        right_percent=right,
        dominant_side=coverage.dominant_side(),
        coverage_label=coverage_label(coverage, sentiment),
        blindspot=coverage.blindspot(),
        factuality_shares=facet_shares(source.factuality for source in sources),
        country_shares=facet_shares(source.country for source in sources),
        earliest_source_at=min(times, default=None),
        latest_source_at=max(times, default=None),
        word_count=words,
        read_time_minutes=read_time_minutes(words),
        share_text=share_text(summary),
    )


def facet_shares(values: Iterable[str | None]) -> tuple[Share, ...]:
    """The sources by one outlet property: largest group first, ties by value (None last);
    percentages of all sources, summing to exactly 100."""
    counts = Counter(values)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    percents = shares(tuple(count for _, count in ordered)) or ()
    return tuple(
        Share(value, count, percent)
        for (value, count), percent in zip(ordered, percents, strict=True)
    )


# --- a deep dive's figures ------------------------------------------------------------------


@dataclass(frozen=True)
class TocEntry:
    anchor: str
    title: str
    level: int


@dataclass(frozen=True)
class DeepDiveFigures:
    """A deep dive's rendered body and the figures derived from it, as stored."""

    sections: tuple[RenderedSection, ...]
    table_of_contents: tuple[TocEntry, ...]
    word_count: int
    read_time_minutes: int
    share_text: str


def deep_dive_figures(title: str, dek: str, sections: Iterable[tuple[str, str]]) -> DeepDiveFigures:
    """The figures of a deep dive with this title, dek and (heading, Markdown body) sections."""
    rendered = tuple(render_sections(sections))
    toc: list[TocEntry] = []
    parts = [title, dek]
    for section in rendered:
        toc.append(TocEntry(section.anchor, section.heading, 2))
        toc += [TocEntry(h.anchor, h.title, h.level) for h in section.subheadings]
        parts += [section.heading, section.text]  # the text includes sub-headings
    words = word_count("\n".join(parts))
    return DeepDiveFigures(rendered, tuple(toc), words, read_time_minutes(words), share_text(dek))
