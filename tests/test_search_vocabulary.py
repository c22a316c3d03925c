"""The search vocabulary: completions for a search box and "did you mean" suggestions, on the
demo content and on generated misspellings, and the word counts kept exact on every write,
never offering what readers may not see."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db import vocabulary
from tests.conftest import data, error_codes, graphql
from tests.factories import create_story, create_topic
from tests.test_mutations import CREATE, PUBLISH, UNPUBLISH, ok

COMPLETE = """query($q: String!, $first: Int = 8) {
  searchCompletions(query: $q, first: $first) { query word storyCount } }"""
SUGGEST = """query($q: String!, $typing: Boolean = false) {
  search(query: $q, asYouType: $typing, first: 1) {
    totalCount suggestions { query corrections { word suggestion } } } }"""


async def completions(client: Any, q: str, **variables: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await data(client, COMPLETE, q=q, **variables))[
        "searchCompletions"
    ]
    return found


async def suggested(client: Any, q: str, typing: bool = False) -> list[str]:
    found = (await data(client, SUGGEST, q=q, typing=typing))["search"]["suggestions"]
    return [s["query"] for s in found]


async def story_count(client: Any, word: str) -> int:
    found = [c for c in await completions(client, word, first=20) if c["word"] == word]
    return found[0]["storyCount"] if found else 0


async def test_completions_complete_the_last_word_most_stories_first(client, demo) -> None:
    found = await completions(client, "ukrai")
    assert found[0] == {"query": "ukraine", "word": "ukraine", "storyCount": found[0]["storyCount"]}
    assert found[0]["storyCount"] >= 1
    # The words before the one being typed are kept as typed.
    assert (await completions(client, "Gas to Ukrai"))[0]["query"] == "Gas to ukraine"
    several = await completions(client, "q", first=3)
    assert [c["word"][0] for c in several] == ["q"] * len(several) and len(several) >= 2
    counts = [c["storyCount"] for c in several]
    assert counts == sorted(counts, reverse=True)
    assert len(await completions(client, "s", first=20)) == 20
    # Nothing is being typed after a space, inside a phrase or an exclusion.
    for q in ("ukrai ", '"ukrai', "gas -ukrai", "zzzzqx"):
        assert await completions(client, q) == [], q
    assert await completions(client, "the") == []  # stop words are never offered


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"q": "", "first": 5}, "query"),
        ({"q": "ukr", "first": 0}, "first"),
        ({"q": "ukr", "first": 21}, "first"),
        ({"q": "x" * 501, "first": 5}, "query"),
    ],
)
async def test_completions_bad_input(client, pool, variables, field) -> None:
    result = await graphql(client, COMPLETE, **variables)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == field


async def test_did_you_mean_on_the_demo_content(client, demo) -> None:
    assert await suggested(client, "ukriane") == ["ukraine"]
    assert await suggested(client, "qatr") == ["qatar"]
    assert await suggested(client, "Qatr") == ["Qatar"]
    # Web-search syntax around the words is kept; only the misspelt words change.
    found = (await data(client, SUGGEST, q='"ukriane gas" -Qatr OR lng'))["search"]
    assert found["suggestions"] == [
        {
            "query": '"ukraine gas" -Qatar OR lng',
            "corrections": [
                {"word": "ukriane", "suggestion": "ukraine"},
                {"word": "Qatr", "suggestion": "Qatar"},
            ],
        }
    ]
    # Words that are found, stop words and numbers are left alone: nothing to suggest.
    for q in ("ukraine", "ukrainians", "the of", "2026", "qatar gas"):
        assert await suggested(client, q) == [], q
    # The word being typed is not corrected; the words before it are.
    assert await suggested(client, "ukriane ga", typing=True) == ["ukraine ga"]
    assert await suggested(client, "ukriane", typing=True) == []


def misspell(word: str, rng: random.Random) -> str:
    """One typing slip: a letter dropped, doubled, swapped with the next, or replaced."""
    i = rng.randrange(1, len(word) - 1)
    slip = rng.choice(("drop", "double", "swap", "replace"))
    if slip == "drop":
        return word[:i] + word[i + 1 :]
    if slip == "double":
        return word[:i] + word[i] + word[i:]
    if slip == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("aeioustnrl") + word[i + 1 :]


async def test_did_you_mean_finds_most_generated_misspellings(client, demo, pool) -> None:
    rows = await pool.fetch(
        "SELECT word FROM search_words WHERE documents >= 1 AND length(word) >= 5 "
        "AND stem IS NOT NULL ORDER BY word"
    )
    words = [row["word"] for row in rows]
    assert len(words) >= 20
    rng = random.Random(7)
    trials, right, wrong = 0, 0, []
    for word in words:
        typo = misspell(word, rng)
        if await pool.fetchval("SELECT EXISTS (SELECT 1 FROM search_words WHERE word = $1)", typo):
            continue  # the slip made another real word
        trials += 1
        found = await suggested(client, typo)
        if found == [word]:
            right += 1
        else:
            wrong.append((typo, word, found))
    assert trials >= 20
    print(f"{right} of {trials} misspellings corrected")
    assert right / trials >= 0.8, wrong


async def test_nothing_unpublished_is_ever_offered(client, pool) -> None:
    topic = await create_topic(pool, name="Heliostats")
    await create_story(pool, title="Heliostat field opens", topic_ids=[topic])
    await create_story(pool, title="Heliostat draft zephyrine", status="DRAFT")
    await create_story(
        pool,
        title="Heliostat embargo quixotical",
        published_at=datetime.now(UTC) + timedelta(days=1),
    )
    assert await story_count(client, "heliostat") == 1
    assert await story_count(client, "heliostats") == 1  # a topic name
    for word in ("zephyr", "quixot"):
        assert await completions(client, word) == []
    for typo in ("zephyrene", "quixoticel"):
        assert await suggested(client, typo) == []


async def test_a_scheduled_story_is_counted_when_its_time_comes(client, pool) -> None:
    await create_story(pool, title="Heliostat field opens")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    await create_story(pool, title="Heliostat and orrery", published_at=soon)
    assert await story_count(client, "heliostat") == 1
    assert await completions(client, "orre") == []
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.5)
    assert await story_count(client, "heliostat") == 2  # with no write in between
    assert [c["word"] for c in await completions(client, "orre")] == ["orrery"]


async def test_counts_follow_every_write(client, pool, make_key) -> None:
    editor = await make_key("EDITOR")
    story = (
        await ok(client, CREATE, editor, "createStory", input={"slug": "s", "title": "Orrery"})
    )["story"]
    assert await story_count(client, "orrery") == 0  # a draft
    story = (await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=1))["story"]
    assert await story_count(client, "orrery") == 1
    update = """mutation($id: ID!, $version: Int!, $input: UpdateStoryInput!) {
      updateStory(id: $id, version: $version, input: $input) {
        story { id version } userErrors { message } } }"""
    story = (
        await ok(
            client,
            update,
            editor,
            "updateStory",
            id=story["id"],
            version=story["version"],
            input={"title": "Astrolabe"},
        )
    )["story"]
    assert (await story_count(client, "orrery"), await story_count(client, "astrolabe")) == (0, 1)
    await ok(client, UNPUBLISH, editor, "unpublishStory", id=story["id"], version=story["version"])
    assert await story_count(client, "astrolabe") == 0
    await create_story(pool, title="Astrolabe two")
    await create_story(pool, title="Astrolabe three")
    assert await story_count(client, "astrolabe") == 2
    await pool.execute("DELETE FROM stories WHERE title = 'Astrolabe two'")
    assert await story_count(client, "astrolabe") == 1
    # What the triggers keep is what a recount of the stories gives.
    differences = await pool.fetch(vocabulary.DIFFERENCES)
    assert differences == []
