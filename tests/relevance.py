"""The search relevance set: queries with judged results, scored as precision@5 and MRR.

Judgements never come from the search engine. Demo queries were judged by reading the demo
content; generated queries are judged from what content.synthetic put into each item (its title
words, its topics), replayed from the same seed. tests/test_search_relevance.py holds the
figures to a floor; bench/relevance.py prints them per query.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from content.synthetic import FirstIds, Generator

SEED = 7
STORIES = 3_000
TOP = 5
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Case:
    query: str
    relevant: frozenset[str]  # slugs of stories and deep dives judged relevant
    kind: str  # how the case was made: demo, title, phrase, either, topic


@dataclass(frozen=True)
class Scored:
    case: Case
    found: list[str]

    @property
    def precision(self) -> float:
        """Relevant share of the top 5, out of at most as many as there are relevant items."""
        hits = sum(1 for slug in self.found[:TOP] if slug in self.case.relevant)
        return hits / min(TOP, len(self.case.relevant))

    @property
    def reciprocal_rank(self) -> float:
        for rank, slug in enumerate(self.found, 1):
            if slug in self.case.relevant:
                return 1 / rank
        return 0.0


@dataclass
class Report:
    scored: list[Scored] = field(default_factory=list)

    def mean(self, attribute: str, kind: str | None = None) -> float:
        values = [getattr(s, attribute) for s in self.scored if kind in (None, s.case.kind)]
        return sum(values) / len(values)


DEMO_CASES = [
    Case(
        "PURL",
        frozenset(
            {
                "south-korea-may-join-nato-purl",
                "first-purl-deliveries-reach-ukraine",
                "south-korea-purl-deep-dive",
            }
        ),
        "demo",
    ),
    Case(
        "shrapnel",
        frozenset({"qatar-shrapnel-advisory", "qatar-shrapnel-advisory-deep-dive"}),
        "demo",
    ),
    Case(
        "stranded travellers",
        frozenset({"ontario-couple-stranded-in-qatar", "ontario-couple-stranded-deep-dive"}),
        "demo",
    ),
    Case("tank export Poland", frozenset({"south-korea-poland-tank-deal"}), "demo"),
    Case("North Korean troops", frozenset({"north-korea-sends-more-troops-to-russia"}), "demo"),
    Case("LNG expansion", frozenset({"qatar-lng-expansion-on-track"}), "demo"),
    Case("Doha flights resume", frozenset({"gulf-airspace-reopens-doha-flights"}), "demo"),
    Case(
        "defence spending target", frozenset({"nato-allies-agree-higher-spending-target"}), "demo"
    ),
    Case("Ukraine aid Congress", frozenset({"ukraine-aid-faces-test-in-congress"}), "demo"),
    Case(
        "resilience",
        frozenset(
            {"qatari-pm-pride-resilience-iranian-attacks", "qatari-pm-pride-resilience-deep-dive"}
        ),
        "demo",
    ),
]


@dataclass
class _Item:
    slug: str
    title: list[str]
    text: set[str]  # every word of the item's search document
    topics: set[str]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _generated_items(seed: int, stories: int) -> list[_Item]:
    """The visible stories and deep dives api.transfer.generate makes for this seed."""
    generator = Generator(seed, FirstIds(1, 1, 1, 1, 1))
    generator.outlets()  # draws from the generator's random stream, as generate does
    names = {row[0]: row[2] for row in generator.topics()}
    batch = generator.stories(0, stories)
    now = datetime.now(UTC)
    visible = {row[0] for row in batch.stories if row[6] == "PUBLISHED" and row[7] is not None} - {
        row[0] for row in batch.stories if row[7] is not None and row[7] > now
    }
    story_topics: dict[int, set[str]] = {}
    for story_id, topic_id, _ in batch.story_topics:
        story_topics.setdefault(story_id, set()).add(names[topic_id])
    items = []
    for story_id, slug, title, summary, *_ in batch.stories:
        if story_id in visible:
            topics = story_topics.get(story_id, set())
            text = {*_words(title), *_words(summary), *_words(" ".join(topics))}
            items.append(_Item(slug, _words(title), text, topics))
    sections: dict[int, list[str]] = {}
    for dive_id, _, heading, body in batch.deep_dive_sections:
        sections.setdefault(dive_id, []).extend((heading, body))
    actors: dict[int, set[str]] = {}
    for dive_id, topic_id, _ in batch.deep_dive_key_actors:
        actors.setdefault(dive_id, set()).add(names[topic_id])
    for dive_id, story_id, slug, title, dek, *_ in batch.deep_dives:
        if story_id in visible:
            names_of = actors.get(dive_id, set())
            words = " ".join([title, dek, *sections.get(dive_id, []), *names_of])
            items.append(_Item(slug, _words(title), set(_words(words)), names_of))
    return items


def generated_cases(seed: int = SEED, stories: int = STORIES) -> list[Case]:
    items = _generated_items(seed, stories)
    frequency = Counter(word for item in items for word in item.text)
    stories_only = [item for item in items if "-story-" in item.slug]
    cases: list[Case] = []

    def titled(words: Iterable[str]) -> frozenset[str]:
        wanted = set(words)
        return frozenset(item.slug for item in items if wanted <= set(item.title))

    def rarest(item: _Item, n: int) -> list[str]:
        return sorted(set(item.title), key=lambda w: (frequency[w], w))[:n]

    # Every 97th story: a few of its title's rarer words should bring it (and any other item
    # titled with all of them) to the top.
    for item in stories_only[::97][:15]:
        words = rarest(item, 3)
        cases.append(Case(" ".join(words), titled(words), "title"))
    # A quoted phrase from a title: items whose title has those words next to each other.
    for item in stories_only[5::211][:5]:
        phrase = item.title[1:3]
        relevant = frozenset(
            other.slug
            for other in items
            if any(other.title[i : i + 2] == phrase for i in range(len(other.title) - 1))
        )
        cases.append(Case('"' + " ".join(phrase) + '"', relevant, "phrase"))
    # Either of two stories: OR.
    for first, second in zip(stories_only[11::401][:3], stories_only[13::401][:3], strict=True):
        a, b = rarest(first, 2), rarest(second, 2)
        query = f"{' '.join(a)} OR {' '.join(b)}"
        cases.append(Case(query, titled(a) | titled(b), "either"))
    # A topic's name as a phrase: the items tagged with it (or naming it as a key actor).
    tagged: Counter[str] = Counter(topic for item in items for topic in item.topics)
    for topic, _ in sorted(tagged.items(), key=lambda pair: (-pair[1], pair[0]))[20:25]:
        relevant = frozenset(item.slug for item in items if topic in item.topics)
        cases.append(Case(f'"{topic}"', relevant, "topic"))
    return cases


SEARCH = """
query Relevance($q: String!) {
  search(query: $q, first: 10) {
    edges { node { ... on Story { slug } ... on DeepDive { slug } } }
  }
}
"""


async def evaluate(client: httpx.AsyncClient, cases: list[Case], **headers: Any) -> Report:
    report = Report()
    for case in cases:
        response = await client.post(
            "/graphql", json={"query": SEARCH, "variables": {"q": case.query}}, headers=headers
        )
        body = response.json()
        assert "errors" not in body, body
        found = [edge["node"]["slug"] for edge in body["data"]["search"]["edges"]]
        report.scored.append(Scored(case, found))
    return report
