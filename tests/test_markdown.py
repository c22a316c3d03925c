"""Deep-dive bodies: Markdown in, sanitised HTML / Markdown / text out, stable unique anchors."""

from __future__ import annotations

import re

from tests.conftest import data
from tests.factories import create_deep_dive, create_story, slug_of

HOSTILE = """Intro <script>alert(1)</script> and <img src="x.png" onerror="alert(2)">.

[click](javascript:alert(3)) <a href="javascript:alert(4)">raw</a> <a href="https://ok.test">ok</a>

<iframe src="https://evil.test"></iframe><div onclick="alert(5)" style="color:red">styled</div>

## Details

### Details
"""
PAGE = """query($slug: String!) { deepDive(slug: $slug) {
  tableOfContents { anchor title level }
  sections { anchor heading html: body markdown: body(format: MARKDOWN) text: body(format: TEXT) }
} }"""


async def test_bodies_are_sanitised_and_anchors_unique(client, pool) -> None:
    story = await create_story(pool)
    dive = await create_deep_dive(
        pool, story_id=story, sections=[("Details", HOSTILE), ("Détails!", "Plain.")]
    )
    result = (await data(client, PAGE, slug=await slug_of(pool, "deep_dives", dive)))["deepDive"]
    html = result["sections"][0]["html"]
    for forbidden in ("<script", "onerror", "onclick", "<iframe", "style="):
        assert forbidden not in html.lower()
    # A javascript: URL may survive as inert text, never inside an attribute.
    assert not re.search(r"=\s*[\"']?\s*javascript:", html, re.IGNORECASE)
    assert '<a rel="noopener noreferrer nofollow">raw</a>' in html
    assert '<a href="https://ok.test" rel="noopener noreferrer nofollow">ok</a>' in html
    assert result["sections"][0]["markdown"] == HOSTILE
    assert "<" not in result["sections"][0]["text"].replace("<script>", "")
    assert result["tableOfContents"] == [
        {"anchor": "details", "title": "Details", "level": 2},
        {"anchor": "details-2", "title": "Details", "level": 3},
        {"anchor": "details-3", "title": "Details", "level": 3},
        {"anchor": "details-4", "title": "Détails!", "level": 2},
    ]
    assert [s["anchor"] for s in result["sections"]] == ["details", "details-4"]
    assert '<h3 id="details-2">Details</h3>' in html
    assert '<h3 id="details-3">Details</h3>' in html
