"""Search: documents and weights, web-search syntax, freshness, paging, highlights, filters,
bad input, the text-search configuration setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api import migrations
from api.app import create_app
from content import clock
from db import search as db_search
from db.pool import create_pool
from schema.relay import encode_cursor
from tests.conftest import data, error_codes, graphql, operation, serving
from tests.factories import (
    PAST,
    cite,
    create_deep_dive,
    create_outlet,
    create_source,
    create_story,
    create_topic,
    derive,
    slug_of,
)

SEARCH = """
query Search($q: String!, $first: Int = 20, $after: String, $filter: SearchFilter) {
  search(query: $q, first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      highlight
      score
      node { __typename ... on Story { slug } ... on DeepDive { slug } }
    }
  }
}
"""


async def slugs(client, q: str, **variables) -> list[str]:
    result = (await data(client, SEARCH, q=q, **variables))["search"]
    return [edge["node"]["slug"] for edge in result["edges"]]


async def test_title_outranks_summary_outranks_topic_name(client, pool) -> None:
    topic = await create_topic(pool, name="Heliostat")
    in_topic = await create_story(pool, slug="in-topic", topic_ids=[topic], published_at=PAST)
    in_summary = await create_story(
        pool, slug="in-summary", summary="A heliostat field opens.", published_at=PAST
    )
    in_title = await create_story(
        pool, slug="in-title", title="Heliostat field opens", published_at=PAST
    )
    del in_topic, in_summary, in_title
    assert await slugs(client, "heliostat") == ["in-title", "in-summary", "in-topic"]


async def test_deep_dive_sections_and_key_actors_are_searchable(client, pool) -> None:
    actor = await create_topic(pool, name="Quarrington Authority")
    story = await create_story(pool)
    await create_deep_dive(
        pool,
        story_id=story,
        slug="dive",
        sections=[("Background", "The aqueduct was never finished.")],
        key_actor_ids=[actor],
    )
    assert await slugs(client, "aqueduct") == ["dive"]
    assert await slugs(client, "Quarrington") == ["dive"]
    assert await slugs(client, "background") == ["dive"]


async def test_web_search_syntax(client, pool) -> None:
    await create_story(pool, slug="red-apple", title="Red apples ripen early")
    await create_story(pool, slug="green-apple", title="Green apples ripen late")
    await create_story(pool, slug="red-pear", title="Red pears fall")
    assert set(await slugs(client, "apples")) == {"red-apple", "green-apple"}
    assert await slugs(client, "apples -green") == ["red-apple"]
    assert set(await slugs(client, "pears OR green")) == {"green-apple", "red-pear"}
    assert await slugs(client, '"red apples"') == ["red-apple"]
    assert await slugs(client, '"apples red"') == []
    assert await slugs(client, "ripening") != [], "English stemming: ripening ~ ripen"


async def test_freshness_breaks_equal_relevance_but_not_a_much_better_match(client, pool) -> None:
    await create_story(pool, slug="old", title="Tidal barrage", published_at=PAST)
    await create_story(
        pool, slug="new", title="Tidal barrage", published_at=PAST + timedelta(days=60)
    )
    assert await slugs(client, "tidal barrage") == ["new", "old"]

    await create_story(
        pool,
        slug="old-title-match",
        title="Estuary dredging",
        published_at=PAST - timedelta(days=365),
    )
    await create_story(
        pool,
        slug="new-summary-match",
        summary="Also mentions estuary dredging in passing among many other words here.",
        published_at=PAST + timedelta(days=60),
    )
    assert await slugs(client, "estuary dredging") == ["old-title-match", "new-summary-match"]


async def test_pages_walk_every_hit_once_in_ranked_order(client, pool) -> None:
    for n in range(23):
        # Equal text and equal times for some: ties must still page without gaps or repeats.
        await create_story(
            pool,
            slug=f"canal-{n}",
            title="Canal lock " + "works " * (n % 3),
            published_at=PAST - timedelta(days=n % 4),
        )
    whole = await slugs(client, "canal lock", first=100)
    assert len(whole) == 23
    walked, after = [], None
    while True:
        result = (await data(client, SEARCH, q="canal lock", first=4, after=after))["search"]
        walked += [edge["node"]["slug"] for edge in result["edges"]]
        assert result["totalCount"] == 23
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert walked == whole
    scores = [
        edge["score"] for edge in (await data(client, SEARCH, q="canal lock"))["search"]["edges"]
    ]
    assert scores == sorted(scores, reverse=True)


async def test_highlight_marks_matches_and_escapes_markup(client, pool) -> None:
    await create_story(
        pool,
        title='Harbour <script>alert("x")</script> & <b>pier</b> berths 3 < 4 > 2',
        summary="The harbour pier reopens after repairs.",
    )
    (edge,) = (await data(client, SEARCH, q="harbour pier"))["search"]["edges"]
    tags = edge["highlight"].replace("<mark>", "").replace("</mark>", "")
    assert "<" not in tags and ">" not in tags, edge["highlight"]
    assert "&amp;" in tags and "&lt;" in tags and "&gt;" in tags
    assert "<mark>Harbour</mark>" in edge["highlight"]
    assert "<mark>pier</mark>" in edge["highlight"]


@pytest.mark.parametrize("small_lists", [False, True])
async def test_filters_narrow_hits_and_counts(client, pool, monkeypatch, small_lists) -> None:
    # A topic's stories and an outlet's deep dives are read by their filter's condition or
    # looked up by id, by the size of their list: both must give the same.
    monkeypatch.setattr(db_search, "SMALL_TOPIC", db_search.SMALL_TOPIC if small_lists else 0)
    monkeypatch.setattr(db_search, "SMALL_OUTLET", db_search.SMALL_OUTLET if small_lists else 0)
    world = await create_topic(pool, kind="CATEGORY", slug="world", name="World")
    sport = await create_topic(pool, kind="CATEGORY", slug="sport", name="Sport")
    glacier = await create_topic(pool, slug="glaciers", name="Glaciers")
    outlet = await create_outlet(pool, slug="the-herald")
    herald_source = await create_source(pool, outlet_id=outlet)
    first = await create_story(
        pool, slug="melt-world", title="Meltwater rises", category_id=world, topic_ids=[glacier]
    )
    await pool.execute(
        "INSERT INTO story_sources (story_id, source_id, position) VALUES ($1, $2, 1)",
        first,
        herald_source,
    )
    await derive(pool, [first])
    sport_story = await create_story(
        pool,
        slug="melt-sport",
        title="Meltwater delays the race",
        category_id=sport,
        published_at=PAST - timedelta(days=40),
    )
    await create_deep_dive(pool, story_id=first, slug="melt-dive", title="Meltwater explained")
    await create_deep_dive(  # of a story no outlet filter names
        pool, story_id=sport_story, slug="race-dive", title="Meltwater and racing"
    )
    later = await create_story(  # scheduled: in the category's list, not shown before its time
        pool,
        slug="melt-later",
        title="Meltwater, scheduled",
        category_id=world,
        published_at=datetime.now(UTC) + timedelta(days=1),
    )
    await derive(pool, [later])

    async def hits(**search_filter) -> tuple[set[str], int]:
        result = (await data(client, SEARCH, q="meltwater", filter=search_filter))["search"]
        return {e["node"]["slug"] for e in result["edges"]}, result["totalCount"]

    assert await hits() == ({"melt-world", "melt-sport", "melt-dive", "race-dive"}, 4)
    assert await hits(category="world") == ({"melt-world", "melt-dive"}, 2)
    assert await hits(topic="glaciers") == ({"melt-world", "melt-dive"}, 2)
    assert await hits(outlet="the-herald") == ({"melt-world", "melt-dive"}, 2)
    # A filter read from its list (db.listings) combined with one that is not.
    assert await hits(outlet="the-herald", category="world") == ({"melt-world", "melt-dive"}, 2)
    assert await hits(outlet="the-herald", category="sport") == (set(), 0)
    assert await hits(topic="glaciers", category="sport") == (set(), 0)
    assert await hits(category="sport") == ({"melt-sport", "race-dive"}, 2)
    assert await hits(types=["STORY"]) == ({"melt-world", "melt-sport"}, 2)
    assert await hits(types=["DEEP_DIVE"]) == ({"melt-dive", "race-dive"}, 2)
    before = (PAST - timedelta(days=10)).isoformat()
    assert await hits(publishedBefore=before) == ({"melt-sport"}, 1)
    assert await hits(publishedAfter=before, types=["STORY"]) == ({"melt-world"}, 1)
    assert await hits(category="no-such-category") == (set(), 0)
    assert await hits(topic="no-such-topic") == (set(), 0)
    assert await hits(topic="glaciers", types=["DEEP_DIVE"]) == ({"melt-dive"}, 1)
    assert await hits(outlet="the-herald", types=["DEEP_DIVE"]) == ({"melt-dive"}, 1)
    assert await hits(outlet="the-herald", topic="glaciers") == ({"melt-world", "melt-dive"}, 2)
    assert await hits(outlet="no-such-outlet") == (set(), 0)
    assert await slug_of(pool, "stories", first) == "melt-world"


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ("", {}, "at least one word"),
        ("   \t ", {}, "at least one word"),
        ("x" * 501, {}, "at most 500"),
        ("nul\x00byte", {}, "NUL"),
        ("fine", {"after": "not-a-cursor"}, "cursor"),
        ("fine", {"first": 101}, "100"),
        ("fine", {"filter": {"types": []}}, "at least one type"),
        ("fine", {"filter": {"category": "Not A Slug"}}, "lower-case"),
        ("fine", {"filter": {"publishedAfter": "2026-01-01T00:00:00"}}, "offset"),
    ],
)
async def test_bad_input_is_a_clear_user_error(client, pool, query, variables, message) -> None:
    body = await graphql(client, SEARCH, q=query, **variables)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]


async def test_a_cursor_from_another_list_is_refused(client, pool) -> None:
    await create_story(pool, title="Cursor check")
    await create_story(pool, title="Cursor check again")
    feed = await data(client, "{ stories(first: 1) { pageInfo { endCursor } } }")
    body = await graphql(client, SEARCH, q="cursor", after=feed["stories"]["pageInfo"]["endCursor"])
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "as_of", ["0001-01-01T00:00:00+00:00", "1969-12-31T23:59:59+00:00", "9999-12-31T23:59:59+00:00"]
)
async def test_a_cursor_from_outside_the_service_s_time_is_refused(client, pool, as_of) -> None:
    """A cursor's time is when its first page was asked for; one from before 1970 or from
    the future is refused as any foreign cursor is (at the ends of what a cursor can name,
    the ranking's arithmetic failed with an internal error)."""
    await create_story(pool, title="Timeless tides")
    after = encode_cursor("search", as_of, 0.0, "deep_dive", 1)
    body = await graphql(client, SEARCH, q="timeless", after=after)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert "cursor" in body["errors"][0]["message"]


async def test_a_story_from_a_century_ago_is_found_and_ranked(client, pool) -> None:
    """Freshness halves every 30 days; a century of halvings would underflow float8, which
    failed every search that ranked such a story. Its freshness now bottoms out instead:
    the old story ranks below an equal new one, and pages and counts work."""
    await create_story(
        pool,
        slug="old-tides",
        title="Timeless tides",
        published_at=datetime(1901, 5, 1, tzinfo=UTC),
    )
    await create_story(pool, slug="new-tides", title="Timeless tides")
    result = (await data(client, SEARCH, q="timeless"))["search"]
    assert [edge["node"]["slug"] for edge in result["edges"]] == ["new-tides", "old-tides"]
    assert result["totalCount"] == 2
    assert 0 < result["edges"][1]["score"] < result["edges"][0]["score"]


async def test_stop_words_only_match_nothing(client, pool) -> None:
    await create_story(pool, title="The and of it")
    result = (await data(client, SEARCH, q="the and of"))["search"]
    assert result == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


async def test_story_filter_query_uses_the_same_documents(client, pool) -> None:
    topic = await create_topic(pool, name="Saltmarsh")
    await create_story(pool, slug="tagged", topic_ids=[topic])
    await create_story(pool, slug="other")
    result = await data(
        client, '{ stories(filter: {query: "saltmarsh"}) { edges { node { slug } } } }'
    )
    assert [e["node"]["slug"] for e in result["stories"]["edges"]] == ["tagged"]


@pytest.fixture
def fresh_database(make_database) -> str:
    url: str = make_database()
    migrations.upgrade(url)
    return url


async def test_search_configuration_is_a_setting(settings, fresh_database) -> None:
    url = fresh_database
    simple = replace(settings, database_url=url, search_config="simple")
    query = '{ search(query: "ripening") { totalCount } }'
    async with serving(simple) as client:
        pool = await create_pool(url, statement_timeout_ms=5_000, min_size=1)
        try:
            await create_story(pool, title="Apples ripen")
        finally:
            await pool.close()
        # No stemming in the simple configuration: "ripening" is not "ripen".
        assert (await data(client, query))["search"]["totalCount"] == 0
    english = replace(simple, search_config="english")
    async with serving(english) as client:  # the start rebuilds every document
        assert (await data(client, query))["search"]["totalCount"] == 1


async def test_an_unknown_configuration_stops_the_start_with_a_clear_message(settings) -> None:
    app = create_app(replace(settings, search_config="klingon"))
    with pytest.raises(SystemExit, match="no text-search configuration 'klingon'"):
        async with app.router.lifespan_context(app):
            pass


async def test_renaming_a_topic_rebuilds_the_documents_that_name_it(client, pool, make_key) -> None:
    topic = await create_topic(pool, slug="fjords", name="Fjords")
    story = await create_story(pool, slug="tagged", topic_ids=[topic])
    await create_deep_dive(pool, story_id=story, slug="dive", key_actor_ids=[topic])
    editor = await make_key("EDITOR")
    rename = """mutation($input: TopicInput!) { upsertTopic(input: $input) {
      userErrors { code } } }"""
    topic_input = {"slug": "fjords", "name": "Norwegian inlets", "kind": "TOPIC"}
    result = await data(client, rename, key=editor, input=topic_input)
    assert result["upsertTopic"]["userErrors"] == []
    assert set(await slugs(client, "inlets")) == {"tagged", "dive"}
    assert await slugs(client, "fjords") == []


COUNTED = """query($q: String!) { search(query: $q, first: 2) {
  totalCount totalCountIsExact edges { node { ... on Story { slug } } } } }"""
COUNT_ONLY = '{ search(query: "lanternfish") { totalCountIsExact totalCount } }'


@pytest.mark.parametrize("ranked", [2, 3, None])
@pytest.mark.parametrize("execution", ["auto", "standard"])
async def test_the_count_is_exact_up_to_its_bound_and_says_when_it_is_not(
    settings, pool, monkeypatch, execution, ranked
) -> None:
    """The bound is 10,000 matches; a small one here (a fresh app plans with it) stands for
    it. Counting stops one past the bound on each kind, so a common word is never counted
    to the end; totalCount is then the bound, a lower bound, and totalCountIsExact false.
    Deep dives are counted up to the room the stories leave under the bound. Beside a page,
    a kind of which the page ranks fewer than RANKED is counted from the page's ranked
    matches, a kind with more by counting: small windows (2, 3) make both happen here."""
    monkeypatch.setattr("db.search.COUNT_EXACT_UP_TO", 3)
    if ranked is not None:
        monkeypatch.setattr("db.search.RANKED", {"story": ranked, "deep_dive": ranked})
    for n in range(4):
        await create_story(pool, slug=f"lanternfish-{n}", title=f"Lanternfish shoal {n}")
    await create_story(pool, slug="anglerfish", title="Anglerfish and lanternfish")
    await create_story(pool, slug="rare", title="Anglerfish alone")
    # Stories under the bound and deep dives over it: both kinds count towards it.
    for n in range(2):
        story = await create_story(pool, slug=f"viperfish-{n}", title=f"Viperfish {n}")
        await create_deep_dive(pool, story_id=story, sections=(("Deep", "Viperfish glow."),))
    one = await create_story(pool, slug="hatchetfish", title="Hatchetfish")
    await create_deep_dive(pool, story_id=one, sections=(("Deep", "Hatchetfish glow."),))
    # A quoted phrase (its deep dives found through their pairs, in any order): one story
    # and three deep dives hold it, past the bound.
    dusk = await create_story(pool, slug="viperfish-dusk", title="Viperfish glow at dusk")
    await create_deep_dive(pool, story_id=dusk, sections=(("Deep", "Viperfish glow."),))
    async with serving(replace(settings, execution=execution)) as client:
        many = (await data(client, COUNTED, q="lanternfish"))["search"]
        assert (many["totalCount"], many["totalCountIsExact"]) == (3, False)
        assert len(many["edges"]) == 2  # the page is not bounded by the count
        few = (await data(client, COUNTED, q="anglerfish"))["search"]
        assert (few["totalCount"], few["totalCountIsExact"]) == (2, True)
        alone = (await data(client, COUNT_ONLY))["search"]
        assert alone == {"totalCountIsExact": False, "totalCount": 3}
        mixed = (await data(client, COUNTED, q="viperfish"))["search"]
        assert (mixed["totalCount"], mixed["totalCountIsExact"]) == (3, False)
        phrase = (await data(client, COUNTED, q='"viperfish glow"'))["search"]
        assert (phrase["totalCount"], phrase["totalCountIsExact"]) == (3, False)
        dusk_only = (await data(client, COUNTED, q='"glow at dusk"'))["search"]
        assert (dusk_only["totalCount"], dusk_only["totalCountIsExact"]) == (1, True)
        pair = (await data(client, COUNTED, q="hatchetfish"))["search"]
        assert (pair["totalCount"], pair["totalCountIsExact"]) == (2, True)
        # One story and four deep dives: the deep dives fill the room the story leaves.
        glow = (await data(client, COUNTED, q="glow"))["search"]
        assert (glow["totalCount"], glow["totalCountIsExact"]) == (3, False)
        none = (await data(client, COUNTED, q="swordfish"))["search"]
        assert (none["totalCount"], none["totalCountIsExact"]) == (0, True)


async def test_search_keeps_answering_compiled_past_the_generic_plan_point(client, pool) -> None:
    """Search runs as a statement prepared for each request, so PostgreSQL plans it with
    that request's words (a cached statement may get a generic plan after five runs)."""
    await create_story(pool, title="Heliostat field opens")
    for n in range(8):  # past the five runs after which a cached statement may go generic
        words = f"heliostat {'' if n % 2 else 'field'}"
        body = {"query": operation("Search"), "variables": {"q": words}}
        response = await client.post("/graphql", json=body)
        assert response.json()["data"]["search"]["totalCount"] == 1
        timing = response.headers["server-timing"]
        assert 'engine;desc="compiled"' in timing
        assert float(timing.split("db;dur=")[1]) > 0


TYPED = """query($q: String!, $typing: Boolean!) {
  search(query: $q, asYouType: $typing, first: 20) {
    totalCount edges { highlight node { ... on Story { slug } ... on DeepDive { slug } } } } }"""


async def typed(client, q: str, typing: bool = True) -> list[str]:
    found = (await data(client, TYPED, q=q, typing=typing))["search"]
    return sorted(edge["node"]["slug"] for edge in found["edges"])


async def test_search_as_you_type_takes_the_last_word_as_a_prefix(client, demo) -> None:
    whole = await typed(client, "ukraine", typing=False)
    assert "first-purl-deliveries-reach-ukraine" in whole
    assert await typed(client, "ukrai", typing=False) == []  # not a word of its own
    assert await typed(client, "ukrai") == await typed(client, "Ukrain")
    assert set(whole) <= set(await typed(client, "ukrai"))
    marked = (await data(client, TYPED, q="ukrai", typing=True))["search"]["edges"]
    assert any("<mark>Ukraine</mark>" in edge["highlight"] for edge in marked)
    # Earlier words keep web-search syntax; a word still being typed narrows them.
    both = await typed(client, "purl ukrai")
    assert both and set(both) <= set(await typed(client, "purl", typing=False))
    # An exclusion or a quoted phrase at the end is not a prefix.
    assert await typed(client, "ukraine -purl") == await typed(client, "ukraine -purl", False)
    assert await typed(client, '"ukrai"') == []
    # Stop words typed so far match what the rest matches, never everything.
    assert await typed(client, "the") == []
    body = {"query": TYPED, "variables": {"q": "purl ukrai", "typing": True}}
    response = await client.post("/graphql", json=body)
    assert 'engine;desc="compiled"' in response.headers["server-timing"]


WINDOW = """query($q: String!, $preview: Boolean!, $filter: SearchFilter) {
  search(query: $q, first: 50, preview: $preview, filter: $filter) {
    totalCount
    edges { cursor score node { __typename ... on Story { slug } ... on DeepDive { slug } } }
  } }"""


@pytest.mark.parametrize("ranked", [3, 8, 40])
async def test_a_common_query_ranks_only_its_newest_matches(
    settings, pool, monkeypatch, editor, ranked
) -> None:
    """A query that matches more than RANKED stories (deep dives) ranks the newest RANKED
    of them; a small window stands for the real one (40: more than match). Two share a
    time, a draft and a scheduled story count only in a preview, and a time filter takes
    the newest of the matches it leaves. The ages lie on and either side of the bounds of
    db.search.SPANS_DAYS, by which deep dives are read span by span."""
    monkeypatch.setattr("db.search.RANKED", {"story": ranked, "deep_dive": ranked})
    now = datetime.now(UTC).replace(microsecond=0)
    ages = [timedelta(hours=1), timedelta(days=3000)] + [
        timedelta(days=days, seconds=seconds)
        for days in db_search.SPANS_DAYS
        for seconds in (-1, 0, 1)
    ]
    times = {f"hake-{n}": now - age for n, age in enumerate(ages)}
    times["hake-twin"] = times["hake-5"]
    for slug, published in times.items():
        story = await create_story(pool, slug=slug, title="Hake landings", published_at=published)
        await create_deep_dive(
            pool, story_id=story, slug=f"dive-{slug}", title="Hake quotas", published_at=published
        )
    await create_story(
        pool, slug="hake-draft", title="Hake landings", status="DRAFT", published_at=None
    )
    await create_story(
        pool, slug="hake-later", title="Hake landings", published_at=now + timedelta(days=2)
    )
    await create_story(pool, slug="cod", title="Cod landings", published_at=now)
    ids = dict(await pool.fetch("SELECT slug, id FROM stories WHERE slug LIKE 'hake-%'"))
    newest = sorted(times, key=lambda slug: (times[slug], ids[slug]), reverse=True)
    cut = now - timedelta(days=5)
    older = [slug for slug in newest if times[slug] < cut]
    requests = [
        ({"preview": False}, newest[:ranked]),
        ({"preview": False, "filter": {"publishedBefore": cut.isoformat()}}, older[:ranked]),
        ({"preview": True}, None),
    ]
    async with serving(settings) as client:
        with clock.fixed(now):
            for variables, expected in requests:
                body = await graphql(client, WINDOW, key=editor, q="hake", **variables)
                assert "errors" not in body, body
                found = [edge["node"]["slug"] for edge in body["data"]["search"]["edges"]]
                stories = {slug for slug in found if slug.startswith("hake")}
                dives = {slug[5:] for slug in found if slug.startswith("dive-")}
                if expected is not None:
                    assert stories == set(expected) == dives
                else:  # a preview ranks the draft and the scheduled story too, the newest
                    assert {"hake-draft", "hake-later"} <= stories
                    assert len(stories) == min(ranked, len(times) + 2)


@pytest.mark.parametrize("walk", [0, 4, 12, 1_000])
async def test_within_an_outlet_the_newest_matches_are_ranked_however_they_are_found(
    client, pool, monkeypatch, walk
) -> None:
    """Within an outlet, search first tests the outlet's newest LIST_WALK stories and keeps
    them when they hold RANKED matches or are all it has; otherwise it finds the matches as
    the planner sees fit. Whichever way, it ranks the same newest RANKED matches: a walk of
    none (never enough), of 4 (fewer than the 3 matches among the 12 newest need), of 12
    (enough) and of more than the outlet has."""
    monkeypatch.setattr("db.search.RANKED", {"story": 3, "deep_dive": 3})
    monkeypatch.setattr("db.search.LIST_WALK", walk)
    outlet = await create_outlet(pool, slug="the-tern")
    elsewhere = await create_outlet(pool, slug="the-skua")
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(20):  # every fourth holds the word; the newest first
        title = "Puffin counts rise" if n % 4 == 3 else "Harbour dues rise"
        story = await create_story(
            pool, slug=f"tern-{n}", title=title, published_at=now - timedelta(hours=n)
        )
        await cite(pool, story, [outlet])
    newer = await create_story(pool, slug="skua", title="Puffin counts rise", published_at=now)
    await cite(pool, newer, [elsewhere])
    later = await create_story(  # scheduled: in the outlet's list, not visible yet
        pool, slug="tern-later", title="Puffin counts", published_at=now + timedelta(days=1)
    )
    await cite(pool, later, [outlet])
    result = (await data(client, SEARCH, q="puffin", filter={"outlet": "the-tern"}))["search"]
    assert [edge["node"]["slug"] for edge in result["edges"]] == ["tern-3", "tern-7", "tern-11"]
    assert result["totalCount"] == 5


_MIRROR_DIFFERS = """
SELECT count(*) FROM stories s FULL JOIN story_search x ON x.id = s.id
WHERE s.id IS NULL OR x.id IS NULL
   OR (s.status, s.published_at, s.created_at, s.category_id, s.search_vector,
       adjacent_pairs(s.search_vector))
      IS DISTINCT FROM (x.status, x.published_at, x.created_at, x.category_id, x.search_vector,
       x.phrase_vector)"""


async def test_story_search_follows_every_write_to_stories(client, pool, editor) -> None:
    """Search reads a story from story_search (migration 0017), which triggers keep equal to
    the story: inserts (COPY too), edits through the API (title, category, publishing,
    unpublishing), updates of many rows at once, an update of nothing search reads, and
    deletes. After each, every story's row there matches it, phrase pairs included."""
    from tests.test_mutations import CREATE, PUBLISH, UNPUBLISH, UPDATE, ok

    async def mirrored() -> None:
        assert await pool.fetchval(_MIRROR_DIFFERS) == 0

    first = await create_story(pool, slug="kelp-1", title="Kelp forests recover")
    second = await create_story(pool, slug="kelp-2", title="Kelp farming grows")
    await mirrored()
    category = await create_topic(pool, kind="CATEGORY")
    both = [first, second]
    for change, value in (
        ("category_id = $2", category),
        ("status = $2", "DRAFT"),
        ("published_at = $2", PAST - timedelta(days=1)),
        ("created_at = $2", PAST - timedelta(days=2)),
    ):
        await pool.execute(f"UPDATE stories SET {change} WHERE id = ANY($1::bigint[])", both, value)
        await mirrored()
    await pool.execute("UPDATE stories SET lefts = lefts + 1")  # nothing search reads
    await mirrored()
    await pool.copy_records_to_table(
        "stories",
        records=[("kelp-3", "Kelp copied in", "PUBLISHED", PAST)],
        columns=["slug", "title", "status", "published_at"],
    )
    await db_search.refresh(
        pool, "story", [r[0] for r in await pool.fetch("SELECT id FROM stories")]
    )
    await mirrored()

    created = (
        await ok(
            client,
            CREATE,
            editor,
            "createStory",
            input={"slug": "urchin", "title": "Urchins graze kelp"},
        )
    )["story"]
    await mirrored()
    story = (
        await ok(
            client,
            UPDATE,
            editor,
            "updateStory",
            id=created["id"],
            version=1,
            input={"title": "Otters eat urchins"},
        )
    )["story"]
    story = (
        await ok(client, PUBLISH, editor, "publishStory", id=story["id"], version=story["version"])
    )["story"]
    await mirrored()
    assert await slugs(client, '"otters eat"') == ["urchin"]
    assert await slugs(client, "grazing") == []
    await ok(client, UNPUBLISH, editor, "unpublishStory", id=story["id"], version=story["version"])
    await mirrored()
    assert await slugs(client, '"otters eat"') == []

    await pool.execute("DELETE FROM stories WHERE id = $1", second)
    await mirrored()
    assert await pool.fetchval("SELECT count(*) FROM story_search") == 3
