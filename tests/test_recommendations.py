"""Recommendations: signals and their reasons, viewpoint diversity, pins, forYou, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db import recommendations
from schema.relay import to_global_id
from tests.conftest import data, error_codes, graphql
from tests.factories import PAST, create_deep_dive, create_story, create_topic
from tests.test_query_count import statements_for

RELATED = """
query($slug: String!, $first: Int = 5) {
  story(slug: $slug) {
    relatedStories(first: $first) {
      slug
      reason { signals score sharedTopics { slug } }
    }
  }
}
"""
MORE_LIKE_THIS = """
query($slug: String!) {
  deepDive(slug: $slug) { moreLikeThis(first: 3) { slug reason { signals } } }
}
"""


async def related(client, slug: str, first: int = 5) -> list[dict]:
    result: list[dict] = (await data(client, RELATED, slug=slug, first=first))["story"][
        "relatedStories"
    ]
    return result


async def test_a_rare_shared_topic_counts_more_than_a_common_one(client, pool) -> None:
    rare = await create_topic(pool, slug="rare")
    common = await create_topic(pool, slug="common")
    await create_story(pool, slug="item", topic_ids=[rare, common])
    for n in range(30):  # make "common" common
        await create_story(pool, slug=f"filler-{n}", topic_ids=[common])
    await create_story(pool, slug="shares-rare", topic_ids=[rare])
    found = await related(client, "item", first=1)
    assert found[0]["slug"] == "shares-rare"
    assert found[0]["reason"]["signals"][0] == "SHARED_TOPICS"
    assert found[0]["reason"]["sharedTopics"] == [{"slug": "rare"}]


async def test_topic_candidates_are_the_newest_by_publish_time_not_by_id(client, pool) -> None:
    # Each topic offers its newest CANDIDATES_PER_SOURCE stories; a story entered first but
    # published last is among them, ahead of later entries about the distant past.
    topic = await create_topic(pool, slug="archive")
    await create_story(pool, slug="item", topic_ids=[topic], published_at=PAST)
    await create_story(pool, slug="latest", topic_ids=[topic], published_at=PAST)
    for n in range(recommendations.CANDIDATES_PER_SOURCE):
        await create_story(
            pool, slug=f"old-{n}", topic_ids=[topic], published_at=PAST - timedelta(days=900)
        )
    found = await related(client, "item", first=3)
    assert found[0]["slug"] == "latest"
    assert all(f["slug"].startswith("old-") for f in found[1:])


async def test_similar_wording_is_a_signal(client, pool) -> None:
    category = await create_topic(pool, kind="CATEGORY", slug="science")
    await create_story(
        pool, slug="item", title="Comet fragments light up the northern sky", category_id=category
    )
    await create_story(
        pool, slug="similar", title="Northern sky lit by comet fragments", category_id=category
    )
    await create_story(pool, slug="unrelated", title="Bond yields steady", category_id=category)
    found = await related(client, "item")
    assert [f["slug"] for f in found] == ["similar", "unrelated"]
    assert found[0]["reason"]["signals"] == ["SIMILAR_TEXT", "SAME_CATEGORY"]
    assert found[1]["reason"]["signals"] == ["SAME_CATEGORY"]
    assert found[0]["reason"]["score"] > found[1]["reason"]["score"]


async def test_never_itself_nor_hidden_and_the_same_answer_twice(client, pool) -> None:
    topic = await create_topic(pool)
    await create_story(pool, slug="item", topic_ids=[topic])
    await create_story(pool, slug="visible", topic_ids=[topic])
    await create_story(pool, slug="draft", topic_ids=[topic], status="DRAFT", published_at=None)
    await create_story(
        pool, slug="scheduled", topic_ids=[topic], published_at=PAST + timedelta(days=3650)
    )
    await create_story(pool, slug="archived", topic_ids=[topic], status="ARCHIVED")
    first = await related(client, "item")
    assert [f["slug"] for f in first] == ["visible"]
    again = await related(client, "item")  # scores drift with the clock (freshness), order not
    assert [(f["slug"], f["reason"]["signals"]) for f in again] == [
        (f["slug"], f["reason"]["signals"]) for f in first
    ]


async def test_viewpoints_are_mixed_when_relevance_is_close(client, pool) -> None:
    topic = await create_topic(pool)
    await create_story(pool, slug="item", topic_ids=[topic])
    for n in range(4):
        await create_story(pool, slug=f"right-{n}", topic_ids=[topic], leans=["RIGHT"] * 3)
    await create_story(pool, slug="left", topic_ids=[topic], leans=["LEFT"] * 3)
    # Equally relevant: by id the right-leaning ones would fill the top 3.
    top = [f["slug"] for f in await related(client, "item", first=3)]
    assert "left" in top
    assert len([slug for slug in top if slug.startswith("right")]) == 2


async def test_a_much_weaker_match_is_not_promoted_for_its_lean(client, pool) -> None:
    topic = await create_topic(pool)
    other = await create_topic(pool)
    category = await create_topic(pool, kind="CATEGORY")
    await create_story(pool, slug="item", topic_ids=[topic, other], category_id=category)
    for n in range(3):
        await create_story(
            pool,
            slug=f"right-{n}",
            topic_ids=[topic, other],
            category_id=category,
            leans=["RIGHT"] * 3,
        )
    # Only the section in common: far less relevant.
    await create_story(pool, slug="left", category_id=category, leans=["LEFT"] * 3)
    top = [f["slug"] for f in await related(client, "item", first=3)]
    assert "left" not in top


async def test_more_like_this_offers_only_stories_with_deep_dives(client, pool) -> None:
    topic = await create_topic(pool)
    item = await create_story(pool, topic_ids=[topic])
    await create_deep_dive(pool, story_id=item, slug="item-dive")
    with_dive = await create_story(pool, slug="with-dive", topic_ids=[topic])
    await create_deep_dive(pool, story_id=with_dive)
    await create_story(pool, slug="without-dive", topic_ids=[topic])
    found = (await data(client, MORE_LIKE_THIS, slug="item-dive"))["deepDive"]["moreLikeThis"]
    assert [f["slug"] for f in found] == ["with-dive"]
    assert found[0]["reason"]["signals"][0] == "SHARED_TOPICS"


PIN = """mutation($story: ID!, $pins: [ID!]!) {
  pinRecommendations(story: $story, pins: $pins) {
    pinned { slug }
    userErrors { field code message }
  }
}"""


async def test_editor_pins_come_first_in_order(client, pool, make_key) -> None:
    topic = await create_topic(pool)
    item = await create_story(pool, slug="item", topic_ids=[topic])
    await create_story(pool, slug="on-topic", topic_ids=[topic])
    unrelated = await create_story(pool, slug="unrelated")
    also = await create_story(pool, slug="also-pinned")
    draft = await create_story(pool, slug="pinned-draft", status="DRAFT", published_at=None)
    editor = await make_key("EDITOR")
    ids = [to_global_id("Story", pk) for pk in (unrelated, draft, also)]
    result = await data(client, PIN, key=editor, story=to_global_id("Story", item), pins=ids)
    assert result["pinRecommendations"] == {
        "pinned": [{"slug": "unrelated"}, {"slug": "pinned-draft"}, {"slug": "also-pinned"}],
        "userErrors": [],
    }
    found = await related(client, "item")
    # The draft stays out of sight until it is published.
    assert [f["slug"] for f in found] == ["unrelated", "also-pinned", "on-topic"]
    assert found[0]["reason"]["signals"][0] == "EDITORS_PICK"

    audit = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'pin_recommendations'"
    )
    assert audit == 1
    cleared = await data(client, PIN, key=editor, story=to_global_id("Story", item), pins=[])
    assert cleared["pinRecommendations"]["pinned"] == []
    assert [f["slug"] for f in await related(client, "item")] == ["on-topic"]


async def test_pin_errors(client, pool, make_key) -> None:
    item = await create_story(pool, slug="item")
    other = await create_story(pool, slug="other")
    editor = await make_key("EDITOR")
    story_id, other_id = to_global_id("Story", item), to_global_id("Story", other)

    async def errors(key, **variables) -> tuple[list[str], list[dict]]:
        body = await graphql(client, PIN, key=key, **variables)
        payload = (body.get("data") or {}).get("pinRecommendations") or {}
        return error_codes(body), payload.get("userErrors", [])

    public = await make_key("PUBLIC")
    assert (await errors(public, story=story_id, pins=[other_id]))[0] == ["FORBIDDEN"]
    _, user_errors = await errors(editor, story=story_id, pins=[other_id, other_id, story_id])
    assert [(e["field"], e["code"]) for e in user_errors] == [
        (["pins", "1"], "DUPLICATE"),
        (["pins", "2"], "INVALID"),
    ]
    missing = to_global_id("Story", 999_999)
    _, user_errors = await errors(editor, story=story_id, pins=[other_id, missing])
    assert [(e["field"], e["code"]) for e in user_errors] == [(["pins", "1"], "NOT_FOUND")]
    _, user_errors = await errors(editor, story=missing, pins=[other_id])
    assert [(e["field"], e["code"]) for e in user_errors] == [(["story"], "NOT_FOUND")]
    too_many = [to_global_id("Story", 1000 + n) for n in range(11)]
    assert (await errors(editor, story=story_id, pins=too_many))[0] == ["BAD_USER_INPUT"]
    wrong_type = to_global_id("Topic", other)
    assert (await errors(editor, story=story_id, pins=[wrong_type]))[0] == ["BAD_USER_INPUT"]
    assert await pool.fetchval("SELECT count(*) FROM recommendation_pins") == 0


FOR_YOU = """
query($topics: [String!]!, $exclude: [ID!], $first: Int = 10) {
  forYou(topics: $topics, exclude: $exclude, first: $first) {
    slug
    reason { signals sharedTopics { slug } }
  }
}
"""


async def test_for_you_follows_topics_newest_first_without_what_was_read(client, pool) -> None:
    space = await create_topic(pool, slug="space")
    ocean = await create_topic(pool, slug="ocean")
    other = await create_topic(pool, slug="other")
    read = await create_story(pool, slug="read", topic_ids=[space], published_at=PAST)
    for n in range(3):
        await create_story(
            pool, slug=f"space-{n}", topic_ids=[space], published_at=PAST - timedelta(days=n)
        )
    await create_story(pool, slug="ocean", topic_ids=[ocean], published_at=PAST)
    await create_story(pool, slug="other", topic_ids=[other], published_at=PAST)
    await create_story(pool, slug="space-draft", topic_ids=[space], status="DRAFT")
    found = (
        await data(
            client,
            FOR_YOU,
            topics=["space", "ocean"],
            exclude=[to_global_id("Story", read)],
        )
    )["forYou"]
    slugs = [f["slug"] for f in found]
    assert set(slugs) == {"space-0", "space-1", "space-2", "ocean"}
    space_order = [slug for slug in slugs if slug.startswith("space")]
    assert space_order == ["space-0", "space-1", "space-2"]
    assert found[0]["reason"]["signals"] == ["FOLLOWED_TOPICS", "RECENT"]
    assert found[0]["reason"]["sharedTopics"] in ([{"slug": "space"}], [{"slug": "ocean"}])


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"topics": []}, "topics"),
        ({"topics": [f"t-{n}" for n in range(21)]}, "topics"),
        ({"topics": ["Not A Slug"]}, "topics"),
        ({"topics": ["space"], "exclude": [to_global_id("Topic", 1)]}, "exclude"),
        ({"topics": ["space"], "first": 101}, "first"),
    ],
)
async def test_for_you_bad_input(client, pool, variables, field) -> None:
    body = await graphql(client, FOR_YOU, **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


async def test_recommendation_signals_without_embeddings(client, pool) -> None:
    signals = (await data(client, "{ recommendationSignals }"))["recommendationSignals"]
    assert "SEMANTIC" not in signals
    assert {"EDITORS_PICK", "SHARED_TOPICS", "SIMILAR_TEXT"} <= set(signals)


async def test_related_stories_cost_the_same_for_1_and_10_items(client, pool, statements) -> None:
    topic = await create_topic(pool)
    for n in range(12):
        await create_story(pool, slug=f"s-{n}", topic_ids=[topic], leans=["LEFT", "RIGHT"])
    query = """query($first: Int!) { stories(first: $first) { edges { node {
      relatedStories(first: 3) { slug reason { signals sharedTopics { slug } } } } } } }"""
    one = await statements_for(client, statements, query, first=1)
    ten = await statements_for(client, statements, query, first=10)
    assert one == ten


async def test_a_story_from_a_century_ago_is_recommended_without_error(client, pool) -> None:
    """Freshness halves every 30 days; a century of halvings underflowed float8 and failed
    the statement. It bottoms out instead, so the old story ranks after the new one."""
    tides = await create_topic(pool, slug="tides")
    century_ago = PAST - timedelta(days=36_500)
    await create_story(pool, slug="old-tides", topic_ids=[tides], published_at=century_ago)
    await create_story(pool, slug="new-tides", topic_ids=[tides], published_at=PAST)
    found = (await data(client, FOR_YOU, topics=["tides"], exclude=[]))["forYou"]
    assert [f["slug"] for f in found] == ["new-tides", "old-tides"]
