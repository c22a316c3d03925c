"""Deterministic synthetic content at scale, for benchmarks and scale tests.

Same seed, same rows. Topics come in clusters (a story draws its topics from one cluster), so
evaluations can tell which stories truly belong together; the slug of a topic names its
cluster: s<seed>-c<cluster>-t<n>.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

OUTLETS = 400
CLUSTERS = 200
TOPICS_PER_CLUSTER = 10
CATEGORIES = (
    "world",
    "politics",
    "business",
    "technology",
    "science",
    "health",
    "sports",
    "culture",
    "climate",
    "opinion",
)
LEANS = (
    ("LEFT", 12),
    ("LEAN_LEFT", 20),
    ("CENTER", 25),
    ("LEAN_RIGHT", 18),
    ("RIGHT", 12),
    (None, 13),
)
KINDS = ("COUNTRY", "ORGANIZATION", "PERSON", "PROGRAM", "TOPIC", "REGION")
DEEP_DIVE_SHARE = 0.08
MAX_SOURCES = 60
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_SECONDS = 730 * 86_400
"""Stories are published over the two years before ANCHOR."""
_SYLLABLES = (
    "ka",
    "ro",
    "mi",
    "ten",
    "sa",
    "lor",
    "vin",
    "da",
    "qua",
    "bel",
    "nor",
    "zi",
    "pre",
    "sto",
    "lan",
    "gor",
    "fi",
    "mar",
    "ul",
    "tes",
)


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(n)]


@dataclass
class Vocabulary:
    words: list[str]
    weights: list[float]

    def text(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choices(self.words, cum_weights=self.weights, k=n))


@dataclass
class Batch:
    """Rows for each table, in the column order of db.bulk.COLUMNS."""

    sources: list[tuple] = field(default_factory=list)
    stories: list[tuple] = field(default_factory=list)
    story_sources: list[tuple] = field(default_factory=list)
    story_topics: list[tuple] = field(default_factory=list)
    deep_dives: list[tuple] = field(default_factory=list)
    deep_dive_sections: list[tuple] = field(default_factory=list)
    deep_dive_key_actors: list[tuple] = field(default_factory=list)
    deep_dive_citations: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class FirstIds:
    outlet: int
    topic: int
    source: int
    story: int
    deep_dive: int


class Generator:
    def __init__(self, seed: int, first: FirstIds, total: int | None = None) -> None:
        """total: the stories to come, to publish them in order over the two years (as a
        newsroom writes them, so a table's rows lie in time order); None: at random times."""
        self.seed, self.first, self.total = seed, first, total
        self.rng = random.Random(seed)
        vocabulary = _words(self.rng, 5_000)
        zipf = list(itertools.accumulate(1 / rank for rank in range(1, len(vocabulary) + 1)))
        self.vocabulary = Vocabulary(vocabulary, zipf)
        self.outlet_weights = list(itertools.accumulate(1 / r**0.8 for r in range(1, OUTLETS + 1)))
        self.cluster_weights = list(
            itertools.accumulate(1 / r**0.9 for r in range(1, CLUSTERS + 1))
        )
        self.next_source = first.source
        self.next_deep_dive = first.deep_dive

    def outlets(self) -> list[tuple]:
        leans = [lean for lean, weight in LEANS for _ in range(weight)]
        return [
            (
                self.first.outlet + i,
                f"s{self.seed}-outlet-{i}",
                f"Outlet {i} {self._title(2)}",
                f"outlet{i}.s{self.seed}.example",
                "US",
                self.rng.choice(leans),
                None,
                None,
            )
            for i in range(OUTLETS)
        ]

    def topics(self) -> list[tuple]:
        rows = [
            (
                self.first.topic + i,
                f"s{self.seed}-{name}",
                name.capitalize(),
                "CATEGORY",
                f"Synthetic {name} section.",
            )
            for i, name in enumerate(CATEGORIES)
        ]
        for cluster, n in itertools.product(range(CLUSTERS), range(TOPICS_PER_CLUSTER)):
            rows.append(
                (
                    self.topic_id(cluster, n),
                    f"s{self.seed}-c{cluster}-t{n}",
                    self._title(2),
                    self.rng.choice(KINDS),
                    self.vocabulary.text(self.rng, 12),
                )
            )
        return rows

    def topic_id(self, cluster: int, n: int) -> int:
        return self.first.topic + len(CATEGORIES) + cluster * TOPICS_PER_CLUSTER + n

    def stories(self, start: int, count: int) -> Batch:
        """Stories number start .. start + count - 1 (0-based), with everything they link to."""
        batch = Batch()
        for number in range(start, start + count):
            self._story(batch, number)
        return batch

    def _story(self, batch: Batch, number: int) -> None:
        rng = self.rng
        story_id = self.first.story + number
        cluster = rng.choices(range(CLUSTERS), cum_weights=self.cluster_weights)[0]
        category_id = self.first.topic + cluster % len(CATEGORIES)
        offset = rng.randrange(SPAN_SECONDS)
        if self.total:  # story n in the n-th of `total` equal slots, anywhere within it
            published = ANCHOR - timedelta(
                seconds=SPAN_SECONDS - (number + offset / SPAN_SECONDS) * SPAN_SECONDS / self.total
            )
        else:
            published = ANCHOR - timedelta(seconds=offset)
        status = "PUBLISHED"
        published_at: datetime | None = published
        roll = rng.random()
        if roll < 0.015:
            status, published_at = "DRAFT", None
        elif roll < 0.03:
            published_at = ANCHOR + timedelta(days=3650)
        title = self._title(rng.randint(6, 12))
        batch.stories.append(
            (
                story_id,
                f"s{self.seed}-story-{number}",
                title,
                self.vocabulary.text(rng, rng.randint(35, 90)),
                category_id,
                rng.choice(("POSITIVE", "NEUTRAL", "NEUTRAL", "NEGATIVE")),
                status,
                published_at,
            )
        )
        topic_numbers = sorted(
            set(
                rng.choices(
                    range(TOPICS_PER_CLUSTER),
                    weights=[1 / (r + 1) for r in range(TOPICS_PER_CLUSTER)],
                    k=rng.randint(2, 5),
                )
            )
        )
        topic_ids = [self.topic_id(cluster, n) for n in topic_numbers]
        batch.story_topics += [(story_id, t, p) for p, t in enumerate(topic_ids, 1)]
        source_ids = self._sources(batch, story_id, title, published)
        if status == "PUBLISHED" and rng.random() < DEEP_DIVE_SHARE:
            self._deep_dive(batch, story_id, number, published_at, topic_ids, source_ids)

    def _sources(self, batch: Batch, story_id: int, title: str, published: datetime) -> list[int]:
        rng = self.rng
        count = min(MAX_SOURCES, 1 + int(rng.expovariate(1 / 5)))
        outlets = rng.choices(range(OUTLETS), cum_weights=self.outlet_weights, k=count)
        ids = []
        for position, outlet in enumerate(outlets, 1):
            source_id, self.next_source = self.next_source, self.next_source + 1
            batch.sources.append(
                (
                    source_id,
                    self.first.outlet + outlet,
                    f"https://outlet{outlet}.s{self.seed}.example/a/{source_id}",
                    f"{title} {self._title(2)}",
                    published - timedelta(minutes=rng.randrange(600)),
                    self.vocabulary.text(rng, 25),
                )
            )
            batch.story_sources.append((story_id, source_id, position))
            ids.append(source_id)
        return ids

    def _deep_dive(
        self,
        batch: Batch,
        story_id: int,
        number: int,
        published_at: datetime | None,
        topic_ids: list[int],
        source_ids: list[int],
    ) -> None:
        rng = self.rng
        dive_id, self.next_deep_dive = self.next_deep_dive, self.next_deep_dive + 1
        assert published_at is not None
        batch.deep_dives.append(
            (
                dive_id,
                story_id,
                f"s{self.seed}-deep-dive-{number}",
                "Deep Dive: " + self._title(8),
                self.vocabulary.text(rng, 25),
                "PUBLISHED",
                published_at + timedelta(hours=2),
            )
        )
        for position in range(1, rng.randint(3, 6) + 1):
            paragraphs = [
                self.vocabulary.text(rng, rng.randint(40, 120)) + "."
                for _ in range(rng.randint(2, 4))
            ]
            batch.deep_dive_sections.append(
                (dive_id, position, self._title(4), "\n\n".join(paragraphs))
            )
        actors = topic_ids[: rng.randint(1, len(topic_ids))]
        batch.deep_dive_key_actors += [(dive_id, t, p) for p, t in enumerate(actors, 1)]
        cited = rng.sample(source_ids, k=min(len(source_ids), rng.randint(1, 3)))
        batch.deep_dive_citations += [
            (dive_id, story_id, p, s, self.vocabulary.text(rng, 10)) for p, s in enumerate(cited, 1)
        ]

    def _title(self, n: int) -> str:
        return self.vocabulary.text(self.rng, n).capitalize()


def chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)
