"""N+1 is impossible by construction: listing 1 or 50 items costs the same statements."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from db.pool import StatementCounter, create_pool
from tests.conftest import bearer, data, operation, serving
from tests.factories import create_deep_dive, create_story, create_topic, slug_of


async def statements_for(client, statements, query: str, **variables) -> int:
    _, spent = await statements.spent_by(data(client, query, **variables))
    return spent


async def test_home_feed_costs_the_same_for_1_and_50_stories(client, pool, statements) -> None:
    category = await create_topic(pool, kind="CATEGORY")
    for n in range(60):
        story = await create_story(
            pool,
            leans=["LEFT", "CENTER", None][: n % 4],
            category_id=category,
            hero_image_url="https://img.test/x.jpg",
        )
        if n % 3 == 0:
            await create_deep_dive(pool, story_id=story)
    one = await statements_for(client, statements, operation("HomeFeed"), first=1)
    fifty = await statements_for(client, statements, operation("HomeFeed"), first=50)
    assert one == fifty
    assert fifty <= 6  # feed, count, categories, coverage, deep dives


async def test_story_and_topic_pages_cost_a_bounded_number(client, pool, statements) -> None:
    topic = await create_topic(pool)
    small = await create_story(pool, leans=["LEFT"], topic_ids=[topic])
    big = await create_story(pool, leans=["LEFT", "RIGHT", "CENTER", None] * 10, topic_ids=[topic])
    for _ in range(30):
        await create_story(pool, topic_ids=[topic])
    costs = {
        await statements_for(
            client,
            statements,
            operation("StoryPage"),
            slug=await slug_of(pool, "stories", story_id),
        )
        for story_id in (small, big)
    }
    assert len(costs) == 1
    topic_slug = await slug_of(pool, "topics", topic)
    one = await statements_for(client, statements, operation("TopicPage"), slug=topic_slug, first=1)
    many = await statements_for(
        client, statements, operation("TopicPage"), slug=topic_slug, first=30
    )
    assert one == many


class EveryStatement(StatementCounter):
    """Counts every statement a pool's connections send, the driver's own included."""

    def counts(self, query: str) -> bool:
        return True


@pytest.mark.parametrize("role", [None, "PUBLIC", "PARTNER"])
async def test_a_compiled_page_costs_two_round_trips_whoever_asks(
    settings, demo, make_key, role
) -> None:
    """The caller's key and its rate-limit bucket in one statement, the page in another;
    no reset query when the connection goes back to the pool. (At 300 a minute, below the
    rates a process leases tokens for: db.rate_limits.LeasingRateLimiter.)"""
    counter = EveryStatement()
    key = await make_key(role, rate=300) if role else None
    modest = replace(settings, access=replace(settings.access, anonymous_rate_per_minute=300))
    async with serving(modest, counter) as client:
        for name, variables in (
            ("HomeFeed", {"first": 20}),
            ("StoryPage", {"slug": "south-korea-may-join-nato-purl"}),
            ("DeepDivePage", {"slug": "south-korea-purl-deep-dive"}),
        ):
            body = {"query": operation(name), "variables": variables}
            warm = await client.post("/graphql", json=body, headers=bearer(key))
            assert 'engine;desc="compiled"' in warm.headers["server-timing"]
            _, spent = await counter.spent_by(
                client.post("/graphql", json=body, headers=bearer(key))
            )
            assert spent == 2, name


async def test_a_busy_keys_pages_cost_one_statement_once_it_holds_a_lease(
    settings, demo, make_key
) -> None:
    counter = EveryStatement()
    key = await make_key("PUBLIC", rate=60_000)  # 1,000 a second: leases of up to 250
    body = {"query": operation("HomeFeed"), "variables": {"first": 20}}
    async with serving(settings, counter) as client:
        await client.post("/graphql", json=body, headers=bearer(key))

        async def pages() -> None:
            for _ in range(30):
                await client.post("/graphql", json=body, headers=bearer(key))

        _, spent = await counter.spent_by(pages())
    # 30 pages, and a lease of 2, 4, 8 and 16 tokens: 4 statements for the key.
    assert 30 < spent <= 30 + 5


NESTED_RECOMMENDATIONS = """
query Nested($slug: String!) {
  story(slug: $slug) {
    relatedStories(first: 5) { slug relatedStories(first: 5) { slug relatedStories(first: 5) {
      slug deepDive { moreLikeThis(first: 3) { slug } } } } }
  }
}"""


async def test_recommendations_of_recommended_stories_are_made_a_level_at_a_time(
    client, demo, statements
) -> None:
    """Compiled, a recommendation is one evaluation per story it is made for; nested, that
    multiplies (it hit the 5 s timeout at levels of 5, 20 and 20 on 300 stories), so a nest runs
    through Strawberry, whose loaders make each level's recommendations in one statement."""
    slug = "south-korea-may-join-nato-purl"
    single = {"query": operation("StoryPage"), "variables": {"slug": slug}}
    assert (
        'engine;desc="compiled"'
        in (await client.post("/graphql", json=single)).headers["server-timing"]
    )
    nested = {"query": NESTED_RECOMMENDATIONS, "variables": {"slug": slug}}
    response = await client.post("/graphql", json=nested)
    assert 'engine;desc="standard"' in response.headers["server-timing"]
    levels = response.json()["data"]["story"]["relatedStories"]
    assert levels and all(story["relatedStories"] for story in levels)
    _, spent = await statements.spent_by(client.post("/graphql", json=nested))
    assert spent <= 8  # story, three levels, deep dives, theirs


