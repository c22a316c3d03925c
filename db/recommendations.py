"""Recommendation candidates and their signals, one statement per batch of items.

Candidates for an item come from bounded, indexed sources, so the cost does not grow with the
number of stories: the newest CANDIDATES_PER_SOURCE stories on each of its topics by publish
time (its story's topics and its deep dive's key actors; read down the topic's listing), the
newest in its category, its editor's pins and, where embeddings exist, its nearest
neighbours by vector (HNSW). Each candidate is scored:

    relevance = 3 x shared topics (rarity-weighted: ln(1 + 5000 / visible stories on the topic),
                    as a share of the item's own topic weight)
              + 2 x similar text (ts_rank of the item's title and summary words, 0-1)
              + 1 x same category
              + 1 x freshness (halves every 30 days)
              + 3 x semantic similarity (cosine, when embeddings are on)

Only visible (published, due) stories are ever returned, never the item itself.

Then the viewpoint-diversity step (maximal marginal relevance over leans) picks the list,
in the same statement: editor pins first, in their order; then, one at a time, the candidate
with the best

    BALANCE x relevance / best relevance  -  (1 - BALANCE) x share of picked items with its lean

(ties to the better-ranked one), from the best max(4 x first, 20) candidates. A candidate of
another lean wins a place when its relevance is close to the best one's, and never when it
is far behind. Every engine reads the lists from here, so there is one definition of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from content import clock
from db import audit, listings
from db.pool import Connection, Pool
from db.records import build, grouped
from db.search import freshness
from db.stories import STORY_COLUMNS, Story
from db.text_search import SEARCH_CONFIG
from db.visibility import visible, visible_deep_dive

CANDIDATES_PER_SOURCE = 200
SEMANTIC_NEIGHBOURS = 50
RARITY_CAP = 5_000
WEIGHTS = {"topics": 3.0, "text": 2.0, "category": 1.0, "freshness": 1.0, "semantic": 3.0}
FRESHNESS_HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True)
class RelatedKey:
    story_id: int
    first: int


@dataclass(frozen=True)
class Candidate:
    story: Story
    relevance: float
    topic_score: float  # 0-1: share of the item's topic weight this candidate shares
    shared_topic_ids: list[int]  # rarest first
    text_score: float  # 0-1
    same_category: bool
    semantic_score: float | None  # cosine similarity, when embeddings are on
    pin: int | None  # the editor's position, when pinned


def _topic_list(topic_id: str) -> str:
    """SQL for the key of the list of stories on the topic whose id is the SQL `topic_id`."""
    return f"'stories/topic/' || {topic_id}"


def _rarity(topic_id: str) -> str:
    """SQL for the weight of a topic: rarer topics say more about what an item is about. Its
    size is the visible stories on it, read from the stored list sizes (constant time),
    capped at RARITY_CAP, so every topic past the cap weighs alike."""
    size = listings.visible_count("story_listings", _topic_list(topic_id))
    return f"ln(1 + {RARITY_CAP}.0 / greatest(1, least({size}, {RARITY_CAP})))"


def _newest_on_topic(topic_id: str, exclude: str) -> str:
    """SQL for the ids (`story_id`) of the newest CANDIDATES_PER_SOURCE visible stories on a
    topic by publish time, but not where the SQL condition `exclude` on `e.story_id` holds:
    a walk down the topic's listing from now on (db.listings)."""
    return f"""SELECT e.story_id FROM story_listings e
        WHERE {listings.story_entries(_topic_list(topic_id))} AND NOT ({exclude})
        ORDER BY e.published_at DESC, e.story_id DESC LIMIT {CANDIDATES_PER_SOURCE}"""


def _freshness(as_of: str) -> str:
    """How fresh story `s` is at the SQL time `as_of`: 1, halving every half-life."""
    return freshness(as_of, "s.published_at", FRESHNESS_HALF_LIFE_DAYS)


# The item's own words (stemmed lexemes of its title and summary) as one OR query; quoted
# so that the lexemes go into the tsquery as they are.
_WORDS = f"""(SELECT coalesce(string_agg(quote_literal(w), ' | '), '')::tsquery
    FROM unnest(tsvector_to_array(to_tsvector({SEARCH_CONFIG}, s.title || ' ' || s.summary)))
    AS w)"""


BALANCE = 0.7
"""How much relevance weighs against lean variety (1.0: relevance order only)."""
_LEAN_COUNTS = ("Left", "Center", "Right", "Mixed", "Unrated")
_COUNTED = ", ".join(f"n_{lean.lower()}" for lean in _LEAN_COUNTS)


