"""Images (api.images, content.images, schema.common.Image): renditions decoded and measured,
focal-point crops, the allow-lists and limits, SSRF refusals, uploads, visibility, and the
metadata in GraphQL. Originals come from a local HTTP server the tests run."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api.settings import Settings
from api.transfer import DEMO_IMAGES
from content.images import lead_images, url_key
from db.audit import Actor
from db.transfer import import_lines
from schema.relay import to_global_id
from tests.conftest import bearer, data, graphql, serving
from tests.factories import create_story, slug_of


def picture(width: int, height: int, format: str = "JPEG", split: bool = False) -> bytes:
    """An image; with `split`, its left half red and its right half blue."""
    made = Image.new("RGB", (width, height), (200, 30, 30))
    if split:
        made.paste((30, 30, 200), (width // 2, 0, width, height))
    out = io.BytesIO()
    made.save(out, format=format)
    return out.getvalue()


class Origin:
    """A web server holding originals by path, counting what it was asked for."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.asked: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin.asked.append(self.path)
                found = origin.files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, kind = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, path: str, body: bytes, kind: str = "image/jpeg") -> str:
        self.files[path] = (body, kind)
        return self.base + path


@pytest.fixture
def origin() -> Iterator[Origin]:
    found = Origin()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()


def image_settings(settings: Settings, folder: Path, **changes: Any) -> Settings:
    images = replace(settings.images, allow_private=True, directory=folder, **changes)
    return replace(settings, images=images)


HERO = """query($slug: String!) { story(slug: $slug) { heroImage {
  url alt width height focalPoint { x y } digitalSourceType
  rights { copyrightHolder license licenseUrl }
  wide: url(width: 640, format: WEBP, ratio: WIDE)
  srcset(format: JPG)
} } }"""
UPDATE = """mutation($url: String!, $input: UpdateImageInput!) {
  updateImage(url: $url, input: $input) { url focalPoint { x y } digitalSourceType } }"""


def decoded(body: bytes) -> Image.Image:
    found = Image.open(io.BytesIO(body))
    found.load()
    return found


