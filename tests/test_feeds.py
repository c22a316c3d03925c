"""RSS, Atom and JSON Feed, checked by an independent parser (feedparser) and the JSON Feed
1.1 rules: content types, newest-first pages of 50 linked by rel=next, permanent ids, full
text only for partners, rights, visibility, and conditional GET."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import feedparser
import pytest

from tests.conftest import bearer
from tests.factories import create_deep_dive, create_story, create_topic, slug_of

FORMATS = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
START = datetime(2026, 2, 1, tzinfo=UTC)


async def fetch(client, path: str, key: str | None = None, **headers: str) -> Any:
    return await client.get(path, headers=bearer(key) | headers)


def parsed(response) -> Any:
    """The feed as feedparser reads it; a feed it has to guess at is a failure."""
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def entries(response, format_name: str) -> list[dict[str, Any]]:
    """Entries as (id, link, title, summary, content or None), whatever the format."""
    if format_name == "json":
        return [
            {
                "id": item["id"],
                "link": item["url"],
                "title": item["title"],
                "summary": item["summary"],
                "content": item.get("content_html"),
            }
            for item in response.json()["items"]
        ]
    return [
        {
            "id": entry.id,
            "link": entry.link,
            "title": entry.title,
            "summary": entry.summary,
            "content": entry.content[0].value if "content" in entry else None,
        }
        for entry in parsed(response).entries
    ]


def next_link(response, format_name: str) -> str | None:
    if format_name == "json":
        url: str | None = response.json().get("next_url")
        return url
    links = parsed(response).feed.get("links", [])
    return next((link.href for link in links if link.rel == "next"), None)


@pytest.mark.parametrize("format_name", sorted(FORMATS))
async def test_feeds_page_newest_first_with_permanent_ids(client, pool, format_name) -> None:
    stories = [
        await create_story(pool, published_at=START + timedelta(hours=n), leans=["LEFT"])
        for n in range(55)
    ]
    await create_story(pool, status="DRAFT", published_at=None, title="Draft")
    await create_story(pool, published_at=datetime.now(UTC) + timedelta(days=1), title="Later")
    await create_story(pool, syndicatable=False, title="Not for syndication")

    first = await fetch(client, f"/feeds/stories.{format_name}")
    assert first.status_code == 200
    assert first.headers["content-type"] == FORMATS[format_name]
    page = entries(first, format_name)
    assert len(page) == 50
    newest = [await slug_of(pool, "stories", s) for s in reversed(stories)]
    assert [e["link"].rsplit("/", 1)[1] for e in page] == newest[:50]
    assert page[0]["id"] == f"tag:news.test,2026:story:{stories[-1]}"
    assert all(e["content"] is None for e in page), "summaries only without a partner key"

    follow = next_link(first, format_name)
    assert follow is not None and "after=" in follow
    second = await fetch(client, follow.removeprefix("http://test"))
    rest = entries(second, format_name)
    assert [e["link"].rsplit("/", 1)[1] for e in rest] == newest[50:]
    assert next_link(second, format_name) is None
    titles = {e["title"] for e in page + rest}
    assert not titles & {"Draft", "Later", "Not for syndication"}


@pytest.mark.parametrize("format_name", sorted(FORMATS))
async def test_partners_get_full_text_and_everyone_else_summaries(
    client, pool, make_key, format_name
) -> None:
    story = await create_story(pool, leans=["LEFT", "RIGHT"], summary="What happened & why.")
    await create_deep_dive(pool, story_id=story, sections=[("Background", "It *began* early.")])
    partner, public = await make_key("PARTNER"), await make_key("PUBLIC")

    for key, full in ((partner, True), (public, False), (None, False)):
        (story_entry,) = entries(
            await fetch(client, f"/feeds/stories.{format_name}", key), format_name
        )
        assert story_entry["summary"] == "What happened & why."
        if full:
            assert story_entry["content"].startswith("<p>What happened &amp; why.</p>")
            assert "<h2>Sources</h2>" in story_entry["content"]
        else:
            assert story_entry["content"] is None
        (dive,) = entries(await fetch(client, f"/feeds/deep-dives.{format_name}", key), format_name)
        if full:
            assert "<h2>Background</h2>" in dive["content"] and "<em>began</em>" in dive["content"]
        else:
            assert dive["content"] is None


async def test_json_feed_follows_1_1_and_carries_the_newsgraph_extension(client, pool) -> None:
    topic = await create_topic(pool, name="Energy")
    story = await create_story(pool, leans=["LEFT", "CENTER", "CENTER", None], topic_ids=[topic])
    response = await fetch(client, "/feeds/stories.json")
    document = response.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "http://test/feeds/stories.json"
    for required in ("title", "home_page_url", "items", "language", "authors"):
        assert required in document
    (item,) = document["items"]
    assert "content_text" in item or "content_html" in item
    assert item["tags"] == ["Energy"]
    extension = item["_newsgraph"]
    assert extension["sourceCount"] == 4
    assert extension["bias"] == {
        "left": 1,
        "center": 2,
        "right": 0,
        "unrated": 1,
        "leftPercent": 33,
        "centerPercent": 67,
        "rightPercent": 0,
    }
    assert extension["kind"] == "story"
    assert item["id"] == f"tag:news.test,2026:story:{story}"


async def test_category_and_topic_feeds_and_their_errors(client, pool) -> None:
    world = await create_topic(pool, kind="CATEGORY", name="World")
    nato = await create_topic(pool, name="NATO")
    in_world = await create_story(pool, category_id=world)
    await create_story(pool, topic_ids=[nato])
    world_slug, nato_slug = (
        await slug_of(pool, "topics", world),
        await slug_of(pool, "topics", nato),
    )

    feed = parsed(await fetch(client, f"/feeds/categories/{world_slug}.atom"))
    assert feed.feed.title == "Newsgraph: World"
    assert [e.link.rsplit("/", 1)[1] for e in feed.entries] == [
        await slug_of(pool, "stories", in_world)
    ]
    assert len(parsed(await fetch(client, f"/feeds/topics/{nato_slug}.rss")).entries) == 1

    for path in (
        f"/feeds/categories/{nato_slug}.rss",  # a topic, not a category
        "/feeds/topics/no-such-topic.rss",
        "/feeds/stories.xml",
    ):
        missing = await fetch(client, path)
        assert missing.status_code == 404, path
        assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad = await fetch(client, "/feeds/stories.rss?after=garbage")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_conditional_get_answers_304_until_content_changes(client, pool, make_key) -> None:
    story = await create_story(pool)
    first = await fetch(client, "/feeds/stories.rss")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "public, max-age=60"
    assert f"story-{story}" in first.headers["surrogate-key"].split()

    again = await fetch(client, "/feeds/stories.rss", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    since = await fetch(client, "/feeds/stories.rss", **{"If-Modified-Since": modified})
    assert since.status_code == 304

    await pool.execute(
        "UPDATE stories SET title = 'Changed', updated_at = now() WHERE id = $1", story
    )
    changed = await fetch(client, "/feeds/stories.rss", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    later = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert (
        await fetch(client, "/feeds/stories.rss", **{"If-Modified-Since": later})
    ).status_code == 200

    keyed = await fetch(client, "/feeds/stories.rss", await make_key("PARTNER"))
    assert keyed.headers["cache-control"] == "private, max-age=60"
    editor = await fetch(client, "/feeds/stories.rss", await make_key("EDITOR"))
    assert editor.headers["cache-control"] == "private, no-store"
