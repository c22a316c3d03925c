"""Sitemaps: the index, per-month url sets and the Google News sitemap, read back by an
independent parser (ultimate-sitemap-parser) where it can work offline."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import orjson
import pytest
import xmlschema
from usp.tree import sitemap_from_str

from db.audit import Actor
from db.transfer import import_lines
from tests.conftest import serving
from tests.factories import create_deep_dive, create_story, slug_of

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
STANDARDS = Path(__file__).parent / "standards"


def index_entries(body: bytes) -> dict[str, str | None]:
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


def conforms(body: bytes, schema: str) -> None:
    """Valid against sitemaps.org's own XML Schema (tests/standards). Google's news tags are
    left out first: their schema is not bundled (tests/standards/README.md), and the
    sitemaps.org schema checks extensions strictly against theirs."""
    root = ET.fromstring(body)
    for url in root.findall(f"{SITEMAP}url"):
        for extension in [child for child in url if not child.tag.startswith(SITEMAP)]:
            url.remove(extension)
    xmlschema.XMLSchema(STANDARDS / schema).validate(ET.tostring(root))


async def test_every_sitemap_conforms_to_the_schema_even_with_nothing_published(
    client, pool
) -> None:
    empty_index = (await client.get("/sitemap.xml")).content
    conforms(empty_index, "siteindex.xsd")
    assert index_entries(empty_index) == {"http://test/sitemaps/news.xml": None}
    empty_news = (await client.get("/sitemaps/news.xml")).content
    conforms(empty_news, "sitemap.xsd")
    assert re.findall(rb"<loc>([^<]+)</loc>", empty_news) == [b"https://news.test/"]
    assert b"news:news" not in empty_news, "no article is claimed as news"

    now = datetime.now(UTC)
    await create_story(pool, published_at=now - timedelta(hours=2), title="Fresh")
    await create_story(pool, published_at=datetime(2026, 3, 10, tzinfo=UTC))
    index = (await client.get("/sitemap.xml")).content
    conforms(index, "siteindex.xsd")
    for location in index_entries(index):
        conforms((await client.get(location.removeprefix("http://test"))).content, "sitemap.xsd")
    with pytest.raises(xmlschema.XMLSchemaValidationError):  # the check can fail
        conforms(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>', "sitemap.xsd")


def _story(slug: str, published: str, title: str) -> dict[str, object]:
    return {
        "type": "story",
        "slug": slug,
        "title": title,
        "status": "PUBLISHED",
        "published_at": published,
    }


async def _import(pool, *documents: dict[str, object]) -> None:
    lines = (orjson.dumps(document).decode() for document in documents)
    report = await import_lines(pool, enumerate(lines, 1), actor=Actor("test", None))
    assert not report.rejections, report.rejections


async def test_lastmod_is_when_readers_saw_a_change_month_by_month(client, pool) -> None:
    """Imported pages count as unedited since they were published; only an editorial write
    moves a page's time, and each month's sitemap carries its own pages' latest."""
    await _import(
        pool,
        _story("march-a", "2026-03-10T08:00:00+00:00", "March A"),
        _story("march-b", "2026-03-20T09:30:00+00:00", "March B"),
        _story("may-a", "2026-05-02T12:00:00+00:00", "May A"),
    )
    listed = index_entries((await client.get("/sitemap.xml")).content)
    march, may = "http://test/sitemaps/2026-03.xml", "http://test/sitemaps/2026-05.xml"
    assert datetime.fromisoformat(listed[march]) == datetime(2026, 3, 20, 9, 30, tzinfo=UTC)
    assert datetime.fromisoformat(listed[may]) == datetime(2026, 5, 2, 12, tzinfo=UTC)
    feed = (await client.get("/feeds/stories.json")).json()
    modified = {item["url"].rsplit("/", 1)[1]: item["date_modified"] for item in feed["items"]}
    assert datetime.fromisoformat(modified["march-a"]) == datetime(2026, 3, 10, 8, tzinfo=UTC)

    before_edit = datetime.now(UTC)
    await _import(pool, _story("march-a", "2026-03-10T08:00:00+00:00", "March A, corrected"))
    edited = index_entries((await client.get("/sitemap.xml")).content)
    assert datetime.fromisoformat(edited[march]) >= before_edit
    assert edited[may] == listed[may], "another month's pages did not change"

    await _import(pool, _story("may-a", "2026-05-02T12:00:00+00:00", "May A"))  # unchanged
    assert index_entries((await client.get("/sitemap.xml")).content)[may] == listed[may]


async def test_a_scheduled_page_is_modified_when_it_comes_due(client, pool) -> None:
    due = datetime.now(UTC) + timedelta(seconds=2)
    story = await create_story(pool, published_at=due)  # written now, public in 2 s
    await asyncio.sleep(2.5)
    parsed = ET.fromstring((await client.get(f"/sitemaps/{due:%Y-%m-%d}.xml")).content)
    (lastmod,) = [entry.findtext(f"{SITEMAP}lastmod") for entry in parsed]
    assert datetime.fromisoformat(lastmod) == due
    page = await client.get(f"/v1/stories/{await slug_of(pool, 'stories', story)}")
    assert datetime.fromisoformat(page.json()["updatedAt"]) == due