async def test_renditions_are_made_once_at_the_allowed_sizes_and_formats(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    url = origin.add("/photos/grid.jpg", picture(3000, 2000))
    story = await create_story(pool, hero_image_url=url, hero_image_alt="Pylons")
    slug = await slug_of(pool, "stories", story)
    async with serving(image_settings(settings, tmp_path)) as http:
        before = (await data(http, HERO, slug=slug))["story"]["heroImage"]
        assert before["url"] == url and before["alt"] == "Pylons"
        assert before["width"] is None, "not fetched yet"
        assert before["focalPoint"] == {"x": 0.5, "y": 0.5}
        wide = before["wide"]
        assert wide.startswith("http://test/images/") and wide.endswith("/16x9/640.webp")
        got = await http.get(wide.removeprefix("http://test"))
        assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
        shown = decoded(got.content)
        assert (shown.format, shown.size) == ("WEBP", (640, 360))
        assert got.headers["cache-control"].startswith("public, max-age=86400")
        again = await http.get(wide.removeprefix("http://test"))
        assert again.content == got.content
        revalidated = await http.get(
            wide.removeprefix("http://test"), headers={"If-None-Match": got.headers["etag"]}
        )
        assert revalidated.status_code == 304
        for path, size, format in (
            ("/original/1920.avif", (1920, 1280), "AVIF"),
            ("/1x1/320.jpg", (320, 320), "JPEG"),
            ("/4x3/960.webp", (960, 720), "WEBP"),
        ):
            answer = await http.get(wide.removeprefix("http://test").rsplit("/", 2)[0] + path)
            assert answer.status_code == 200, answer.text
            made = decoded(answer.content)
            assert (made.format, made.size) == (format, size), path
        assert origin.asked == ["/photos/grid.jpg"], "the original is fetched once"
        after = (await data(http, HERO, slug=slug))["story"]["heroImage"]
        assert (after["width"], after["height"]) == (3000, 2000)
        key = wide.split("/")[4]
        assert key == url_key(url)
        assert after["srcset"].split(", ") == [
            f"http://test/images/{key}/original/{w}.jpg {w}w" for w in settings.images.widths
        ]


async def test_small_originals_are_never_enlarged(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    url = origin.add("/small.png", picture(500, 250, "PNG"), "image/png")
    slug = await slug_of(pool, "stories", await create_story(pool, hero_image_url=url))
    async with serving(image_settings(settings, tmp_path)) as http:
        wide = (await data(http, HERO, slug=slug))["story"]["heroImage"]["wide"]
        base = wide.removeprefix("http://test").rsplit("/", 2)[0]
        made = decoded((await http.get(f"{base}/original/1920.jpg")).content)
        assert made.size == (500, 250)
        srcset = (await data(http, HERO, slug=slug))["story"]["heroImage"]["srcset"]
        assert srcset == (
            f"http://test{base}/original/320.jpg 320w, http://test{base}/original/640.jpg 500w"
        )


async def test_crops_keep_the_focal_point_and_editors_move_it(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path, make_key: Any
) -> None:
    url = origin.add("/split.jpg", picture(1600, 800, split=True))
    slug = await slug_of(pool, "stories", await create_story(pool, hero_image_url=url))
    editor = await make_key("EDITOR")
    async with serving(image_settings(settings, tmp_path)) as http:
        wide = (await data(http, HERO, slug=slug))["story"]["heroImage"]["wide"]
        square = wide.removeprefix("http://test").rsplit("/", 2)[0] + "/1x1/320.jpg"

        async def colour() -> tuple[int, int, int]:
            got = decoded((await http.get(square)).content).convert("RGB")
            pixel: tuple[int, int, int] = got.getpixel((160, 160))  # type: ignore[assignment]
            return pixel

        assert await colour() == pytest.approx((115, 30, 115), abs=90)  # centre: the seam
        for x, red in ((0.1, True), (0.9, False)):
            moved = await data(
                http,
                UPDATE,
                key=editor,
                url=url,
                input={"focalPoint": {"x": x, "y": 0.5}, "digitalSourceType": "DIGITAL_CAPTURE"},
            )
            assert moved["updateImage"]["focalPoint"] == {"x": x, "y": 0.5}
            r, _, b = await colour()
            assert (r > 150 and b < 80) if red else (b > 150 and r < 80), (x, r, b)
        shown = (await data(http, HERO, slug=slug))["story"]["heroImage"]
        assert shown["digitalSourceType"] == "DIGITAL_CAPTURE"
        for bad, field in (({"focalPoint": {"x": 1.5, "y": 0}}, "input.focalPoint"), ({}, "input")):
            refused = await graphql(http, UPDATE, key=editor, url=url, input=bad)
            assert refused["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
        reader = await graphql(http, UPDATE, url=url, input={"license": "CC BY 4.0"})
        assert reader["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")


async def test_only_allowed_sizes_are_made_and_bad_originals_are_refused(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    good = origin.add("/ok.jpg", picture(800, 600))
    huge = origin.add("/huge.jpg", picture(1000, 1000))
    text = origin.add("/page.html", b"<html>not an image</html>", "text/html")
    missing = origin.base + "/gone.jpg"
    slugs = {}
    for name, url in (("good", good), ("huge", huge), ("text", text), ("missing", missing)):
        slugs[name] = await slug_of(pool, "stories", await create_story(pool, hero_image_url=url))
    limited = image_settings(settings, tmp_path, max_pixels=900_000)
    async with serving(limited) as http:

        async def rendition(name: str) -> str:
            found = (await data(http, HERO, slug=slugs[name]))["story"]["heroImage"]["wide"]
            return str(found).removeprefix("http://test")

        base = (await rendition("good")).rsplit("/", 2)[0]
        for path, says in (
            ("/16x9/641.webp", "width must be one of 320, 640, 960, 1280, 1920"),
            ("/3x2/640.webp", "ratio must be one of original, 16x9, 4x3, 1x1"),
            ("/16x9/640.gif", "format must be one of webp, avif, jpg"),
        ):
            refused = await http.get(base + path)
            assert refused.status_code == 400, path
            assert refused.json()["errors"][0]["message"] == says
        asked = await graphql(http, HERO.replace("width: 640", "width: 641"), slug=slugs["good"])
        assert asked["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "width"}
        for name, status, code in (
            ("huge", 413, "IMAGE_TOO_LARGE"),
            ("text", 415, "UNSUPPORTED_IMAGE"),
            ("missing", 502, "ORIGINAL_UNAVAILABLE"),
        ):
            answer = await http.get(await rendition(name))
            assert answer.status_code == status, (name, answer.text)
            assert answer.json()["errors"][0]["extensions"]["code"] == code
        assert (await http.get(f"/images/{'0' * 32}/16x9/640.webp")).status_code == 404


async def test_originals_on_private_addresses_are_never_fetched(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    url = origin.add("/inside.jpg", picture(400, 300))
    slug = await slug_of(pool, "stories", await create_story(pool, hero_image_url=url))
    guarded = replace(settings, images=replace(settings.images, directory=tmp_path))
    async with serving(guarded) as http:
        wide = (await data(http, HERO, slug=slug))["story"]["heroImage"]["wide"]
        refused = await http.get(wide.removeprefix("http://test"))
    assert refused.status_code == 502
    assert "private address" in refused.json()["errors"][0]["message"]
    assert origin.asked == [], "nothing was sent to the private address"


async def test_a_drafts_image_is_unseen_until_it_is_published(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path, make_key: Any
) -> None:
    url = origin.add("/embargoed.jpg", picture(400, 300))
    await create_story(pool, hero_image_url=url, status="DRAFT", published_at=None)
    path = f"/images/{url_key(url)}/original/320.webp"
    editor = await make_key("EDITOR")
    async with serving(image_settings(settings, tmp_path)) as http:
        assert (await http.get(path)).status_code == 404
        assert (await http.get(path, headers=bearer(editor))).status_code == 200
        await create_story(pool, hero_image_url=url)  # a published story leads with it
        assert (await http.get(path)).status_code == 200


async def test_editors_upload_images_and_stories_use_them(
    settings: Settings, pool: Any, tmp_path: Path, make_key: Any
) -> None:
    editor, reader = await make_key("EDITOR"), await make_key("PUBLIC")
    body = picture(1200, 900, "PNG")
    async with serving(image_settings(settings, tmp_path)) as http:
        anonymous = await http.post("/v1/images", content=body)
        assert anonymous.status_code == 401
        forbidden = await http.post("/v1/images", content=body, headers=bearer(reader))
        assert forbidden.status_code == 403
        not_image = await http.post("/v1/images", content=b"hello", headers=bearer(editor))
        assert not_image.status_code == 415
        assert not_image.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_IMAGE"
        made = await http.post("/v1/images", content=body, headers=bearer(editor))
        assert made.status_code == 201, made.text
        found = made.json()
        assert (found["width"], found["height"], found["contentType"]) == (1200, 900, "image/png")
        again = await http.post("/v1/images", content=body, headers=bearer(editor))
        assert again.json()["id"] == found["id"], "the same bytes are one image"
        await create_story(pool, hero_image_url=found["url"])
        original = await http.get(found["url"].removeprefix("http://test"))
        assert original.status_code == 200 and original.content == body
        rendition = await http.get(f"/images/{url_key(found['url'])}/4x3/640.jpg")
        assert decoded(rendition.content).size == (640, 480)
    small = image_settings(settings, tmp_path, max_bytes=1_000)
    async with serving(small) as http:
        too_big = await http.post("/v1/images", content=body, headers=bearer(editor))
        assert too_big.status_code == 413


PAGE = """query($slug: String!) { story(slug: $slug) {
  heroImage { url(width: 320) } jsonLd openGraph { property content } } }"""


async def test_pages_feeds_and_ninjs_offer_the_renditions(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    """JSON-LD lists the 16:9, 4:3 and 1:1 renditions (Google's article guidelines);
    og:image is the first, with its size once the original's is known; RSS and Atom carry it
    as <media:content>, JSON Feed as `image`."""
    import feedparser

    url = origin.add("/wide.jpg", picture(2000, 1500))
    slug = await slug_of(
        pool,
        "stories",
        await create_story(
            pool, hero_image_url=url, hero_image_alt="A ship", hero_image_credit="Agency"
        ),
    )
    leads = list(lead_images("http://test", url, settings.images.widths))
    async with serving(image_settings(settings, tmp_path)) as http:
        first = (await data(http, PAGE, slug=slug))["story"]
        assert first["jsonLd"]["image"] == leads
        tags = {t["property"]: t["content"] for t in first["openGraph"]}
        assert tags["og:image"] == leads[0] and "og:image:width" not in tags
        assert (await http.get(first["heroImage"]["url"].removeprefix("http://test"))).is_success
        fetched = (await data(http, PAGE, slug=slug))["story"]
        tags = {t["property"]: t["content"] for t in fetched["openGraph"]}
        assert (tags["og:image:width"], tags["og:image:height"]) == ("1280", "720")
        assert tags["og:image:type"] == "image/jpeg" and tags["og:image:alt"] == "A ship"
        for path in ("/feeds/stories.rss", "/feeds/stories.atom"):
            parsed = feedparser.parse((await http.get(path)).content)
            [entry] = [e for e in parsed.entries if e.link.endswith(slug)]
            assert entry.media_content[0]["url"] == leads[0], path
            assert entry.media_content[0]["medium"] == "image"
        items = (await http.get("/feeds/stories.json")).json()["items"]
        [item] = [i for i in items if i["url"].endswith(slug)]
        assert item["image"] == leads[0]
        rendered = await http.get(leads[2].removeprefix("http://test"))
        assert decoded(rendered.content).size == (1280, 1280)


async def test_the_database_names_images_as_the_code_does(pool: Any) -> None:
    for url in ("https://ex.example/a.jpg", "https://ex.example/ü/ä photo.jpg?q=ß&x=\\y"):
        assert await pool.fetchval("SELECT image_url_key($1)", url) == url_key(url)


async def test_a_photo_turned_by_exif_is_measured_and_cut_as_shown(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path
) -> None:
    raw = Image.new("RGB", (1600, 800), (200, 30, 30))
    exif = raw.getexif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: 800 wide, 1600 high
    out = io.BytesIO()
    raw.save(out, "JPEG", exif=exif)
    url = origin.add("/turned.jpg", out.getvalue())
    slug = await slug_of(pool, "stories", await create_story(pool, hero_image_url=url))
    async with serving(image_settings(settings, tmp_path)) as http:
        made = await http.get(f"/images/{url_key(url)}/original/320.jpg")
        assert decoded(made.content).size == (320, 640)
        shown = (await data(http, HERO, slug=slug))["story"]["heroImage"]
        assert (shown["width"], shown["height"]) == (800, 1600)


DEMO_STORIES = """{ stories(first: 100) { edges { node { slug heroImage {
  url width height alt credit digitalSourceType rights { copyrightHolder license }
  url320: url(width: 320, format: WEBP) } } } } }"""


async def test_the_demo_has_photographs_of_its_own(client: Any, demo: Any) -> None:
    """Every demo story but the seed's (whose photograph is the original page's) leads with
    one of content/demo_images, stored at load as uploads are: no network needed."""
    stories = [e["node"] for e in (await data(client, DEMO_STORIES))["stories"]["edges"]]
    pictured = [s for s in stories if s["heroImage"]]
    assert len(pictured) == len(stories) == len(demo["stories"])
    local = [s["heroImage"] for s in pictured if s["heroImage"]["url"].startswith(DEMO_IMAGES)]
    assert len(local) == len(stories) - 1
    for image in local:
        assert image["width"] and image["height"] and image["alt"] and image["credit"]
        assert image["rights"]["license"] and image["digitalSourceType"]
        rendition = await client.get(image["url320"].removeprefix("http://test"))
        assert rendition.status_code == 200, rendition.text
        assert decoded(rendition.content).width == min(320, image["width"])


COMPILED = """{ stories(first: 100) { edges { node { heroImage {
  url alt width height digitalSourceType } sources(first: 5) { edges { node {
  image { url width height digitalSourceType } } } } } } } }"""


async def test_sizes_and_source_types_compile_and_agree_with_the_standard_engine(
    client: Any, demo: Any
) -> None:
    """The client fixture sends each query to both engines and compares the bytes."""
    answer = await client.post("/graphql", json={"query": COMPILED})
    assert 'engine;desc="compiled"' in answer.headers["server-timing"]
    images = [e["node"]["heroImage"] for e in answer.json()["data"]["stories"]["edges"]]
    assert any(i and i["width"] and i["digitalSourceType"] == "DIGITAL_CAPTURE" for i in images)


async def test_rest_and_ninjs_carry_the_sizes_and_source_type(client: Any, demo: Any) -> None:
    slug = next(
        s["slug"] for s in demo["stories"] if s["hero_image"]["url"].startswith(DEMO_IMAGES)
    )
    image = (await client.get(f"/v1/stories/{slug}")).json()["image"]
    assert image["width"] and image["height"] and image["digitalSourceType"] == "digitalCapture"
    assert [r["ratio"] for r in image["renditions"]] == ["16x9", "4x3", "1x1"]
    for rendition in image["renditions"]:
        assert (await client.get(rendition["url"].removeprefix("http://test"))).is_success
    ninjs = (await client.get(f"/v1/stories/{slug}?format=ninjs")).json()
    [picture] = ninjs["associations"]
    assert picture["digitalSourceType"] == {
        "uri": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
        "literal": "digitalCapture",
    }
    assert picture["renditions"][0] == {
        "name": "original",
        "href": image["url"],
        "width": image["width"],
        "height": image["height"],
    }
    json_ld = (await client.get(f"/v1/stories/{slug}")).json()["jsonLd"]
    assert json_ld["image"][0].endswith("/16x9/1280.jpg")


DIVE_IMAGE = """query($slug: String!) { deepDive(slug: $slug) {
  heroImage { url alt } story { heroImage { url } } jsonLd } }"""


async def test_a_deep_dive_may_lead_with_an_image_of_its_own(client: Any, pool: Any) -> None:
    from tests.factories import create_deep_dive

    story = await create_story(pool, hero_image_url="https://img.test/story.jpg")
    dive = await create_deep_dive(pool, story_id=story)
    slug = await slug_of(pool, "deep_dives", dive)
    before = (await data(client, DIVE_IMAGE, slug=slug))["deepDive"]
    assert before["heroImage"] is None
    assert before["jsonLd"]["image"][0].startswith(
        f"http://test/images/{url_key('https://img.test/story.jpg')}/"
    )
    line = {
        "type": "deep_dive",
        "slug": slug,
        "story": await slug_of(pool, "stories", story),
        "title": "Analysis",
        "status": "PUBLISHED",
        "published_at": "2026-01-01T00:00:00Z",
        "sections": [{"heading": "Why", "body": "Because."}],
        "hero_image": {"url": "https://img.test/dive.jpg", "alt": "A chart"},
    }
    report = await import_lines(pool, [(1, json.dumps(line))], actor=Actor("test", None))
    assert not report.rejections, report.rejections
    after = (await data(client, DIVE_IMAGE, slug=slug))["deepDive"]
    assert after["heroImage"] == {"url": "https://img.test/dive.jpg", "alt": "A chart"}
    assert after["jsonLd"]["image"][0].startswith(
        f"http://test/images/{url_key('https://img.test/dive.jpg')}/"
    )
    rest = (await client.get(f"/v1/deep-dives/{slug}")).json()
    assert rest["image"]["url"] == "https://img.test/dive.jpg"
    registered = "SELECT count(*) FROM images WHERE original_url = 'https://img.test/dive.jpg'"
    assert await pool.fetchval(registered) == 1


async def test_unpublishing_a_story_hides_its_image_at_once(
    settings: Settings, pool: Any, origin: Origin, tmp_path: Path, make_key: Any
) -> None:
    """Visibility is checked on every request (renditions are kept in the store, not in the
    process's response cache), and the answer names the pages showing the image among its
    surrogate keys, so a CDN purging a page taken down drops its images too."""
    from tests.test_mutations import UNPUBLISH, ok

    url = origin.add("/shown.jpg", picture(800, 600))
    story = await create_story(pool, hero_image_url=url)
    editor = await make_key("EDITOR")
    path = f"/images/{url_key(url)}/4x3/320.webp"
    cached = replace(image_settings(settings, tmp_path), response_cache_bytes=8 << 20)
    async with serving(cached) as http:
        first = await http.get(path)
        assert first.status_code == 200
        assert first.headers["surrogate-key"].split() == [
            await pool.fetchval("SELECT 'image-' || id FROM images WHERE original_url = $1", url),
            f"story-{story}",
        ]
        version = await pool.fetchval("SELECT version FROM stories WHERE id = $1", story)
        node = to_global_id("Story", story)
        await ok(http, UNPUBLISH, editor, "unpublishStory", id=node, version=version)
        gone = await http.get(path)
        assert gone.status_code == 404
        assert gone.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await http.get(path, headers=bearer(editor))).status_code == 200