def _diversified(first: str, balance: str) -> str:
    """The end of every candidate statement: from a `ranked` CTE (owner, id, rank, pin and
    scores), the viewpoint-diversity step's `first` picks per owner, in order (`position`),
    with their stories and scores."""
    same = " ".join(f"WHEN '{lean}' THEN m.n_{lean.lower()}" for lean in _LEAN_COUNTS)
    counts = ", ".join(f"count(*) FILTER (WHERE p.lean = '{lean}')" for lean in _LEAN_COUNTS)
    step = ", ".join(f"m.n_{lean.lower()} + (c.lean = '{lean}')::int" for lean in _LEAN_COUNTS)
    return f""",
pool AS (
    SELECT r.*, s.dominant_side AS lean FROM ranked r JOIN stories s ON s.id = r.id
    WHERE r.rank <= greatest(4 * {first}, 20)
),
best AS (
    SELECT owner, coalesce(nullif(max(relevance) FILTER (WHERE pin IS NULL), 0), 1.0) AS best
    FROM pool GROUP BY owner
),
picks (owner, n, chosen, {_COUNTED}) AS (
    SELECT b.owner, count(p.id)::int, coalesce(array_agg(p.id ORDER BY p.rank)
        FILTER (WHERE p.id IS NOT NULL), '{{}}'), {counts}
    FROM best b LEFT JOIN pool p ON p.owner = b.owner AND p.pin IS NOT NULL AND p.rank <= {first}
    GROUP BY b.owner
  UNION ALL
    SELECT m.owner, m.n + 1, m.chosen || c.id, {step}
    FROM picks m JOIN best b ON b.owner = m.owner CROSS JOIN LATERAL (
        SELECT p.id, p.lean FROM pool p
        WHERE p.owner = m.owner AND p.pin IS NULL AND NOT p.id = ANY(m.chosen)
        ORDER BY {balance} * p.relevance / b.best - (1 - {balance}) * CASE WHEN m.n = 0 THEN 0
            ELSE (CASE p.lean {same} END)::float8 / m.n END DESC, p.rank
        LIMIT 1
    ) AS c
    WHERE m.n < {first}
),
picked AS (SELECT DISTINCT ON (owner) owner, chosen FROM picks ORDER BY owner, n DESC)
SELECT pk.owner, c.position, p.relevance, p.topic_score, p.shared AS shared_topic_ids,
    p.text_score, p.same_category, p.semantic_score, p.pin, {STORY_COLUMNS}
FROM picked pk CROSS JOIN LATERAL unnest(pk.chosen) WITH ORDINALITY AS c(id, position)
JOIN pool p ON p.owner = pk.owner AND p.id = c.id
JOIN stories s ON s.id = c.id
"""


def one_owner(story: str) -> str:
    """The `owners` of related_sql for the one story whose id is the SQL `story`."""
    return f"ARRAY[{story}]"


