"""Every operation the frontends send today validates unchanged and answers with real data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OPERATIONS, data, operation


async def test_story_page_returns_the_stored_story_with_consistent_figures(client, demo) -> None:
    result = await data(client, operation("StoryPage"), slug="gulf-airspace-reopens-doha-flights")
    story = result["story"]
    bundle_story = next(s for s in demo["stories"] if s["slug"] == story["slug"])
    assert story["title"] == bundle_story["title"]
    assert story["url"] == "https://news.test/stories/gulf-airspace-reopens-doha-flights"
    assert story["category"] == {"slug": "world", "name": "World"}
    assert [t["slug"] for t in story["topics"]] == bundle_story["topics"]
    assert story["publishedAt"] == "2026-03-14T12:30:00+00:00"
    # Reuters (center), Guardian and Al Jazeera (lean left), New York Post (lean right).
    assert story["bias"] == {
        "left": 2,
        "center": 1,
        "right": 1,
        "unrated": 0,
        "leftPercent": 50,
        "centerPercent": 25,
        "rightPercent": 25,
    }
    assert story["sourceCount"] == 4 == story["sources"]["totalCount"]
    assert story["coverageLabel"] == "Left Positive"
    assert story["blindspot"] is None
    urls = [edge["node"]["url"] for edge in story["sources"]["edges"]]
    assert urls == bundle_story["sources"]
    assert story["sources"]["edges"][0]["node"]["outlet"] == {
        "id": story["sources"]["edges"][0]["node"]["outlet"]["id"],
        "name": "Reuters",
        "domain": "reuters.com",
        "country": "GB",
        "bias": "CENTER",
        "factuality": "VERY_HIGH",
    }
    assert story["sources"]["pageInfo"]["hasNextPage"] is False
    assert story["deepDive"] is None


async def test_story_page_of_the_seed_story_links_its_deep_dive(client, demo) -> None:
    story = (await data(client, operation("StoryPage"), slug="south-korea-may-join-nato-purl"))[
        "story"
    ]
    assert story["sourceCount"] == 1
    assert story["bias"]["centerPercent"] == 100
    assert story["bias"]["leftPercent"] == story["bias"]["rightPercent"] == 0
    assert story["coverageLabel"] == "Center Neutral"
    assert story["heroImage"]["credit"] == "Reuters-Yonhap"
    assert story["deepDive"]["slug"] == "south-korea-purl-deep-dive"
    assert story["deepDive"]["readTimeMinutes"] >= 2


async def test_deep_dive_page(client, demo) -> None:
    dive = (await data(client, operation("DeepDivePage"), slug="south-korea-purl-deep-dive"))[
        "deepDive"
    ]
    bundle = next(d for d in demo["deep_dives"] if d["slug"] == "south-korea-purl-deep-dive")
    assert [s["heading"] for s in dive["sections"]] == [s["heading"] for s in bundle["sections"]]
    assert [e["anchor"] for e in dive["tableOfContents"]] == [s["anchor"] for s in dive["sections"]]
    assert dive["sections"][0]["anchor"] == "what-purl-is"
    assert "<strong>Prioritized Ukraine Requirements List</strong>" in dive["sections"][0]["body"]
    purl = next(actor for actor in dive["keyActors"] if actor["slug"] == "purl")
    assert purl["description"].startswith("The Prioritized Ukraine Requirements List")
    assert [a["slug"] for a in dive["keyActors"]] == ["nato", "ukraine", "south-korea", "purl"]
    assert {c["source"]["outlet"]["name"] for c in dive["citations"]} == {"The Korea Times"}
    assert (
        dive["share"]["url"]
        == dive["url"]
        == "https://news.test/deep-dives/south-korea-purl-deep-dive"
    )
    assert dive["story"]["sourceCount"] == 1
    assert dive["wordCount"] > 400
    assert dive["readTimeMinutes"] == -(-dive["wordCount"] // 230)
    more = dive["moreLikeThis"]
    assert 1 <= len(more) <= 3
    assert "south-korea-may-join-nato-purl" not in [s["slug"] for s in more]
    for story in more:
        assert story["sourceCount"] == 1
        assert sum(story["bias"].values()) == 100


@pytest.mark.parametrize("format_, marker", [("MARKDOWN", "**Prioritized"), ("TEXT", "PURL is")])
async def test_deep_dive_page_body_formats(client, demo, format_: str, marker: str) -> None:
    result = await data(
        client, operation("DeepDivePage"), slug="south-korea-purl-deep-dive", format=format_
    )
    body = result["deepDive"]["sections"][0]["body"]
    assert marker in body
    assert "<p>" not in body


async def test_home_feed_lists_newest_first(client, demo) -> None:
    feed = (await data(client, operation("HomeFeed"), first=5))["stories"]
    assert feed["totalCount"] == len(demo["stories"])
    dates = [edge["node"]["publishedAt"] for edge in feed["edges"]]
    assert dates == sorted(dates, reverse=True)
    assert len(feed["edges"]) == 5
    assert feed["pageInfo"] == {"hasNextPage": True, "endCursor": feed["edges"][-1]["cursor"]}


async def test_home_feed_filters_narrow_together(client, demo) -> None:
    world = {"category": "world", "topic": "qatar"}
    feed = (await data(client, operation("HomeFeed"), filter=world))["stories"]
    expected = {
        s["slug"] for s in demo["stories"] if s["category"] == "world" and "qatar" in s["topics"]
    }
    assert {edge["node"]["slug"] for edge in feed["edges"]} == expected
    assert feed["totalCount"] == len(expected) == 4


@pytest.mark.parametrize(
    "story_filter, expected",
    [
        ({"blindspot": "LEFT"}, {"nato-allies-agree-higher-spending-target"}),
        ({"blindspot": "RIGHT"}, {"ukraine-aid-faces-test-in-congress"}),
        (
            {"outlet": "fox-news"},
            {"nato-allies-agree-higher-spending-target", "qatar-lng-expansion-on-track"},
        ),
        ({"sentiment": "POSITIVE", "category": "business"}, {"qatar-lng-expansion-on-track"}),
        (
            {"publishedAfter": "2026-10-01T00:00:00Z"},
            {"qatar-lng-expansion-on-track", "north-korea-sends-more-troops-to-russia"},
        ),
        ({"publishedBefore": "2025-12-31T00:00:00+09:00"}, {"first-purl-deliveries-reach-ukraine"}),
        ({"query": "tank Poland"}, {"south-korea-poland-tank-deal"}),
    ],
)
async def test_home_feed_filters(client, demo, story_filter: dict[str, Any], expected) -> None:
    feed = (await data(client, operation("HomeFeed"), filter=story_filter))["stories"]
    assert {edge["node"]["slug"] for edge in feed["edges"]} == expected
    assert feed["totalCount"] == len(expected)


async def test_topic_page(client, demo) -> None:
    topic = (await data(client, operation("TopicPage"), slug="purl"))["topic"]
    assert topic["kind"] == "PROGRAM"
    assert topic["description"].startswith("The Prioritized Ukraine Requirements List")
    slugs = [edge["node"]["slug"] for edge in topic["stories"]["edges"]]
    assert slugs == ["south-korea-may-join-nato-purl", "first-purl-deliveries-reach-ukraine"]
    assert topic["stories"]["totalCount"] == 2
    assert [e["node"]["slug"] for e in topic["deepDives"]["edges"]] == [
        "south-korea-purl-deep-dive"
    ]


async def test_node_refetch_round_trips_every_type(client, demo) -> None:
    story = (await data(client, operation("StoryPage"), slug="south-korea-may-join-nato-purl"))[
        "story"
    ]
    source = story["sources"]["edges"][0]["node"]
    ids = {
        "Story": story["id"],
        "DeepDive": story["deepDive"]["id"],
        "Source": source["id"],
        "Outlet": source["outlet"]["id"],
        "Topic": (await data(client, operation("TopicPage"), slug="nato"))["topic"]["id"],
    }
    for type_name, node_id in ids.items():
        node = (await data(client, operation("NodeRefetch"), id=node_id))["node"]
        assert node["__typename"] == type_name
        assert node["id"] == node_id
    assert (await data(client, operation("NodeRefetch"), id=ids["Outlet"]))["node"]["name"] == (
        "The Korea Times"
    )


async def test_search_finds_stories_and_deep_dives_with_escaped_highlights(client, demo) -> None:
    result = (await data(client, operation("Search"), q="Qatar"))["search"]
    kinds = {edge["node"]["__typename"] for edge in result["edges"]}
    assert kinds == {"Story", "DeepDive"}
    assert result["totalCount"] == len(result["edges"])
    # Most hits name Qatar in their text; the rest match through the topic "Qatar".
    marked = [edge for edge in result["edges"] if "<mark>Qatar</mark>" in edge["highlight"]]
    assert len(marked) >= len(result["edges"]) // 2
    slugs = {edge["node"]["slug"] for edge in result["edges"]}
    assert "gulf-airspace-reopens-doha-flights" in slugs  # tagged Qatar, never says it


FRONTENDS = os.environ.get("FRONTEND_OPERATIONS")
"""The frontends' own operations folder, when this machine has one; the repository carries
its copy in contract/operations and needs nothing beside it."""


@pytest.mark.skipif(not FRONTENDS, reason="FRONTEND_OPERATIONS names no folder of operations")
def test_the_copy_of_the_contract_is_what_the_frontends_send() -> None:
    assert FRONTENDS is not None
    ours = {path.name: path.read_text() for path in OPERATIONS.glob("*.graphql")}
    theirs = {path.name: path.read_text() for path in Path(FRONTENDS).glob("*.graphql")}
    assert theirs, f"no operations in {FRONTENDS}"
    assert ours == theirs, f"copy {FRONTENDS} into contract/operations"