CONTRACT_PAGES = (
    ("HomeFeed", {"first": 20}),
    ("StoryPage", {"slug": "south-korea-may-join-nato-purl"}),
    ("DeepDivePage", {"slug": "south-korea-purl-deep-dive"}),
    ("TopicPage", {"slug": "purl"}),
    ("Search", {"q": "Qatar"}),
)


@pytest.mark.parametrize("role", [None, "PUBLIC", "PARTNER", "EDITOR"])
async def test_every_contract_operation_runs_compiled(client, demo, make_key, role) -> None:
    key = await make_key(role) if role else None
    pages = list(CONTRACT_PAGES)
    story = await data(client, operation("StoryPage"), slug="south-korea-may-join-nato-purl")
    pages.append(("NodeRefetch", {"id": story["story"]["id"]}))
    for name, variables in pages:
        body = {"query": operation(name), "variables": variables}
        response = await client.post("/graphql", json=body, headers=bearer(key))
        assert response.status_code == 200 and "errors" not in response.json(), name
        assert 'engine;desc="compiled"' in response.headers["server-timing"], name


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/stories.rss",
        "/feeds/stories.json",
        "/feeds/topics/purl.atom",
        "/feeds/deep-dives.rss",
        "/v1/stories",
        "/v1/stories?format=ninjs",
        "/v1/stories/south-korea-may-join-nato-purl",
        "/v1/deep-dives/south-korea-purl-deep-dive",
        "/v1/topics/purl",
        "/sitemaps/news.xml",
    ],
)
async def test_feeds_rest_and_sitemaps_cost_three_round_trips(
    settings, demo, make_key, path
) -> None:
    """The key with its rate-limit bucket, the page (the compiled engine's one statement;
    sitemaps have one of their own), and when content last changed (Last-Modified)."""
    counter = EveryStatement()
    key = await make_key("PARTNER")
    async with serving(settings, counter) as client:
        assert (await client.get(path, headers=bearer(key))).status_code == 200
        response, spent = await counter.spent_by(client.get(path, headers=bearer(key)))
        assert response.status_code == 200
        assert spent == 3, path


async def test_statements_of_background_work_are_not_counted(database_url) -> None:
    """A worker started before the measured work (as the app's figures drain is) sends its
    statements while the work runs; only the work's own count."""
    counter = StatementCounter()
    pool = await create_pool(database_url, statement_timeout_ms=5_000, setup=counter.attach)
    try:
        go, done = asyncio.Event(), asyncio.Event()

        async def worker() -> None:
            await go.wait()
            for _ in range(5):
                await pool.fetchval("SELECT 1")
            done.set()

        async def work() -> str:
            go.set()
            for _ in range(3):
                await pool.fetchval("SELECT 2")
            await done.wait()
            return "done"

        background = asyncio.create_task(worker())
        assert await counter.spent_by(work()) == ("done", 3)
        await background
    finally:
        await pool.close()
