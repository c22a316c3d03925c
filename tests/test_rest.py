"""The REST surface: JSON and IPTC ninjs 3.1 and 2.1 (validated against IPTC's own schemas), the
OpenAPI 3.1 document (validated, and every response checked against it), filters, cursors,
keys, rights and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from api.app import create_app
from api.formats import ninjs
from content.images import url_key
from tests.conftest import bearer
from tests.factories import create_deep_dive, create_outlet, create_story, create_topic, slug_of


def _validator(version: str) -> Draft202012Validator:
    return Draft202012Validator(
        ninjs.json_schema(version), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


NINJS = {version: _validator(version) for version in ("3.1", "2.1", "2.2")}


def valid_ninjs(document: dict[str, Any], *versions: str) -> dict[str, Any]:
    """Valid against each of IPTC's schemas of `versions` (3.1 when none is named)."""
    for version in versions or ("3.1",):
        found = NINJS[version].iter_errors(document)
        problems = [f"{version} {list(e.absolute_path)}: {e.message}" for e in found]
        assert not problems, problems
    return document


def valid_ninjs2(document: dict[str, Any]) -> dict[str, Any]:
    """A 2.x document: valid against both 2.x schemas IPTC publishes, and not against 3.1."""
    assert list(NINJS["3.1"].iter_errors(document)), "2.x spells its properties differently"
    return valid_ninjs(document, "2.1", "2.2")


async def get(client, path: str, key: str | None = None, **headers: str) -> Any:
    return await client.get(path, headers=bearer(key) | headers)


async def openapi(client) -> dict[str, Any]:
    document: dict[str, Any] = (await get(client, "/v1/openapi.json")).json()
    return document


def conforms(document: dict[str, Any], path: str, response, media_type: str) -> None:
    """The response body matches the schema the OpenAPI document declares for it."""
    declared = document["paths"][path]["get"]["responses"][str(response.status_code)]
    schema = declared["content"][media_type.split(";")[0]]["schema"]
    validator = Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    problems = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
    ]
    assert not problems, problems


async def test_demo_content_in_every_document_type_validates_as_ninjs(client, demo) -> None:
    story, dive = demo["stories"][0]["slug"], demo["deep_dives"][0]["slug"]
    one = await get(client, f"/v1/stories/{story}?format=ninjs")
    assert one.headers["content-type"] == "application/ninjs+json; version=3.1"
    document = valid_ninjs(one.json())
    assert document["standard"]["version"] == "3.1"
    assert document["representationType"] == "full" and document["bodies"]
    assert document["uri"].startswith("tag:news.test,2026:story:")
    coverage = next(d for d in document["descriptions"] if d["role"] == "coverage")
    assert "source" in coverage["value"]

    by_accept = await get(client, f"/v1/deep-dives/{dive}", Accept="application/ninjs+json")
    analysis = valid_ninjs(by_accept.json())
    assert analysis["profile"] == "newsgraph-deep-dive"
    assert "<h2>" in analysis["bodies"][0]["value"]

    for path in ("/v1/stories?format=ninjs&first=100", "/v1/deep-dives?format=ninjs"):
        items = (await get(client, path)).json()["items"]
        assert items
        for item in items:
            assert valid_ninjs(item)["representationType"] == "partial"
    topic = demo["topics"][0]["slug"]
    for item in (await get(client, f"/v1/topics/{topic}?format=ninjs")).json()["items"]:
        valid_ninjs(item)


async def test_ninjs_2_stays_for_partners_that_ask_for_it(client, demo) -> None:
    """?format=ninjs2 or a version=2 media-type parameter: the same content as ninjs 2.1,
    valid against IPTC's 2.1 and 2.2 schemas."""
    story, dive = demo["stories"][0]["slug"], demo["deep_dives"][0]["slug"]
    three = (await get(client, f"/v1/stories/{story}?format=ninjs3")).json()
    for asked in (
        await get(client, f"/v1/stories/{story}?format=ninjs2"),
        await get(client, f"/v1/stories/{story}", Accept="application/ninjs+json; version=2"),
        await get(client, f"/v1/stories/{story}", Accept="application/ninjs+json;version=2.1"),
    ):
        assert asked.headers["content-type"] == "application/ninjs+json; version=2.1"
        two = valid_ninjs2(asked.json())
        assert two["standard"]["version"] == "2.1"
        assert two["representationtype"] == three["representationType"] == "full"
        assert two["bodies"][0]["value"] == three["bodies"][0]["value"]
        assert two["infosources"] == three["infoSources"]
    listing = await get(client, "/v1/deep-dives?first=3", Accept="application/ninjs+json;version=2")
    assert listing.headers["content-type"] == f"{ninjs.LIST_MEDIA_TYPE}; version=2.1"
    assert all(valid_ninjs2(item) for item in listing.json()["items"])
    assert valid_ninjs2((await get(client, f"/v1/deep-dives/{dive}?format=ninjs2")).json())
    wrong = await get(client, "/v1/stories", Accept="application/ninjs+json; version=4")
    assert wrong.status_code == 400
    assert "ninjs `version` must be 2 or 3" in wrong.json()["errors"][0]["message"]


