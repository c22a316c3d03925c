"""jsonLd and openGraph on stories and deep dives (schema.org NewsArticle and
AnalysisNewsArticle), and the partner full-text rule on deep-dive sections."""

from __future__ import annotations

from api.settings import Images
from content.images import lead_images
from content.web_metadata import og_locale
from tests.conftest import data, error_codes, graphql
from tests.factories import create_deep_dive, create_story, create_topic, slug_of

WIDTHS = Images().widths
STORY = """query($slug: String!) { story(slug: $slug) {
  url title summary publishedAt updatedAt heroImage { url alt } category { name } topics { name }
  sources(first: 100) { edges { node { url title outlet { name } } } }
  jsonLd openGraph { property content } } }"""
DIVE = """query($slug: String!) { deepDive(slug: $slug) {
  url title dek publishedAt story { url heroImage { url } }
  citations { source { url title outlet { name } } }
  jsonLd openGraph { property content } } }"""


async def test_story_json_ld_is_a_news_article_citing_its_sources(client, demo) -> None:
    slug = demo["stories"][0]["slug"]
    story = (await data(client, STORY, slug=slug))["story"]
    ld = story["jsonLd"]
    assert ld["@context"] == "https://schema.org" and ld["@type"] == "NewsArticle"
    assert ld["headline"] == story["title"] and ld["description"] == story["summary"]
    assert ld["url"] == ld["@id"] == ld["mainEntityOfPage"]["@id"] == story["url"]
    assert ld["datePublished"] == story["publishedAt"]
    assert ld["dateModified"] == story["updatedAt"]
    assert ld["publisher"] == ld["author"]
    assert ld["publisher"]["@type"] == "NewsMediaOrganization"
    assert ld["publisher"]["url"] == "https://news.test"
    if story["heroImage"]:
        assert ld["image"] == list(lead_images("http://test", story["heroImage"]["url"], WIDTHS))
    assert ld["articleSection"] == story["category"]["name"]
    assert ld["keywords"] == [topic["name"] for topic in story["topics"]]
    sources = [edge["node"] for edge in story["sources"]["edges"]]
    assert [(c["url"], c["headline"], c["publisher"]["name"]) for c in ld["citation"]] == [
        (s["url"], s["title"], s["outlet"]["name"]) for s in sources
    ]
    tags = {tag["property"]: tag["content"] for tag in story["openGraph"]}
    assert tags["og:type"] == "article" and tags["og:title"] == story["title"]
    assert tags["og:description"] == story["summary"] and tags["og:url"] == story["url"]
    assert tags["article:published_time"] == story["publishedAt"]


async def test_deep_dive_json_ld_is_an_analysis_citing_what_it_cites(client, demo) -> None:
    slug = demo["deep_dives"][0]["slug"]
    dive = (await data(client, DIVE, slug=slug))["deepDive"]
    ld = dive["jsonLd"]
    assert ld["@type"] == "AnalysisNewsArticle" and ld["headline"] == dive["title"]
    assert ld["about"] == {"@type": "NewsArticle", "url": dive["story"]["url"]}
    cited = [c["source"] for c in dive["citations"]]
    assert cited, "the demo deep dive cites its sources"
    assert [c["url"] for c in ld["citation"]] == list(dict.fromkeys(s["url"] for s in cited))
    tags = [tag["property"] for tag in dive["openGraph"]]
    assert {"og:title", "og:description", "og:url", "article:published_time"} <= set(tags)
    if dive["story"]["heroImage"]:
        [wide, *_] = lead_images("http://test", dive["story"]["heroImage"]["url"], WIDTHS)
        assert ("og:image", wide) in [(t["property"], t["content"]) for t in dive["openGraph"]]


SECTIONS = """query($slug: String!) { deepDive(slug: $slug) {
  title syndicatable sections { heading } } }"""


async def test_partners_get_no_full_text_of_what_is_not_syndicatable(
    client, pool, make_key
) -> None:
    story = await create_story(pool, topic_ids=[await create_topic(pool)])
    free = await slug_of(pool, "deep_dives", await create_deep_dive(pool, story_id=story))
    other = await create_story(pool)
    held = await create_deep_dive(pool, story_id=other, syndicatable=False)
    held_slug = await slug_of(pool, "deep_dives", held)
    partner = await make_key("PARTNER")

    assert (await data(client, SECTIONS, key=partner, slug=free))["deepDive"]["sections"]
    refused = await graphql(client, SECTIONS, key=partner, slug=held_slug)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert refused["errors"][0]["extensions"]["reason"] == "NOT_SYNDICATABLE"
    for key in (None, await make_key("PUBLIC"), await make_key("EDITOR")):
        readable = (await data(client, SECTIONS, key=key, slug=held_slug))["deepDive"]
        assert readable["syndicatable"] is False and readable["sections"]


async def test_json_ld_lists_a_source_cited_twice_once(client, demo) -> None:
    repeated = 0
    for dive in demo["deep_dives"]:
        found = (await data(client, DIVE, slug=dive["slug"]))["deepDive"]
        cited = [c["source"]["url"] for c in found["citations"]]
        listed = [c["url"] for c in found["jsonLd"]["citation"]]
        assert listed == list(dict.fromkeys(cited))
        repeated += len(cited) > len(set(cited))
    assert repeated, "a demo deep dive cites one source twice: the rule is exercised"


async def test_link_previews_name_the_locale_card_and_image_text(client, demo, pool) -> None:
    pictured = await create_story(
        pool, hero_image_url="https://images.example/a.jpg", hero_image_alt="Pylons at dusk"
    )
    plain = await create_story(pool)
    for story, card in ((pictured, "summary_large_image"), (plain, "summary")):
        found = (await data(client, STORY, slug=await slug_of(pool, "stories", story)))["story"]
        tags = {tag["property"]: tag["content"] for tag in found["openGraph"]}
        assert tags["og:locale"] == "en_US" and tags["twitter:card"] == card
        if found["heroImage"]:
            assert tags["og:image:alt"] == tags["twitter:image:alt"] == "Pylons at dusk"
        else:
            assert "og:image:alt" not in tags and "og:image" not in tags


def test_og_locale_follows_the_language_tag() -> None:
    assert [og_locale(tag) for tag in ("en", "en-GB", "pt-BR", "pt", "fr", "zh-Hant-TW", "xx")] == [
        "en_US",
        "en_GB",
        "pt_BR",
        "pt_BR",
        "fr_FR",
        "zh_TW",
        "xx_XX",
    ]
