"""Coverage analytics: factuality and country shares, blindspots and their rule, source
times, outlet profiles, the blindspots list, set and inferred sentiment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import data, error_codes, graphql
from tests.factories import (
    PAST,
    create_outlet,
    create_source,
    create_story,
    derive,
    slug_of,
)
from tests.test_query_count import statements_for

COVERAGE = """
query($slug: String!) {
  story(slug: $slug) {
    sourceCount
    coverage {
      factuality { rating count percent }
      countries { country count percent }
      blindspot
      blindspotRule { minimumSources minimumPercent }
      earliestSourceAt
      latestSourceAt
    }
  }
}
"""


async def story_with_sources(pool, outlets: list[dict], **story) -> str:
    """A story citing one source per outlet description (bias, factuality, country, at)."""
    story_id = await create_story(pool, **story)
    for position, outlet in enumerate(outlets, 1):
        at = outlet.pop("at", PAST)
        outlet_id = await create_outlet(pool, **outlet)
        source = await create_source(pool, outlet_id=outlet_id, published_at=at)
        await pool.execute(
            "INSERT INTO story_sources (story_id, source_id, position) VALUES ($1, $2, $3)",
            story_id,
            source,
            position,
        )
    await derive(pool, [story_id])
    return await slug_of(pool, "stories", story_id)


async def test_factuality_and_country_shares_sum_to_100(client, pool) -> None:
    slug = await story_with_sources(
        pool,
        [
            {"factuality": "HIGH", "country": "GB", "at": PAST - timedelta(hours=5)},
            {"factuality": "HIGH", "country": "GB", "at": PAST},
            {"factuality": "MIXED", "country": "US", "at": PAST - timedelta(hours=1)},
            {"factuality": None, "country": None, "at": None},
        ],
    )
    story = (await data(client, COVERAGE, slug=slug))["story"]
    coverage = story["coverage"]
    assert story["sourceCount"] == 4
    assert coverage["factuality"] == [
        {"rating": "HIGH", "count": 2, "percent": 50},
        {"rating": "MIXED", "count": 1, "percent": 25},
        {"rating": None, "count": 1, "percent": 25},
    ]
    assert coverage["countries"] == [
        {"country": "GB", "count": 2, "percent": 50},
        {"country": "US", "count": 1, "percent": 25},
        {"country": None, "count": 1, "percent": 25},
    ]
    assert coverage["earliestSourceAt"] == (PAST - timedelta(hours=5)).isoformat()
    assert coverage["latestSourceAt"] == PAST.isoformat()
    assert coverage["blindspotRule"] == {"minimumSources": 3, "minimumPercent": 80}


async def test_thirds_round_to_exactly_100(client, pool) -> None:
    slug = await story_with_sources(pool, [{"country": "GB"}, {"country": "US"}, {"country": "KR"}])
    countries = (await data(client, COVERAGE, slug=slug))["story"]["coverage"]["countries"]
    assert sorted(c["percent"] for c in countries) == [33, 33, 34]


async def test_a_story_without_sources_has_empty_coverage(client, pool) -> None:
    slug = await story_with_sources(pool, [])
    coverage = (await data(client, COVERAGE, slug=slug))["story"]["coverage"]
    assert coverage["factuality"] == coverage["countries"] == []
    assert coverage["earliestSourceAt"] is coverage["latestSourceAt"] is None
    assert coverage["blindspot"] is None


@pytest.mark.parametrize(
    ("leans", "expected"),
    [
        (["RIGHT", "RIGHT", "LEAN_RIGHT"], "LEFT"),  # 3 rated, all right
        (["RIGHT", "RIGHT"], None),  # fewer than 3
        (["RIGHT", "RIGHT", "RIGHT", "CENTER"], None),  # 75% < 80%
        (["RIGHT", "RIGHT", "RIGHT", "RIGHT", "CENTER"], "LEFT"),  # exactly 80%
        (["LEFT", "LEAN_LEFT", "LEFT", None, None], "RIGHT"),  # unrated sources do not count
        (["LEFT", "LEFT", "LEFT", "RIGHT"], None),  # the other side is not empty
    ],
)
async def test_blindspot_follows_its_rule(client, pool, leans, expected) -> None:
    slug = await story_with_sources(pool, [{"bias": lean} for lean in leans])
    story = (await data(client, COVERAGE, slug=slug))["story"]
    assert story["coverage"]["blindspot"] == expected


BLINDSPOTS = """
query($side: Blindspot, $first: Int = 10, $after: String) {
  blindspots(side: $side, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { slug blindspot } }
  }
}
"""


async def test_blindspots_lists_newest_first_by_side(client, pool) -> None:
    right_heavy = [{"bias": "RIGHT"}] * 3
    left_heavy = [{"bias": "LEFT"}] * 3
    for n in range(3):
        await story_with_sources(
            pool,
            [dict(o) for o in right_heavy],
            slug=f"left-blind-{n}",
            published_at=PAST - timedelta(days=n),
        )
    await story_with_sources(
        pool, [dict(o) for o in left_heavy], slug="right-blind", published_at=PAST
    )
    await story_with_sources(
        pool, [dict(o) for o in right_heavy], slug="hidden", status="DRAFT", published_at=None
    )
    await story_with_sources(pool, [{"bias": "LEFT"}, {"bias": "RIGHT"}], slug="balanced")

    both = (await data(client, BLINDSPOTS))["blindspots"]
    assert both["totalCount"] == 4
    left = (await data(client, BLINDSPOTS, side="LEFT", first=2))["blindspots"]
    assert [e["node"]["slug"] for e in left["edges"]] == ["left-blind-0", "left-blind-1"]
    assert left["totalCount"] == 3
    rest = await data(client, BLINDSPOTS, side="LEFT", first=2, after=left["pageInfo"]["endCursor"])
    assert [e["node"]["slug"] for e in rest["blindspots"]["edges"]] == ["left-blind-2"]
    right = (await data(client, BLINDSPOTS, side="RIGHT"))["blindspots"]
    assert [e["node"] for e in right["edges"]] == [{"slug": "right-blind", "blindspot": "RIGHT"}]


OUTLET = """
query($slug: String!, $first: Int = 10, $after: String) {
  outlet(slug: $slug) {
    name bias factuality ratingBasis ratedOn
    stories(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { slug } }
    }
  }
}
"""


async def test_outlet_profile_has_its_rating_basis_and_recent_stories(client, pool) -> None:
    outlet_id = await create_outlet(
        pool,
        slug="the-ledger",
        bias="LEAN_LEFT",
        factuality="HIGH",
        rating_basis="Panel review of 40 articles",
        rated_on=PAST.date(),
    )
    for n in range(3):
        story = await create_story(pool, slug=f"ledger-{n}", published_at=PAST - timedelta(days=n))
        for _ in range(2):  # two articles in one story still make one story
            source = await create_source(pool, outlet_id=outlet_id)
            await pool.execute(
                "INSERT INTO story_sources (story_id, source_id, position) "
                "SELECT $1, $2, coalesce(max(position), 0) + 1 FROM story_sources "
                "WHERE story_id = $1",
                story,
                source,
            )
        await derive(pool, [story])
    hidden = await create_story(pool, slug="ledger-draft", status="DRAFT", published_at=None)
    source = await create_source(pool, outlet_id=outlet_id)
    await pool.execute(
        "INSERT INTO story_sources (story_id, source_id, position) VALUES ($1, $2, 1)",
        hidden,
        source,
    )
    await derive(pool, [hidden])
    await create_story(pool, slug="elsewhere")

    outlet = (await data(client, OUTLET, slug="the-ledger", first=2))["outlet"]
    assert outlet["ratingBasis"] == "Panel review of 40 articles"
    assert outlet["ratedOn"] == PAST.date().isoformat()
    assert (outlet["bias"], outlet["factuality"]) == ("LEAN_LEFT", "HIGH")
    stories = outlet["stories"]
    assert stories["totalCount"] == 3
    assert [e["node"]["slug"] for e in stories["edges"]] == ["ledger-0", "ledger-1"]
    after = stories["pageInfo"]["endCursor"]
    rest = (await data(client, OUTLET, slug="the-ledger", first=2, after=after))["outlet"]
    assert [e["node"]["slug"] for e in rest["stories"]["edges"]] == ["ledger-2"]
    assert (await data(client, OUTLET, slug="no-such-outlet"))["outlet"] is None
    body = await graphql(client, OUTLET, slug="Not A Slug")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_coverage_costs_the_same_for_1_and_20_stories(client, pool, statements) -> None:
    for n in range(20):
        await story_with_sources(
            pool, [{"factuality": "HIGH", "country": "GB"}] * (n % 4), slug=f"s-{n}"
        )
    query = """query($first: Int!) { stories(first: $first) { edges { node {
      coverage { factuality { rating } countries { country } earliestSourceAt } } } } }"""
    one = await statements_for(client, statements, query, first=1)
    twenty = await statements_for(client, statements, query, first=20)
    assert one == twenty


SENTIMENT = """mutation($input: CreateStoryInput!) { createStory(input: $input) {
  story { sentiment sentimentSource } userErrors { code message } } }"""


async def test_sentiment_is_set_by_editors_or_inferred(client, pool, make_key) -> None:
    editor = await make_key("EDITOR")
    inferred = await data(
        client,
        SENTIMENT,
        key=editor,
        input={"slug": "joy", "title": "Rescuers celebrate a wonderful, happy success"},
    )
    assert inferred["createStory"]["story"] == {
        "sentiment": "POSITIVE",
        "sentimentSource": "INFERRED",
    }
    grim = await data(
        client,
        SENTIMENT,
        key=editor,
        input={"slug": "grim", "title": "Deadly floods kill dozens, destroying homes"},
    )
    assert grim["createStory"]["story"]["sentiment"] == "NEGATIVE"
    chosen = await data(
        client,
        SENTIMENT,
        key=editor,
        input={
            "slug": "chosen",
            "title": "Deadly floods kill dozens, destroying homes",
            "sentiment": "NEUTRAL",
        },
    )
    assert chosen["createStory"]["story"] == {"sentiment": "NEUTRAL", "sentimentSource": "SET"}
