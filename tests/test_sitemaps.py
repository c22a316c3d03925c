"""Sitemaps: the index, per-month url sets and the Google News sitemap, read back by an
independent parser (ultimate-sitemap-parser) where it can work offline."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from usp.tree import sitemap_from_str

from tests.conftest import serving
from tests.factories import create_deep_dive, create_story, slug_of

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def index_entries(body: bytes) -> dict[str, str]:
    # usp would fetch every listed sitemap over the network; the index is read here instead.
    root = ET.fromstring(body)
    assert root.tag == f"{SITEMAP}sitemapindex"
    return {
        entry.findtext(f"{SITEMAP}loc"): entry.findtext(f"{SITEMAP}lastmod")
        for entry in root.findall(f"{SITEMAP}sitemap")
    }


async def test_index_lists_months_with_content_and_each_month_lists_its_pages(client, pool) -> None:
    march = datetime(2026, 3, 10, tzinfo=UTC)
    story = await create_story(pool, published_at=march)
    dive = await create_deep_dive(pool, story_id=story, published_at=march + timedelta(days=1))
    later = await create_story(pool, published_at=datetime(2026, 5, 2, tzinfo=UTC))
    await create_story(pool, status="DRAFT", published_at=None)
    await create_story(pool, published_at=datetime.now(UTC) + timedelta(days=3))

    response = await client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    listed = index_entries(response.content)
    assert set(listed) == {
        "http://test/sitemaps/2026-03.xml",
        "http://test/sitemaps/2026-05.xml",
        "http://test/sitemaps/news.xml",
    }
    for lastmod in listed.values():
        assert datetime.fromisoformat(lastmod).tzinfo is not None

    parsed = sitemap_from_str((await client.get("/sitemaps/2026-03.xml")).text)
    assert type(parsed).__name__ == "PagesXMLSitemap"
    assert {page.url for page in parsed.all_pages()} == {
        f"https://news.test/stories/{await slug_of(pool, 'stories', story)}",
        f"https://news.test/deep-dives/{await slug_of(pool, 'deep_dives', dive)}",
    }
    may = sitemap_from_str((await client.get("/sitemaps/2026-05-02.xml")).text)
    assert [page.url for page in may.all_pages()] == [
        f"https://news.test/stories/{await slug_of(pool, 'stories', later)}"
    ]
    for missing in ("/sitemaps/2026-04.xml", "/sitemaps/2026-13.xml", "/sitemaps/latest.xml"):
        assert (await client.get(missing)).status_code == 404, missing


async def test_news_sitemap_holds_the_last_48_hours_only(client, pool) -> None:
    now = datetime.now(UTC)
    fresh = await create_story(pool, published_at=now - timedelta(hours=3), title="Fresh & new")
    await create_story(pool, published_at=now - timedelta(hours=49), title="Stale")
    await create_story(pool, published_at=now + timedelta(hours=1), title="Embargoed")

    parsed = sitemap_from_str((await client.get("/sitemaps/news.xml")).text)
    (page,) = parsed.all_pages()
    assert page.url == f"https://news.test/stories/{await slug_of(pool, 'stories', fresh)}"
    story = page.news_story
    assert story.title == "Fresh & new"
    assert story.publication_name == "Newsgraph" and story.publication_language == "en"
    assert abs(story.publish_date - (now - timedelta(hours=3))) < timedelta(seconds=1)


async def test_news_sitemap_stops_at_1000_newest(client, pool) -> None:
    now = datetime.now(UTC)
    await pool.executemany(
        "INSERT INTO stories (slug, title, summary, status, published_at) "
        "VALUES ($1, $2, '', 'PUBLISHED', $3)",
        [(f"burst-{n}", f"Burst {n}", now - timedelta(seconds=n + 1)) for n in range(1005)],
    )
    parsed = sitemap_from_str((await client.get("/sitemaps/news.xml")).text)
    urls = [page.url for page in parsed.all_pages()]
    assert len(urls) == 1000
    assert urls[0].endswith("/burst-0") and urls[-1].endswith("/burst-999")


async def test_every_address_is_on_the_public_api_host_when_one_is_set(
    settings, pool, demo
) -> None:
    """Behind a proxy the request's host is an internal one; crawlers accept a sitemap only on
    its pages' host, so NEWSGRAPH_API_URL names where partners reach the service."""
    api_url = "https://api.news.example/content"
    async with serving(replace(settings, api_url=api_url)) as http:
        index = (await http.get("/sitemap.xml")).text
        feed = (await http.get("/feeds/stories.json")).json()
        listing = await http.get("/v1/stories?first=1")
        openapi = (await http.get("/v1/openapi.json")).json()
    locs = re.findall(r"<loc>([^<]+)</loc>", index)
    assert locs and all(loc.startswith(f"{api_url}/sitemaps/") for loc in locs)
    assert feed["feed_url"] == f"{api_url}/feeds/stories.json"
    assert listing.json()["links"]["next"].startswith(f"{api_url}/v1/stories?first=1&after=")
    assert listing.headers["link"].startswith(f"<{api_url}/v1/stories?")
    assert openapi["servers"] == [{"url": api_url}]