async def test_a_hero_image_is_a_picture_in_ninjs_3_and_a_rendition_in_2(client, pool) -> None:
    story = await create_story(
        pool,
        hero_image_url="https://images.example/grid.jpg",
        hero_image_alt="Pylons at dusk",
        hero_image_caption="The new interconnector",
        hero_image_credit="A. Photographer",
    )
    slug = await slug_of(pool, "stories", story)
    three = valid_ninjs((await get(client, f"/v1/stories/{slug}?format=ninjs")).json())
    [picture] = three["associations"]
    assert picture["type"] == "picture" and picture["uri"] == "https://images.example/grid.jpg"
    base = f"http://test/images/{url_key(picture['uri'])}"
    assert picture["renditions"] == [
        {"name": "original", "href": picture["uri"]},
        *(
            {"name": ratio, "href": f"{base}/{ratio}/1280.jpg", "contentType": "image/jpeg"}
            for ratio in ("16x9", "4x3", "1x1")
        ),
    ]
    assert picture["descriptions"][0] == {
        "role": "alt",
        "contentType": "text/plain",
        "value": "Pylons at dusk",
    }
    assert picture["headlines"][0]["value"] == "The new interconnector"
    assert picture["by"] == "A. Photographer"
    two = valid_ninjs2((await get(client, f"/v1/stories/{slug}?format=ninjs2")).json())
    assert two["renditions"] == [
        {"name": "hero", "href": "https://images.example/grid.jpg", "title": "Pylons at dusk"}
    ]


async def test_openapi_document_is_valid_and_describes_every_rest_route(
    client, demo, settings
) -> None:
    document = await openapi(client)
    validate_openapi(document)
    assert document["openapi"].startswith("3.1")
    served = {getattr(route, "path", "") for route in create_app(settings).routes}
    rest = {path for path in served if path.startswith("/v1/")} - {"/v1/openapi.json"}
    assert rest == set(document["paths"])
    assert set(document["paths"].pop("/v1/images")) == {"post"}  # (tests/test_images.py)

    story, dive = demo["stories"][0]["slug"], demo["deep_dives"][0]["slug"]
    topic, category = demo["topics"][0]["slug"], "world"
    checks = {
        "/v1/stories": f"/v1/stories?first=3&category={category}",
        "/v1/stories/{slug}": f"/v1/stories/{story}",
        "/v1/deep-dives": "/v1/deep-dives",
        "/v1/deep-dives/{slug}": f"/v1/deep-dives/{dive}",
        "/v1/topics/{slug}": f"/v1/topics/{topic}?first=2",
        "/v1/outlets": "/v1/outlets?first=5",
    }
    assert set(checks) == set(document["paths"])
    for declared, url in checks.items():
        response = await get(client, url)
        assert response.status_code == 200, (url, response.text)
        conforms(document, declared, response, "application/json")
    # The ninjs variants have media types of their own, and IPTC's schemas in the document.
    for declared, url, listing in (
        ("/v1/stories", "/v1/stories?first=3", True),
        ("/v1/stories/{slug}", f"/v1/stories/{story}", False),
        ("/v1/deep-dives", "/v1/deep-dives", True),
        ("/v1/deep-dives/{slug}", f"/v1/deep-dives/{dive}", False),
        ("/v1/topics/{slug}", f"/v1/topics/{topic}", True),
    ):
        for version, asked in (("3.1", "ninjs"), ("2.1", "ninjs2")):
            media_type = ninjs.media_type(version, listing=listing)
            response = await get(client, f"{url}{'&' if '?' in url else '?'}format={asked}")
            assert response.headers["content-type"] == media_type, url
            conforms(document, declared, response, media_type)
    assert document["components"]["schemas"]["Ninjs"]["required"] == ["uri"]
    for url, declared, status in (
        ("/v1/stories/no-such-story", "/v1/stories/{slug}", 404),
        ("/v1/stories?first=0", "/v1/stories", 400),
    ):
        response = await get(client, url)
        assert response.status_code == status
        conforms(document, declared, response, "application/json")