def related_sql(
    owners: str, first: str, balance: str, as_of: str, *, require_deep_dive: bool, semantic: bool
) -> str:
    """SQL for the recommendations of the stories whose ids are the SQL array `owners`:
    `first` picks per owner (rows of owner, position, scores and story columns), fresh as of
    the SQL time `as_of`."""
    deep_dive = (
        f"AND EXISTS (SELECT 1 FROM deep_dives d WHERE d.story_id = s.id AND "
        f"{visible_deep_dive('d')})"
        if require_deep_dive
        else ""
    )
    semantic_cte = (
        f""",
semantic AS (
    SELECT me.id AS owner, n.story_id AS candidate, 1 - n.distance AS similarity
    FROM me JOIN story_embeddings mine ON mine.story_id = me.id
    CROSS JOIN LATERAL (
        SELECT e.story_id, e.embedding <=> mine.embedding AS distance FROM story_embeddings e
        WHERE e.story_id <> me.id ORDER BY e.embedding <=> mine.embedding
        LIMIT {SEMANTIC_NEIGHBOURS}
    ) AS n
)"""
        if semantic
        else ""
    )
    semantic_pool = "UNION SELECT owner, candidate FROM semantic" if semantic else ""
    semantic_join = (
        "LEFT JOIN semantic sm ON sm.owner = pl.owner AND sm.candidate = pl.candidate"
        if semantic
        else ""
    )
    similarity = "sm.similarity" if semantic else "NULL::float8"
    return f"""
WITH RECURSIVE me AS (
    SELECT s.id, s.category_id, {_WORDS} AS words
    FROM unnest({owners}) AS k(id) JOIN stories s ON s.id = k.id
),
my_topics AS (
    SELECT me.id AS owner, t.topic_id FROM me CROSS JOIN LATERAL (
        SELECT st.topic_id FROM story_topics st WHERE st.story_id = me.id
        UNION
        SELECT a.topic_id FROM deep_dives d
        JOIN deep_dive_key_actors a ON a.deep_dive_id = d.id WHERE d.story_id = me.id
    ) AS t
),
weighted AS (SELECT mt.owner, mt.topic_id, {_rarity("mt.topic_id")} AS weight FROM my_topics mt),
totals AS (SELECT owner, sum(weight) AS total FROM weighted GROUP BY owner),
by_topic AS (
    SELECT w.owner, c.story_id AS candidate, sum(w.weight) AS weight,
        array_agg(w.topic_id ORDER BY w.weight DESC, w.topic_id) AS shared
    FROM weighted w CROSS JOIN LATERAL (
        {_newest_on_topic("w.topic_id", "e.story_id = w.owner")}
    ) AS c
    GROUP BY w.owner, c.story_id
),
by_category AS (
    SELECT me.id AS owner, c.id AS candidate FROM me CROSS JOIN LATERAL (
        SELECT x.id FROM stories x
        WHERE x.category_id = me.category_id AND x.status = 'PUBLISHED' AND x.id <> me.id
        ORDER BY x.published_at DESC, x.id DESC LIMIT {CANDIDATES_PER_SOURCE}
    ) AS c
),
pinned AS (
    SELECT p.story_id AS owner, p.pinned_story_id AS candidate, p.position
    FROM recommendation_pins p WHERE p.story_id = ANY({owners})
){semantic_cte},
candidates AS (
    SELECT owner, candidate FROM by_topic
    UNION SELECT owner, candidate FROM by_category
    UNION SELECT owner, candidate FROM pinned
    {semantic_pool}
),
scored AS (
    SELECT pl.owner, s.id, pn.position AS pin, coalesce(bt.shared, '{{}}') AS shared,
        coalesce(bt.weight / nullif(tt.total, 0), 0)::float8 AS topic_score,
        ts_rank(s.search_vector, me.words, 32)::float8 AS text_score,
        coalesce(s.category_id = me.category_id, false) AS same_category,
        {_freshness(as_of)}::float8 AS freshness,
        {similarity}::float8 AS semantic_score
    FROM candidates pl
    JOIN me ON me.id = pl.owner
    JOIN stories s ON s.id = pl.candidate
    LEFT JOIN by_topic bt ON bt.owner = pl.owner AND bt.candidate = pl.candidate
    LEFT JOIN totals tt ON tt.owner = pl.owner
    LEFT JOIN pinned pn ON pn.owner = pl.owner AND pn.candidate = pl.candidate
    {semantic_join}
    WHERE s.id <> pl.owner AND {visible("s")} {deep_dive}
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY owner ORDER BY pin NULLS LAST, relevance DESC, id DESC) AS rank
    FROM (
        SELECT *, {WEIGHTS["topics"]} * topic_score + {WEIGHTS["text"]} * text_score
            + {WEIGHTS["category"]} * same_category::int + {WEIGHTS["freshness"]} * freshness
            + {WEIGHTS["semantic"]} * coalesce(semantic_score, 0) AS relevance
        FROM scored
    ) AS r
)
{_diversified(first, balance)}"""


_RELATED = {
    (require_deep_dive, semantic): related_sql(
        "$1::bigint[]",
        "$2::int",
        "$3::float8",
        "$4::timestamptz",
        require_deep_dive=require_deep_dive,
        semantic=semantic,
    )
    + " ORDER BY pk.owner, c.position"
    for require_deep_dive in (False, True)
    for semantic in (False, True)
}


async def related(
    pool: Pool,
    keys: Sequence[RelatedKey],
    *,
    require_deep_dive: bool,
    semantic: bool,
    balance: float = BALANCE,
) -> list[list[Candidate]]:
    """Per key, its `first` recommendations in order (see the module docstring)."""
    sql = _RELATED[(require_deep_dive, semantic)]
    by_first: dict[int, list[int]] = {}
    for key in dict.fromkeys(keys):
        by_first.setdefault(key.first, []).append(key.story_id)
    found: dict[RelatedKey, list[Candidate]] = {}
    for first, story_ids in by_first.items():
        rows = await pool.fetch(sql, story_ids, first, balance, clock.now())
        pairs = ((row["owner"], _candidate(row)) for row in rows)
        for story_id, candidates in zip(story_ids, grouped(story_ids, pairs), strict=True):
            found[RelatedKey(story_id, first)] = candidates
    return [found[key] for key in keys]


