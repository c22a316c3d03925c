"""The demo loader keeps every link of its bundle, and refuses links it cannot resolve."""

from __future__ import annotations

import copy

import pytest

from db.demo import load_bundle
from tests.conftest import data

COUNTS = """query($slug: String!) { story(slug: $slug) {
  sourceCount topics { slug } sources(first: 100) { edges { node { url } } } } }"""


async def test_every_demo_story_keeps_all_its_sources_and_topics(client, demo) -> None:
    for bundled in demo["stories"]:
        story = (await data(client, COUNTS, slug=bundled["slug"]))["story"]
        assert story["sourceCount"] == len(bundled["sources"])
        assert [e["node"]["url"] for e in story["sources"]["edges"]] == bundled["sources"]
        assert [t["slug"] for t in story["topics"]] == bundled["topics"]


async def test_an_unknown_reference_fails_the_whole_load(pool, demo) -> None:
    broken = copy.deepcopy(demo)
    broken["stories"][0]["slug"] = "a-new-story"
    broken["stories"][0]["topics"].append("no-such-topic")
    with pytest.raises(ValueError, match="no topics with slug no-such-topic"):
        await load_bundle(pool, broken)
    assert not await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM stories WHERE slug = 'a-new-story')"
    )
