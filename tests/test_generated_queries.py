"""The two engines agree on queries nobody wrote by hand: hypothesis-graphql draws queries
from the schema (any root field, nested selections, fragments on Node's types, random
arguments), its arguments are then pointed at what is really stored often enough that the
queries reach content, and each is sent as anonymous, PARTNER and EDITOR-with-preview
callers, over the demo content and a generated data set. The client (tests/conftest.py's
BothEngines) fails on the first pair of answers that differ by a byte.

The test prints how many queries ran compiled and why the others fell back."""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import graphql
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as drawing
from hypothesis import strategies as st

from api import migrations
from api.settings import Settings
from api.transfer import generate, load_demo
from db import keys
from db.pool import create_pool
from tests.conftest import BothEngines, bearer, data, serving

SCHEMA = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
QUERIES = 2_004
"""Drawn once, in a fixed order (derandomized), and shared out over data sets and callers."""
CALLERS = ("anonymous", "PARTNER", "EDITOR")
DATA_SETS = ("demo", "generated")
GENERATED_STORIES = 300


def drawn_queries(count: int) -> list[str]:
    """`count` queries from hypothesis-graphql, the same ones at every run: about half of
    them ask for one root field (of each kind alike, as a page usually does), the others
    for any number of them."""
    scalars = {
        "Date": st.dates().map(lambda day: graphql.StringValueNode(value=day.isoformat())),
        "DateTime": st.datetimes().map(
            lambda at: graphql.StringValueNode(value=at.isoformat() + "Z")
        ),
        "JSON": st.just(graphql.StringValueNode(value="{}")),
    }

    def drawing_from(roots: list[str] | None) -> st.SearchStrategy[str]:
        return hypothesis_graphql.queries(
            SCHEMA, fields=roots, custom_scalars=scalars, allow_x00=False
        )

    roots = sorted(graphql.build_schema(SCHEMA).query_type.fields)  # type: ignore[union-attr]
    single = st.one_of([drawing_from([root]) for root in roots])
    found: list[str] = []

    @drawing(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.one_of(single, drawing_from(None)))
    def collect(query: str) -> None:
        found.append(query)

    collect()
    return found


@dataclass
class Stored:
    """What one data set holds, as an EDITOR reads it: the values arguments are drawn from."""

    slugs: dict[str, list[str]] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    story_ids: list[str] = field(default_factory=list)
    cursors: dict[str, list[str]] = field(default_factory=dict)
    """By the field whose list they page through."""
    words: list[str] = field(default_factory=list)
    preview_token: str = ""


HARVEST = """query {
  stories(first: 100, preview: true) {
    pageInfo { endCursor }
    edges { cursor node { id slug title status
      sources(first: 2) { pageInfo { endCursor } edges { node { id outlet { id slug } } } }
      topics { id slug } deepDive { id slug } } }
  }
  deepDives(first: 100, preview: true) { pageInfo { endCursor } edges { node { id slug } } }
  outlets(first: 100) { pageInfo { endCursor } edges { node { id slug } } }
  blindspots(first: 2) { pageInfo { endCursor } }
  changes(first: 2) { pageInfo { endCursor } }
}"""
MINT = """mutation($id: ID!) {
  createPreviewToken(id: $id, expiresInMinutes: 600) { token } }"""


async def harvest(client: Any, editor: str) -> Stored:
    found = await data(client, HARVEST, key=editor)
    stored = Stored()
    slugs: dict[str, set[str]] = {
        "story": set(),
        "topic": set(),
        "outlet": set(),
        "deepDive": set(),
    }
    ids: set[str] = set()
    stories = [edge["node"] for edge in found["stories"]["edges"]]
    for story in stories:
        slugs["story"].add(story["slug"])
        ids.add(story["id"])
        stored.story_ids.append(story["id"])
        stored.words += re.findall(r"[A-Za-z]{4,}", story["title"])
        for topic in story["topics"]:
            slugs["topic"].add(topic["slug"])
            ids.add(topic["id"])
        for edge in story["sources"]["edges"]:
            ids.update((edge["node"]["id"], edge["node"]["outlet"]["id"]))
        if story["sources"]["pageInfo"]["endCursor"]:
            stored.cursors.setdefault("sources", []).append(
                story["sources"]["pageInfo"]["endCursor"]
            )
    for edge in found["deepDives"]["edges"] + found["outlets"]["edges"]:
        ids.add(edge["node"]["id"])
    slugs["deepDive"].update(edge["node"]["slug"] for edge in found["deepDives"]["edges"])
    slugs["outlet"].update(edge["node"]["slug"] for edge in found["outlets"]["edges"])
    stored.cursors["stories"] = [e["cursor"] for e in found["stories"]["edges"][::10]]
    for root in ("stories", "deepDives", "outlets", "blindspots", "changes"):
        if found[root]["pageInfo"]["endCursor"]:
            stored.cursors.setdefault(root, []).append(found[root]["pageInfo"]["endCursor"])
    stored.slugs = {kind: sorted(values) for kind, values in slugs.items()}
    stored.ids = sorted(ids)
    unpublished = [s for s in stories if s["status"] != "PUBLISHED"] or stories
    minted = await client.post(
        "/graphql",
        json={"query": MINT, "variables": {"id": unpublished[0]["id"]}},
        headers=bearer(editor),
    )
    stored.preview_token = minted.json()["data"]["createPreviewToken"]["token"]
    return stored