def _candidate(row: Any) -> Candidate:
    return Candidate(
        story=build(Story, row),
        relevance=row["relevance"],
        topic_score=row["topic_score"],
        shared_topic_ids=list(row["shared_topic_ids"]),
        text_score=row["text_score"],
        same_category=row["same_category"],
        semantic_score=row["semantic_score"],
        pin=row["pin"],
    )


def for_you_sql(topics: str, exclude: str, first: str, balance: str, as_of: str) -> str:
    """SQL for a reader's feed: the newest visible stories on each followed topic (the SQL
    text array `topics`, by publish time), minus the ids in the SQL array `exclude`, scored
    with freshness weighing twice as much as the topic match; `first` picks, owner 0."""
    return f"""
WITH RECURSIVE followed AS (
    SELECT t.id AS topic_id, {_rarity("t.id")} AS weight
    FROM topics t WHERE t.slug = ANY({topics})
),
totals AS (SELECT sum(weight) AS total FROM followed),
by_topic AS (
    SELECT c.story_id AS candidate, sum(f.weight) AS weight,
        array_agg(f.topic_id ORDER BY f.weight DESC, f.topic_id) AS shared
    FROM followed f CROSS JOIN LATERAL (
        {_newest_on_topic("f.topic_id", f"e.story_id = ANY({exclude})")}
    ) AS c
    GROUP BY c.story_id
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY relevance DESC, id DESC) AS rank FROM (
        SELECT 0 AS owner, s.id, NULL::int AS pin, bt.shared, FALSE AS same_category,
            NULL::float8 AS semantic_score, 0::float8 AS text_score,
            (bt.weight / nullif(totals.total, 0))::float8 AS topic_score,
            (bt.weight / nullif(totals.total, 0) + 2 * {_freshness(as_of)})::float8 AS relevance
        FROM by_topic bt CROSS JOIN totals JOIN stories s ON s.id = bt.candidate
        WHERE {visible("s")}
    ) AS r
)
{_diversified(first, balance)}"""


_FOR_YOU = for_you_sql("$1::text[]", "$2::bigint[]", "$3::int", "$4::float8", "$5::timestamptz") + (
    " ORDER BY c.position"
)


async def for_you(
    pool: Pool,
    topic_slugs: Sequence[str],
    exclude_ids: Sequence[int],
    first: int,
    balance: float = BALANCE,
) -> list[Candidate]:
    """The reader's `first` stories on the followed topics, newest and most on-topic first,
    mixed across viewpoints."""
    rows = await pool.fetch(
        _FOR_YOU, list(topic_slugs), list(exclude_ids), first, balance, clock.now()
    )
    return [_candidate(row) for row in rows]


# --- editor pins -------------------------------------------------------------------------

MAX_PINS = 10


async def pinned_ids(conn: Connection | Pool, story_id: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT pinned_story_id FROM recommendation_pins WHERE story_id = $1 ORDER BY position",
        story_id,
    )
    return [row[0] for row in rows]


async def set_pins(conn: Connection, story_id: int, pinned: Sequence[int]) -> None:
    """Make the story's pins exactly `pinned`, in order (inside the caller's transaction)."""
    await conn.execute("DELETE FROM recommendation_pins WHERE story_id = $1", story_id)
    await conn.execute(
        """INSERT INTO recommendation_pins (story_id, pinned_story_id, position)
           SELECT $1, u.pinned, u.position
           FROM unnest($2::bigint[]) WITH ORDINALITY AS u(pinned, position)""",
        story_id,
        list(pinned),
    )


async def pin(
    pool: Pool, story_id: int, pinned: Sequence[int], actor: audit.Actor
) -> list[int] | None:
    """Replace the story's pins (one transaction, audited). None when the story does not
    exist; else the pinned ids that name no story, in which case nothing was written."""
    async with pool.acquire() as conn, conn.transaction():
        slug = await conn.fetchval("SELECT slug FROM stories WHERE id = $1 FOR UPDATE", story_id)
        if slug is None:
            return None
        found = {
            row[0]
            for row in await conn.fetch(
                "SELECT id FROM stories WHERE id = ANY($1::bigint[])", list(pinned)
            )
        }
        missing = [story for story in pinned if story not in found]
        if not missing and await pinned_ids(conn, story_id) != list(pinned):
            await set_pins(conn, story_id, pinned)
            await audit.record(conn, actor, "pin_recommendations", "story", story_id, slug)
        return missing
