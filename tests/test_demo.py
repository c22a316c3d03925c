"""The demo content loads through the NDJSON import and keeps every link it names."""

from __future__ import annotations

from tests.conftest import data

COUNTS = """query($slug: String!) { story(slug: $slug) {
  sourceCount topics { slug } sources(first: 100) { edges { node { url } } } } }"""


async def test_every_demo_story_keeps_all_its_sources_and_topics(client, demo) -> None:
    for bundled in demo["stories"]:
        story = (await data(client, COUNTS, slug=bundled["slug"]))["story"]
        assert story["sourceCount"] == len(bundled["sources"])
        assert [e["node"]["url"] for e in story["sources"]["edges"]] == bundled["sources"]
        assert [t["slug"] for t in story["topics"]] == bundled["topics"]


async def test_loading_the_demo_again_changes_nothing(pool, demo) -> None:
    from api.transfer import load_demo

    before = await pool.fetch("SELECT slug, version, updated_at FROM stories ORDER BY slug")
    report = await load_demo(pool)
    assert report.counts["unchanged"] == sum(len(items) for items in demo.values())
    assert report.counts["created"] == report.counts["updated"] == 0
    after = await pool.fetch("SELECT slug, version, updated_at FROM stories ORDER BY slug")
    assert before == after
