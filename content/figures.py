"""Derived figures, each computed here and nowhere else (DESIGN.md, "Derived figures")."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

WORDS_PER_MINUTE = 230
_WORD = re.compile(r"[\w'\u2019-]+")  # apostrophes and hyphens stay inside a word

BLINDSPOT_MIN_SOURCES = 3
"""A side is a blindspot only when the other side has at least this many rated sources ..."""
BLINDSPOT_MIN_SHARE = 80
"""... and at least this percentage of rated sources. The story_coverage view applies both
(migration 0001); these name them for the API."""

_LABEL_OF_SIDE = {"left": "Left", "center": "Center", "right": "Right"}
_SIDES = ("left", "center", "right")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def read_time_minutes(words: int) -> int:
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


@dataclass(frozen=True)
class Coverage:
    """How many of a story's sources lean each way (folded by the story_coverage view)."""

    left: int = 0
    center: int = 0
    right: int = 0
    unrated: int = 0

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