async def test_lists_filter_and_page_like_graphql(client, pool) -> None:
    world = await create_topic(pool, kind="CATEGORY")
    start = datetime(2026, 4, 1, tzinfo=UTC)
    in_world = [
        await create_story(pool, category_id=world, published_at=start + timedelta(days=n))
        for n in range(5)
    ]
    await create_story(pool, published_at=start + timedelta(days=10))
    await create_story(pool, status="DRAFT", published_at=None)
    world_slug = await slug_of(pool, "topics", world)

    slugs, url = [], f"/v1/stories?first=2&category={world_slug}"
    while url:
        response = await get(client, url.removeprefix("http://test"))
        body = response.json()
        slugs += [item["slug"] for item in body["items"]]
        url = body["links"]["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
    assert slugs == [await slug_of(pool, "stories", s) for s in reversed(in_world)]

    since = (start + timedelta(days=3)).isoformat()
    recent = (await get(client, f"/v1/stories?publishedAfter={since}")).json()["items"]
    assert len(recent) == 3  # days 3, 4 and 10
    total = (await get(client, "/v1/stories?first=100")).json()["items"]
    assert len(total) == 6, "drafts never appear"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("/v1/stories?first=101", "`first` must be a whole number from 1 to 100"),
        ("/v1/stories?first=abc", "`first` must be a whole number"),
        ("/v1/stories?after=nonsense", "`after` is not a cursor"),
        ("/v1/stories?publishedAfter=yesterday", "`publishedAfter` must be an ISO-8601 time"),
        ("/v1/stories?publishedAfter=2026-01-01T00:00:00", "needs a time zone offset"),
        ("/v1/stories?sentiment=ANGRY", "`sentiment` must be one of"),
        ("/v1/stories?colour=red", "Unknown parameter `colour`"),
        ("/v1/deep-dives?outlet=x", "Unknown parameter `outlet`"),
        ("/v1/stories?format=xml", "`format` must be one of json, ninjs, ninjs3, ninjs2"),
        ("/v1/outlets?format=ninjs", "outlets come as JSON only"),
        ("/v1/stories?category=Not%20A%20Slug", "filter.category"),
    ],
)
async def test_bad_parameters_are_400_and_say_which(client, pool, url, complaint) -> None:
    response = await get(client, url)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert complaint in error["message"]


async def test_hidden_items_are_404_like_missing_ones(client, pool, make_key) -> None:
    draft = await create_story(pool, status="DRAFT", published_at=None)
    later = await create_story(pool, published_at=datetime.now(UTC) + timedelta(hours=2))
    editor = await make_key("EDITOR")
    missing = (await get(client, "/v1/stories/never-existed")).json()
    for story in (draft, later):
        for key in (None, editor):  # REST serves what is published, to everyone
            response = await get(
                client, f"/v1/stories/{await slug_of(pool, 'stories', story)}", key
            )
            assert response.status_code == 404
            assert response.json()["errors"][0]["extensions"] == missing["errors"][0]["extensions"]
    revoked = await get(client, "/v1/stories", "ng_not_a_real_key")
    assert revoked.status_code == 401


async def test_partners_get_no_body_of_what_is_not_syndicatable(client, pool, make_key) -> None:
    story = await create_story(pool)
    held = await create_deep_dive(pool, story_id=story, syndicatable=False)
    slug = await slug_of(pool, "deep_dives", held)
    partner = await make_key("PARTNER")

    as_partner = (await get(client, f"/v1/deep-dives/{slug}", partner)).json()
    assert as_partner["syndicatable"] is False and as_partner["sections"] is None
    ninjs = valid_ninjs((await get(client, f"/v1/deep-dives/{slug}?format=ninjs", partner)).json())
    assert ninjs["representationType"] == "partial" and "bodies" not in ninjs
    assert ninjs["usageTerms"].startswith("Not for syndication")
    public = (await get(client, f"/v1/deep-dives/{slug}")).json()
    assert public["sections"], "readers of the public site still read it"
    feed = (await get(client, "/v1/deep-dives?syndicatable=false")).json()["items"]
    assert [item["slug"] for item in feed] == [slug]


async def test_outlets_and_topics(client, pool) -> None:
    outlets = [await create_outlet(pool) for _ in range(3)]
    page = (await get(client, "/v1/outlets?first=2")).json()
    assert len(page["items"]) == 2 and page["pageInfo"]["hasNextPage"]
    rest = (await get(client, page["links"]["next"].removeprefix("http://test"))).json()
    slugs = [o["slug"] for o in page["items"] + rest["items"]]
    assert slugs == sorted([await slug_of(pool, "outlets", o) for o in outlets])

    topic = await create_topic(pool, name="Energy")
    await create_story(pool, topic_ids=[topic])
    found = (await get(client, f"/v1/topics/{await slug_of(pool, 'topics', topic)}")).json()
    assert found["topic"]["name"] == "Energy" and len(found["items"]) == 1
    assert (await get(client, "/v1/topics/no-such-topic")).status_code == 404


async def test_rest_answers_conditional_gets(client, pool) -> None:
    story = await create_story(pool)
    path = f"/v1/stories/{await slug_of(pool, 'stories', story)}"
    first = await get(client, path)
    assert first.headers["surrogate-key"] == f"story-{story}"
    again = await get(client, path, **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
