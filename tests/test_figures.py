"""Derived figures at their edges (DESIGN.md, "Derived figures"), read through GraphQL."""

from __future__ import annotations

import pytest

from tests.conftest import data
from tests.factories import create_deep_dive, create_story, slug_of

FIGURES = """
query Figures($slug: String!) {
  story(slug: $slug) {
    sourceCount wordCount readTimeMinutes coverageLabel blindspot
    bias { left center right unrated leftPercent centerPercent rightPercent }
    sources(first: 100) { totalCount }
  }
}"""

L, LL, C, LR, R, U = "LEFT", "LEAN_LEFT", "CENTER", "LEAN_RIGHT", "RIGHT", None


async def figures(client, pool, **story) -> dict:
    slug = await slug_of(pool, "stories", await create_story(pool, **story))
    result: dict = (await data(client, FIGURES, slug=slug))["story"]
    assert result["sourceCount"] == result["sources"]["totalCount"]
    return result


@pytest.mark.parametrize(
    "leans, counts, percents",
    [
        ([], (0, 0, 0, 0), (None, None, None)),
        ([U, U], (0, 0, 0, 2), (None, None, None)),
        ([C], (0, 1, 0, 0), (0, 100, 0)),
        ([L, C, R], (1, 1, 1, 0), (34, 33, 33)),
        ([L, LL, C, C, C, C, C, C, C, R], (2, 7, 1, 0), (20, 70, 10)),
        ([L, C, C, R, R, R, R], (1, 2, 4, 0), (14, 29, 57)),
        ([LL, LR, U, U, U], (1, 0, 1, 3), (50, 0, 50)),
        ([L, L, C, C, C, C, R], (2, 4, 1, 0), (29, 57, 14)),
    ],
)
async def test_bias_counts_and_percentages(client, pool, leans, counts, percents) -> None:
    bias = (await figures(client, pool, leans=leans))["bias"]
    assert (bias["left"], bias["center"], bias["right"], bias["unrated"]) == counts
    got = (bias["leftPercent"], bias["centerPercent"], bias["rightPercent"])
    assert got == percents
    if percents[0] is not None:
        assert sum(got) == 100


@pytest.mark.parametrize(
    "leans, sentiment, label",
    [
        ([], "NEUTRAL", "Unrated Neutral"),
        ([U], "POSITIVE", "Unrated Positive"),
        ([C], "NEGATIVE", "Center Negative"),
        ([L, R], "NEUTRAL", "Mixed Neutral"),
        ([L, C, R], "POSITIVE", "Mixed Positive"),
        ([LL, LL, C, R, U, U, U], "NEGATIVE", "Left Negative"),
        ([R, LR, C], "NEUTRAL", "Right Neutral"),
    ],
)
async def test_coverage_label(client, pool, leans, sentiment, label) -> None:
    assert (await figures(client, pool, leans=leans, sentiment=sentiment))["coverageLabel"] == label


@pytest.mark.parametrize(
    "leans, blindspot",
    [
        ([R, R, R], "LEFT"),
        ([R, LR, R, R, C], "LEFT"),  # 4 of 5 rated lean right: exactly 80%
        ([R, R, R, C], None),  # 75%
        ([R, R], None),  # fewer than 3
        ([R, R, R, U, U, U, U], "LEFT"),  # unrated sources do not count
        ([L, LL, L], "RIGHT"),
        ([L, L, L, R], None),  # the right is not silent
        ([], None),
        ([C, C, C], None),
    ],
)
async def test_blindspot(client, pool, leans, blindspot) -> None:
    assert (await figures(client, pool, leans=leans))["blindspot"] == blindspot


@pytest.mark.parametrize("words, minutes", [(1, 1), (230, 1), (231, 2), (460, 2), (461, 3)])
async def test_read_time_rounds_up_at_230_words_a_minute(client, pool, words, minutes) -> None:
    # The title is one word; the summary brings the rest.
    result = await figures(client, pool, title="Headline", summary=" ".join(["word"] * (words - 1)))
    assert result["wordCount"] == words
    assert result["readTimeMinutes"] == minutes


async def test_deep_dive_word_count_covers_title_dek_headings_and_text(client, pool) -> None:
    story = await create_story(pool)
    await create_deep_dive(
        pool,
        story_id=story,
        title="One two",
        dek="three",
        sections=[("four five", "**six** [seven](https://x.test) `eight`\n\n## nine")],
    )
    query = "query($s: String!) { story(slug: $s) { deepDive { wordCount readTimeMinutes } } }"
    result = await data(client, query, s=await slug_of(pool, "stories", story))
    assert result["story"]["deepDive"] == {"wordCount": 9, "readTimeMinutes": 1}
