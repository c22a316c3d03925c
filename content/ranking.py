"""Viewpoint diversity for recommendation lists: maximal marginal relevance (MMR) over leans.

A list of the most relevant items can easily be all stories that one side covers. MMR picks
items one at a time, each time taking the candidate with the best

    BALANCE x relevance / best relevance  -  (1 - BALANCE) x share of picked items with its lean

so a candidate of another lean wins a place when its relevance is close to the best one's,
and never when it is far behind. Pinned items come first, in the editor's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

BALANCE = 0.7


def diversify(
    candidates: Sequence[T],
    first: int,
    *,
    relevance: Callable[[T], float],
    lean: Callable[[T], str],
    pinned: Callable[[T], bool] = lambda _: False,
    balance: float = BALANCE,
) -> list[T]:
    """Up to `first` of the candidates (given best first): pinned ones, then MMR's picks.
    With balance=1 this is plain relevance order. Equal scores keep the given order."""
    chosen = [c for c in candidates if pinned(c)][:first]
    rest = [c for c in candidates if not pinned(c)]
    best = max((relevance(c) for c in rest), default=0.0) or 1.0
    picked: list[str] = [lean(c) for c in chosen]

    def score(candidate: T) -> float:
        same = picked.count(lean(candidate)) / len(picked) if picked else 0.0
        return balance * relevance(candidate) / best - (1 - balance) * same

    while rest and len(chosen) < first:
        index = max(range(len(rest)), key=lambda i: (score(rest[i]), -i))
        chosen.append(rest.pop(index))
        picked.append(lean(chosen[-1]))
    return chosen