class Pointed(graphql.Visitor):
    """Rewrites a drawn query's arguments: most of the time to values that are stored (a
    real slug for the field that takes it, ids, cursors, search words, sane page sizes),
    otherwise leaving hypothesis's value as drawn. EDITORs always ask for previews."""

    def __init__(self, stored: Stored, chance: random.Random, caller: str) -> None:
        super().__init__()
        self.stored, self.chance, self.caller = stored, chance, caller
        self.fields: list[str] = []

    def enter_field(self, node: graphql.FieldNode, *_: Any) -> None:
        self.fields.append(node.name.value)

    def leave_field(self, *_: Any) -> None:
        self.fields.pop()

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        value = self.pointed(node.name.value, self.fields[-1] if self.fields else "")
        return node if value is None else graphql.ArgumentNode(name=node.name, value=value)

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: Any) -> Any:
        value = self.pointed(node.name.value, node.name.value)
        return node if value is None else graphql.ObjectFieldNode(name=node.name, value=value)

    def pointed(self, name: str, owner: str) -> graphql.ValueNode | None:
        pick, often = self.chance.choice, self.chance.random() < 0.85
        stored = self.stored
        if name == "preview" and self.caller == "EDITOR":
            return graphql.BooleanValueNode(value=True)
        if name == "previewToken":  # most readers have none; some the real one
            draw = self.chance.random()
            return (
                graphql.NullValueNode()
                if draw < 0.9
                else (_string(stored.preview_token) if draw < 0.95 else None)
            )
        if not often:
            return None
        if name == "slug" and owner in stored.slugs:
            return _string(pick(stored.slugs[owner]))
        if name in ("category", "topic"):
            return _string(pick(stored.slugs["topic"]))
        if name == "outlet":
            return _string(pick(stored.slugs["outlet"]))
        if name == "id":
            return _string(pick(stored.ids))
        if name == "first":
            return graphql.IntValueNode(value=str(pick((0, 1, 2, 3, 5, 20, 100))))
        if name == "after":
            if self.chance.random() < 0.5:
                return graphql.NullValueNode()
            every = [cursor for cursors in stored.cursors.values() for cursor in cursors]
            own = stored.cursors.get(owner) if self.chance.random() < 0.9 else None
            return _string(pick(own or every))
        if name == "query":
            return _string(" ".join(self.chance.sample(stored.words, self.chance.randint(1, 2))))
        if name == "topics":
            chosen = self.chance.sample(stored.slugs["topic"], self.chance.randint(1, 3))
            return graphql.ListValueNode(values=tuple(map(_string, chosen)))
        if name == "exclude":
            chosen = self.chance.sample(stored.story_ids, self.chance.randint(0, 3))
            return graphql.ListValueNode(values=tuple(map(_string, chosen)))
        return None


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def pointed(query: str, stored: Stored, chance: random.Random, caller: str) -> str:
    document = graphql.visit(graphql.parse(query), Pointed(stored, chance, caller))
    return graphql.print_ast(document)


@dataclass
class DataSet:
    name: str
    client: BothEngines
    callers: dict[str, str | None]
    stored: Stored


@pytest.fixture(scope="module")
def databases(make_database: Callable[[], str]) -> dict[str, str]:
    """An empty, migrated database for each data set."""
    made = {name: make_database() for name in DATA_SETS}
    for url in made.values():
        migrations.upgrade(url)
    return made


