"""Quoted phrases are found through the index of adjacent word pairs (migrations 0012 and 0016,
stories and deep dives), which may only ever leave out documents that cannot match: checked
against PostgreSQL's own phrase match on generated documents and queries, and through the
search field."""

from __future__ import annotations

import random
from typing import Any

from db.pool import Pool
from tests.conftest import data
from tests.factories import create_deep_dive, create_story
from tests.test_mutations import UPDATE_DIVE, ok

WORDS = [
    *("war", "ukraine", "big", "oil", "gas", "price", "prices", "the", "in", "of", "a"),
    *("well-known", "x-ray", "o'neill", "2026", "Ukraine", "WAR", "or", "OR", "-", "-war"),
]
SEARCH = """query($q: String!) { search(query: $q, first: 20) {
  totalCount edges { node { ... on Story { title } } } } }"""
DIVES = """query($q: String!) { search(query: $q, first: 20, filter: {types: [DEEP_DIVE]}) {
  totalCount edges { node { ... on DeepDive { slug } } } } }"""

# For each (document, query): does the document match, does the pair filter apply to the
# query, and does the document pass it. Documents are built as stories' are: title (A) and
# summary (B) concatenated, so positions run on across the two.
_CHECK = """
SELECT v @@ websearch_to_tsquery(search_config(), q) AS matches,
    phrase_pairs(search_config(), q) IS NOT NULL AS filtered,
    coalesce(adjacent_pairs(v) @@ phrase_pairs(search_config(), q), TRUE) AS passes
FROM (
    SELECT setweight(to_tsvector(search_config(), t), 'A')
        || setweight(to_tsvector(search_config(), s), 'B') AS v, q
    FROM unnest($1::text[], $2::text[], $3::text[]) AS x(t, s, q)
) AS c"""


def _text(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    # Quotes anywhere: balanced, unbalanced, around a minus, inside words.
    for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
        words.insert(rng.randrange(len(words) + 1), rng.choice(('"', '-"')))
    return rng.choice((" ", "")).join(words) if rng.random() < 0.1 else " ".join(words)


async def test_the_pair_filter_never_leaves_out_a_match(pool: Pool) -> None:
    rng = random.Random(20261201)
    titles, summaries, queries = [], [], []
    for _ in range(20_000):
        titles.append(_text(rng, 1, 5))
        summaries.append(_text(rng, 0, 6))
        # Three queries in ten are a phrase of two words a document may hold side by side.
        phrase = '"' + " ".join(rng.sample(WORDS[:8], 2)) + '"'
        queries.append(phrase if rng.random() < 0.3 else _text(rng, 1, 6))
    rows = await pool.fetch(_CHECK, titles, summaries, queries)
    missed = [
        (titles[i], summaries[i], queries[i])
        for i, row in enumerate(rows)
        if row["matches"] and not row["passes"]
    ]
    assert missed == []
    # The filter is not idle: it applies to many queries and turns away documents.
    assert sum(row["filtered"] for row in rows) > 3_000
    assert sum(row["filtered"] and row["matches"] for row in rows) > 100
    assert sum(row["filtered"] and not row["passes"] for row in rows) > 1_000


async def test_a_quoted_phrase_finds_the_words_side_by_side_in_order(client: Any, pool) -> None:
    together = await create_story(pool, title="Oil prices rise", summary="Markets move.")
    await create_story(pool, title="Prices of oil", summary="Fall again.")  # the other order
    await create_story(pool, title="Oil and gas", summary="Prices too.")  # apart
    # Across the title's end and the summary's start, the words are side by side too.
    across = await create_story(pool, title="Crude oil", summary="Prices fell today.")
    # A stop word between: "prices of oil" also matches "prices big oil".
    gap = await create_story(pool, title="Prices big oil", summary="Nothing else.")

    async def titles(q: str) -> list[str]:
        found = (await data(client, SEARCH, q=q))["search"]
        assert found["totalCount"] == len(found["edges"])
        return sorted(edge["node"]["title"] for edge in found["edges"])

    assert await titles('"oil prices"') == ["Crude oil", "Oil prices rise"]
    assert await titles('"oil prices" -crude') == ["Oil prices rise"]
    assert await titles('"prices of oil"') == ["Prices big oil", "Prices of oil"]
    assert await titles('"oil prices" or "oil and gas"') == [
        "Crude oil",
        "Oil and gas",
        "Oil prices rise",
    ]
    assert await titles('oil -"oil prices"') == ["Oil and gas", "Prices big oil", "Prices of oil"]
    assert together and across and gap


async def test_deep_dives_phrases_are_found_by_their_pairs_and_follow_edits(
    client: Any, pool: Pool, editor: str
) -> None:
    long_body = " ".join(["Analysts"] + ["markets"] * 300 + ["watch oil prices"])

    async def dive(slug: str, *sections: tuple[str, str]) -> None:
        story = await create_story(pool, title=f"Energy week {slug}")  # a deep dive each
        await create_deep_dive(pool, story_id=story, slug=slug, title="Energy", sections=sections)

    await dive("together", ("Overview", long_body))
    await dive("apart", ("Overview", "Oil fell while prices rose."))
    await dive("reversed", ("Overview", "Prices of oil and gas."))  # "prices oil": not in order
    # Sections follow one another in the document: the last word of one and the first of the
    # next stand side by side (as PostgreSQL's own phrase match over the document says).
    await dive("across", ("Supply", "Crude oil"), ("Demand", "Prices fell."))
    # A heading (weight C) and a body (weight D) are in one document too.
    await dive("headed", ("Oil prices", "Why they rose."))

    async def slugs(q: str) -> list[str]:
        found = (await data(client, DIVES, q=q))["search"]
        assert found["totalCount"] == len(found["edges"])
        return sorted(edge["node"]["slug"] for edge in found["edges"])

    assert await slugs('"oil prices"') == ["across", "headed", "together"]
    assert await slugs('"oil prices" -crude') == ["headed", "together"]
    assert await slugs("oil prices") == ["across", "apart", "headed", "reversed", "together"]
    # Every deep dive's pairs are those of its document (a generated column).
    stale = await pool.fetchval(
        "SELECT count(*) FROM deep_dives WHERE phrase_vector IS DISTINCT FROM "
        "adjacent_pairs(search_vector)"
    )
    assert stale == 0

    # An edit through the API rewrites the document, and the pairs with it.
    found = await data(client, 'query { deepDive(slug: "apart") { id version } }', key=editor)
    await ok(
        client,
        UPDATE_DIVE,
        editor,
        "updateDeepDive",
        id=found["deepDive"]["id"],
        version=found["deepDive"]["version"],
        input={"sections": [{"heading": "Overview", "body": "Oil prices fell."}]},
    )
    assert await slugs('"oil prices"') == ["across", "apart", "headed", "together"]
    assert await slugs('"oil fell"') == []