async def _data_set(name: str, url: str, settings: Settings) -> AsyncIterator[DataSet]:
    pool = await create_pool(url, statement_timeout_ms=10_000, min_size=1)
    try:
        if name == "demo":
            await load_demo(pool)
        else:
            await generate(pool, GENERATED_STORIES, seed=7, progress=False)
        made = {}
        for role in ("PARTNER", "EDITOR"):
            _, made[role] = await keys.create_key(
                pool, name=role, role=role, rate_per_minute=10**9, expires_at=None
            )
    finally:
        await pool.close()
    # A longer statement timeout than the service's 5 s: twice in CI (2026-12-06) one engine's
    # previewNode lookup stalled past 5 s under the full suite's load (never alone, where the
    # same query takes milliseconds); the differential test is about bytes, not time.
    here = replace(settings, database_url=url, statement_timeout_ms=30_000)
    twin = serving(replace(here, execution="standard"), buckets="twin:")
    async with serving(here) as compiled, twin as standard:
        client = BothEngines(compiled, standard)
        callers = {"anonymous": None, **made}
        yield DataSet(name, client, callers, await harvest(client, made["EDITOR"]))


@dataclass
class Tally:
    engines: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)

    def report(self) -> str:
        lines = [f"{sum(self.engines.values())} generated queries: {dict(self.engines)}"]
        lines.append(f"error codes: {dict(self.codes.most_common())}")
        lines.append("fell back because:")
        lines += [f"  {count:5}  {reason}" for reason, count in self.reasons.most_common()]
        return "\n".join(lines)


class _Reasons(logging.Handler):
    def __init__(self, tally: Tally) -> None:
        super().__init__(level=logging.DEBUG)
        self.tally = tally

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "runs through Strawberry: " in message:
            self.tally.reasons[_grouped(message.split("runs through Strawberry: ", 1)[1])] += 1


def _grouped(reason: str) -> str:
    """A fallback reason without the request's own values (slugs, ids, numbers)."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|-?\d+", "…", reason)[:120]


@contextlib.contextmanager
def fallbacks_into(tally: Tally) -> Iterator[None]:
    handler, logger = _Reasons(tally), logging.getLogger("newsgraph.engine")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def test_generated_queries_get_the_same_bytes_from_both_engines(
    databases: dict[str, str], settings: Settings
) -> None:
    queries, tally = drawn_queries(QUERIES), Tally()
    share = len(queries) // (len(DATA_SETS) * len(CALLERS))
    slot = 0
    with fallbacks_into(tally):
        for name in DATA_SETS:
            async for data_set in _data_set(name, databases[name], settings):
                for caller in CALLERS:
                    chance = random.Random(slot)
                    for drawn in queries[slot * share : (slot + 1) * share]:
                        query = pointed(drawn, data_set.stored, chance, caller)
                        await _send(data_set, caller, query, tally)
                    slot += 1
                assert data_set.client.compared >= len(CALLERS) * share
    print("\n" + tally.report())
    total = sum(tally.engines.values())
    assert total == slot * share
    # The queries reach content: most answers carry no error, and many run compiled.
    assert tally.engines["compiled"] >= total // 4, tally.report()


async def _send(data_set: DataSet, caller: str, query: str, tally: Tally) -> None:
    try:
        response = await data_set.client.post(
            "/graphql", json={"query": query}, headers=bearer(data_set.callers[caller])
        )
    except BaseException:
        print(f"the query that failed ({caller}):\n{query}")
        raise
    assert response.status_code in (200, 400), response.text
    engine = re.search(r'engine;desc="(\w+)"', response.headers.get("server-timing", ""))
    tally.engines[engine.group(1) if engine else "none"] += 1
    for error in response.json().get("errors", []):
        tally.codes[error.get("extensions", {}).get("code", "none")] += 1


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Story") { name kind } }',
        "{ __typename __schema { mutationType { name } } }",
        "{ stories(first: 1) { totalCount } __schema { queryType { name } } }",
    ],
)
async def test_introspection_fields_are_answered_by_the_standard_engine(client, query) -> None:
    """The compiled engine has no form for __schema and __type: such an operation, alone or
    beside other root fields, runs through Strawberry (once, it answered a plain-text 500)."""
    found = await data(client, query)
    assert found.get("__schema") or found.get("__type"), found
