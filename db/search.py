"""Full-text search over stories and deep dives: the stored documents and the ranked query.

Each story and deep dive keeps a weighted tsvector (its search document), rebuilt by this
module whenever it, its topics or its sections change:

- story: title (A), summary (B), topic names (C); with its vocabulary (db.vocabulary).
  Triggers copy it, with its phrase pairs (migration 0012) and the columns search filters
  on, to story_search (migration 0017), which the query reads
- deep dive: title (A), dek (B), key actor names and section headings (C), section bodies (D)

Ranking: score = relevance x freshness, where relevance is ts_rank with weights
D 0.1, C 0.2, B 0.4, A 1.0 (length-normalised), and freshness falls from 1 towards
FRESHNESS_FLOOR with a half-life of FRESHNESS_HALF_LIFE_DAYS, measured from the moment the
first page was asked for (`as_of`, carried in the cursor), so later pages rank exactly like the
first. Ties break by kind and id, descending.

A query that matches more than RANKED stories (or deep dives) ranks only the newest
that many of them; older matches are found by narrowing the query or the dates. The count
is exact up to COUNT_EXACT_UP_TO matches and says when it is not (a lower bound beyond).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from content import clock
from db import json_sql, listings, text_search, vocabulary
from db.json_sql import Slots
from db.pool import Connection, Pool, fetch_planned
from db.stories import outlet_list, story_condition, topic_list, topic_stories
from db.text_search import SEARCH_CONFIG, tsquery
from db.visibility import Scope, feed_time, visible, visible_deep_dive

log = logging.getLogger(__name__)

DOCUMENT_VERSION = 2
"""Bump when the documents below change: the next start rebuilds every vector (and every
story's vocabulary, db.vocabulary)."""

RANKED = {"story": 2_000, "deep_dive": 1_000}
"""A query matching more stories (or deep dives) than this ranks only the newest this many:
ranking costs a read of each match's document (a deep dive's holds its whole body), and
common words match hundreds of thousands. Measured on 405,000 generated stories over 21
queries of every class: against exact ranking, the top 10 differs for 4 queries with 5,000
of each, 6 with these (mean overlap 8.6 of 10, against 9.2), and page 1 of a common word
takes a third of the time."""
COUNT_EXACT_UP_TO = 10_000
"""totalCount is exact up to this many matches; beyond, it is this number and
totalCountIsExact is false (counting a common word's million matches would read them all)."""
FRESHNESS_FLOOR = 0.5
FRESHNESS_HALF_LIFE_DAYS = 30.0
KINDS = ("story", "deep_dive")

# Private-use characters mark matches in ts_headline output, so the caller can HTML-escape
# the text first and only then turn the marks into tags.
MATCH_START = "\ue000"
MATCH_END = "\ue001"
# --- the stored documents ---------------------------------------------------------------

_STORY_DOCUMENTS = f"""
UPDATE stories s SET search_vector =
    setweight(to_tsvector(c.config, s.title), 'A')
    || setweight(to_tsvector(c.config, s.summary), 'B')
    || setweight(to_tsvector(c.config, t.names), 'C'),
    vocabulary = {vocabulary.WORDS.format("s.title || ' ' || s.summary || ' ' || t.names")}
FROM (SELECT {SEARCH_CONFIG} AS config) AS c, (
    SELECT k.id, coalesce(string_agg(tp.name, ' ' ORDER BY st.position), '') AS names
    FROM unnest($1::bigint[]) AS k(id)
    LEFT JOIN story_topics st ON st.story_id = k.id LEFT JOIN topics tp ON tp.id = st.topic_id
    GROUP BY k.id
) AS t
WHERE s.id = t.id
"""
_DEEP_DIVE_DOCUMENTS = f"""
UPDATE deep_dives d SET search_vector =
    setweight(to_tsvector(c.config, d.title), 'A')
    || setweight(to_tsvector(c.config, d.dek), 'B')
    || setweight(to_tsvector(c.config, coalesce((
        SELECT string_agg(t.name, ' ' ORDER BY a.position)
        FROM deep_dive_key_actors a JOIN topics t ON t.id = a.topic_id
        WHERE a.deep_dive_id = d.id
    ), '') || ' ' || coalesce((
        SELECT string_agg(x.heading, ' ' ORDER BY x.position)
        FROM deep_dive_sections x WHERE x.deep_dive_id = d.id
    ), '')), 'C')
    || setweight(to_tsvector(c.config, coalesce((
        SELECT string_agg(x.body, ' ' ORDER BY x.position)
        FROM deep_dive_sections x WHERE x.deep_dive_id = d.id
    ), '')), 'D')
FROM (SELECT {SEARCH_CONFIG} AS config) AS c
WHERE d.id = ANY($1::bigint[])
"""
_NAMING_TOPIC = {
    "story": "SELECT story_id FROM story_topics WHERE topic_id = $1",
    "deep_dive": "SELECT deep_dive_id FROM deep_dive_key_actors WHERE topic_id = $1",
}
_ALL_IDS = {
    "story": "SELECT id FROM stories WHERE id > $1 ORDER BY id LIMIT $2",
    "deep_dive": "SELECT id FROM deep_dives WHERE id > $1 ORDER BY id LIMIT $2",
}
_DOCUMENTS = {"story": _STORY_DOCUMENTS, "deep_dive": _DEEP_DIVE_DOCUMENTS}


async def refresh(conn: Connection | Pool, kind: str, ids: list[int]) -> None:
    """Rebuild the search documents of these stories or deep dives."""
    if ids:
        await conn.execute(_DOCUMENTS[kind], ids)


async def refresh_topic(conn: Connection, topic_id: int) -> None:
    """Rebuild the documents that contain the topic's name."""
    for kind in KINDS:
        ids = [row[0] for row in await conn.fetch(_NAMING_TOPIC[kind], topic_id)]
        await refresh(conn, kind, ids)


class UnknownConfig(ValueError):
    """The configured text-search configuration does not exist in the database."""


async def ensure_index(pool: Pool, config: str, batch: int = 20_000) -> bool:
    """Make the stored documents match `config` and DOCUMENT_VERSION, rebuilding them all
    when either changed. True when it rebuilt. Raises UnknownConfig."""
    async with pool.acquire() as conn:
        if await _is_current(conn, config):  # the usual start: no lock, nor a session for one
            return False
    async with pool.acquire() as conn:
        # One process rebuilds; the others wait here and then find nothing to do.
        await conn.execute("SELECT pg_advisory_lock(hashtext('newsgraph.search_index'))")
        await conn.execute("SET statement_timeout = 0")  # a rebuild may take minutes
        try:
            return await _ensure_index(conn, config, batch)
        finally:
            await conn.execute("RESET statement_timeout")
            await conn.execute("SELECT pg_advisory_unlock(hashtext('newsgraph.search_index'))")


async def _is_current(conn: Connection, config: str) -> bool:
    known = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = $1)", config
    )
    if not known:
        names = await conn.fetch("SELECT cfgname FROM pg_ts_config ORDER BY cfgname")
        raise UnknownConfig(
            f"no text-search configuration {config!r}; this database has: "
            + ", ".join(row[0] for row in names)
        )
    stored = await conn.fetchrow("SELECT config, document_version FROM search_settings")
    return bool(stored["config"] == config and stored["document_version"] == DOCUMENT_VERSION)


async def _ensure_index(conn: Connection, config: str, batch: int) -> bool:
    if await _is_current(conn, config):  # another process rebuilt it while this one waited
        return False
    log.info("rebuilding search documents (configuration %s)", config)
    async with conn.transaction():
        await conn.execute("UPDATE search_settings SET config = $1", config)
        await conn.execute(await conn.fetchval(text_search.REPLACE_CONFIG, config))
        await conn.execute(vocabulary.RESTEM)
    for kind in KINDS:
        last = 0
        while ids := [row[0] for row in await conn.fetch(_ALL_IDS[kind], last, batch)]:
            await refresh(conn, kind, ids)
            last = ids[-1]
    await conn.execute("UPDATE search_settings SET document_version = $1", DOCUMENT_VERSION)
    return True


# --- the query ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilter:
    """Narrows search hits; every field that is set must hold (AND). Category, topic and
    outlet apply to a deep dive through the story it analyses."""

    category: str | None = None
    topic: str | None = None
    outlet: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    kinds: tuple[str, ...] = KINDS
    prefix: str | None = None
    """A word (letters and digits) that matches every word it begins: search as you type."""


@dataclass(frozen=True)
class SearchCursor:
    as_of: datetime
    score: float
    kind: str
    id: int


@dataclass(frozen=True)
class Hit:
    kind: str  # "story" or "deep_dive"
    id: int
    score: float
    score_text: str
    """The score as PostgreSQL writes it (the digits a cursor carries)."""
    highlight: str
    """A snippet, HTML-escaped, with the matched words in <mark>."""


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    as_of: datetime


_HEADLINE_OPTIONS = (
    f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=35, MinWords=12, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True)
class Words:
    """The slots of a search's query and prefix in its statement."""

    query: str
    prefix: str


def _words_of(slots: Slots, query: str, search_filter: SearchFilter) -> Words:
    return Words(slots.add(query, "text"), slots.add(search_filter.prefix, "text"))


@dataclass(frozen=True)
class Arguments(Words):
    """The slots of a search's query and filter in its statement; None for a filter that is
    not set, which the statement then leaves out (rather than `$n IS NULL OR ...`: a
    condition under OR is tested row by row, where alone the planner may start from it)."""

    category: str | None
    topic: str | None
    outlet: str | None
    after: str | None
    before: str | None
    kinds: str


def arguments(slots: Slots, query: str, search_filter: SearchFilter) -> Arguments:
    f = search_filter

    def given(value: object, cast: str) -> str | None:
        return None if value is None else slots.add(value, cast)

    words = _words_of(slots, query, f)
    return Arguments(
        words.query,
        words.prefix,
        given(f.category, "text"),
        given(f.topic, "text"),
        given(f.outlet, "text"),
        given(f.published_after, "timestamptz"),
        given(f.published_before, "timestamptz"),
        slots.add(list(f.kinds), "text[]"),
    )


@dataclass(frozen=True)
class _Form:
    """One way to read a search's list filters; `gate` is the SQL condition that picks it."""

    gate: str = "TRUE"
    topic_by_id: bool = False
    """The topic's stories looked up by id rather than by the topic's condition."""
    outlet_by_id: bool = False
    """Deep dives looked up by the ids of the outlet's listed stories."""


def _story_filters(story: str, a: Arguments, form: _Form, *, outlet: bool = True) -> str:
    """The story filters that are set, in `form` (outlet=False: but the outlet's, which is
    read from its list)."""
    kept = a.outlet if outlet else None
    fields = (("category", a.category), ("topic", a.topic), ("outlet", kept))
    conditions = [
        story_condition(field, story, slot)
        for field, slot in fields
        if slot is not None and not (field == "topic" and form.topic_by_id)
    ]
    if form.topic_by_id and a.topic is not None:
        conditions.append(f"{story}.id = ANY(ARRAY({topic_stories(a.topic)}))")
    return " AND ".join(conditions or ["TRUE"])


SMALL_TOPIC = 5_000
"""A topic filter whose topic lists at most this many stories looks its stories up by id."""
SMALL_OUTLET = 30_000
"""An outlet filter whose outlet lists at most this many stories finds its deep dives by
its stories' ids."""


def _forms(scope: Scope, a: Arguments) -> list[_Form]:
    """How the statement reads its topic and outlet filters: branches of which the gates,
    uncorrelated conditions PostgreSQL tests once, keep exactly one. A topic's or outlet's
    id reaches the planner as a parameter of a subquery, so it plans each as an average
    one, and it prices a deep dive's match (a read of its whole document) as cheaply as a
    story's. At 1M stories that meant walking half a million stories to meet the few hundred
    of a small topic (2.4 s for a common word) and testing all 78,000 deep dives' documents
    for an outlet's (300 ms). Where the stored list size (db.listings) is small, the topic's
    stories and the outlet's deep dives are looked up by id; larger ones are left to the
    planner."""
    forms = [_Form()]
    if a.topic is not None:
        small = f"{listings.stored_size(topic_list(a.topic))} <= {SMALL_TOPIC}"
        forms = _split(forms, small, "topic_by_id")
    listed = _outlet_list(scope, a)
    if listed is not None:
        forms = _split(forms, f"{listings.stored_size(listed)} <= {SMALL_OUTLET}", "outlet_by_id")
    return forms


def _split(forms: list[_Form], small: str, by_id: str) -> list[_Form]:
    """Each form twice: where `small` holds, reading by id (the field `by_id` set), and
    where it does not, as it was."""
    return [
        *(replace(f, gate=f"{f.gate} AND {small}", **{by_id: True}) for f in forms),
        *(replace(f, gate=f"{f.gate} AND NOT {small}") for f in forms),
    ]


def _outlet_list(scope: Scope, a: Arguments) -> str | None:
    """The key of the outlet's stored list (db.listings), which a public search with an
    outlet filter reads instead of the filter's condition. Its condition finds an outlet's stories
    through every source the outlet published (tens of thousands at 1M stories: a quarter
    of a second before the search starts); its list holds them ordered by publish time, so a
    common word's newest matches are the list's first entries. A topic's or a category's
    condition is an index or a column already, and reading their lists measured slower
    (bench/discovery.py, common word + filter)."""
    if scope is not Scope.PUBLIC or a.outlet is None:
        return None
    return outlet_list(a.outlet)


def _time_filters(item: str, scope: Scope, a: Arguments) -> str:
    time = feed_time(item, scope)
    bounds = [f"{time} >= {a.after}" if a.after else "", f"{time} < {a.before}" if a.before else ""]
    return " AND ".join([bound for bound in bounds if bound] or ["TRUE"])


_STORY_ENTRY = "story_listings e JOIN story_search s ON s.id = e.story_id"


def _story_conditions(scope: Scope, a: Arguments, form: _Form) -> str:
    """SQL that holds for the matching stories `s` (an outlet's list, if any, aside)."""
    return f"""'story' = ANY({a.kinds}) AND {_match("s", a)}
          AND {visible("s", scope)}
          AND {_story_filters("s", a, form, outlet=_outlet_list(scope, a) is None)}
          AND {_time_filters("s", scope, a)}"""


def _story_matches(scope: Scope, a: Arguments, form: _Form) -> tuple[str, str]:
    """FROM and WHERE of the matching stories, and their order newest first. A story is
    read from story_search (migration 0017), what search needs of it in a narrow table:
    walking the newest stories reads ten to a page, their documents inline."""
    listed = _outlet_list(scope, a)
    matches = _story_conditions(scope, a, form)
    if listed is None:
        return f"FROM story_search s WHERE {matches}", f"{feed_time('s', scope)} DESC, s.id DESC"
    entries = listings.story_entries(listed)
    return (
        f"FROM {_STORY_ENTRY} WHERE {entries} AND {matches}",
        "e.published_at DESC, e.story_id DESC",
    )


def _story_filtered(a: Arguments) -> bool:
    """Whether the search has filters on the story (category, topic or outlet)."""
    return any(slot is not None for slot in (a.category, a.topic, a.outlet))


def _deep_dive_matches(scope: Scope, a: Arguments, form: _Form) -> tuple[str, str]:
    """FROM and WHERE of the matching deep dives (the document `d`), and the alias whose
    time and id order them newest first."""
    if not _story_filtered(a):
        # Without story filters nothing is read from the story: its visibility is on the deep
        # dive (migration 0021).
        return (
            f"""FROM deep_dives d
        WHERE 'deep_dive' = ANY({a.kinds}) AND {_match("d", a)}
          AND {visible_deep_dive("d", scope)}
          AND {_time_filters("d", scope, a)}""",
            "d",
        )
    listed = _outlet_list(scope, a)
    story_filters = _story_filters("ds", a, form, outlet=listed is None)
    if listed is not None:
        stories = f"SELECT e.story_id FROM story_listings e WHERE e.list = {listed}"
        story_filters += (
            f" AND k.story_id = ANY(ARRAY({stories}))"
            if form.outlet_by_id
            else f" AND ds.id IN ({stories})"
        )
    # The deep dive twice: `k`, what its feed index carries (time, id, status, story and
    # the story's time: migrations 0020, 0021), and `d`, its row with the document. Walking
    # `k` newest first, visibility and the story's filters (`ds`, story_search's primary
    # key, which carries its category) are tested before a document is read; a common word
    # within a category read 14,000 deep dives' rows (7.6 kB each) to keep 1,000. For a
    # rare word PostgreSQL still starts from the documents' index.
    return (
        f"""FROM deep_dives k JOIN story_search ds ON ds.id = k.story_id
        JOIN deep_dives d ON d.id = k.id
        WHERE 'deep_dive' = ANY({a.kinds}) AND {_match("d", a)}
          AND {visible_deep_dive("k", scope)}
          AND {story_filters} AND {_time_filters("k", scope, a)}""",
        "k",
    )


def freshness(as_of: str, time: str, half_life_days: float) -> str:
    """SQL (float8) for how fresh something from the SQL time `time` is at `as_of`: 1 up to
    then, halving every half_life_days. Search and recommendations rank with it."""
    # date_part, not extract: extract returns numeric, and numeric power and division cost
    # 6 us a row (scoring 3,000 stories: 25 ms, against 8 ms in float8 with date_part).
    # The exponent stops at 1,000 halvings (0.5^1000 is about 1e-301): past 1,074, power()
    # underflows and fails the statement, which a story 90 years older than `as_of` (at a
    # 30-day half-life) would do. Search adds it to a floor of 0.5, where anything below
    # 1e-300 is lost in float8, so no search score changes; recommendations add it to their
    # other terms, so only a candidate over 82 years old with every other term 0 can rank
    # differently (tied with older ones, which failed before).
    age_days = f"greatest(0, date_part('epoch', {as_of} - {time}) / 86400)"
    return f"power(0.5, least({age_days} / {half_life_days}, 1000))"


def _score(item: str, scope: Scope, as_of: str, a: Arguments) -> str:
    """SQL for the score of `item`, a row of _hits' newest matches (its document and time)."""
    return (
        f"ts_rank('{{0.1, 0.2, 0.4, 1.0}}', {item}.search_vector, {_tsquery(a)}, 1)::float8 "
        f"* ({FRESHNESS_FLOOR} + {1 - FRESHNESS_FLOOR} "
        f"* {freshness(as_of, f'{item}.time', FRESHNESS_HALF_LIFE_DAYS)})"
    )


def _tsquery(a: Words) -> str:
    """The query's tsquery, spelled out where it is used (not a CTE): when PostgreSQL plans
    with the query's value it folds this to a constant and estimates each term from the
    column's statistics, so a rare word and a common one get different plans."""
    words = tsquery(a.query)
    # One shape for both (the statement must not change with the value); planned with the
    # values, the CASE folds away.
    return (
        f"(CASE WHEN {a.prefix} IS NULL THEN {words} "
        f"ELSE {words} && to_tsquery({SEARCH_CONFIG}, {a.prefix} || ':*') END)"
    )


def _match(item: str, a: Arguments) -> str:
    """SQL that holds for the stories (or deep dives) `item` that match the query. With
    quoted phrases, the document's own index is left out (`IS TRUE` is not a condition an
    index answers): the phrases' pairs find the candidates (_phrase_pairs), and the words of a
    phrase, each common where the phrase is not, would only add a scan of their long posting
    lists to intersect (at 770,000 stories, a phrase of two common words: 3.0 s with that
    intersection, 0.3 s walking the newest stories and testing their pairs)."""
    pairs = _pairs(a)
    words = f"{item}.search_vector @@ {_tsquery(a)}"
    unindexed = f"CASE WHEN {pairs} IS NULL THEN {words} ELSE ({words}) IS TRUE END"
    # Of two conditions that cost alike, PostgreSQL tests them as written: the document,
    # inline, before the pairs, which are TOASTed (a deep dive's: 16 kB; a story's where its
    # row would pass 2 kB: at 1M stories, 833 MB of story_search's pairs lie in TOAST beside
    # its 1.4 GB table). Where PostgreSQL walks the newest items rather than reading the
    # pairs' index, the pairs (which hold wherever the phrase does) are then read only for
    # those that hold the phrase: a phrase that a tenth of deep dives hold read 9,500 of
    # their pairs from TOAST for 1,000 (95 ms); a pair that 3% of stories hold walked 61,000
    # stories and read all their pairs (94 ms of a 120 ms page).
    return f"({unindexed}) AND {_phrase_pairs(item, a)}"


def _phrase_pairs(item: str, a: Arguments) -> str:
    """SQL that holds for every story (or deep dive) `item` that can match the query's
    quoted phrases: it holds the phrases' adjacent word pairs (migrations 0012 and 0016).
    Found through the pairs' own index and estimated from their own statistics, a phrase is
    read from the few documents that hold it, not from every one that holds its words."""
    pairs = _pairs(a)
    return f"(CASE WHEN {pairs} IS NULL THEN TRUE ELSE {item}.phrase_vector @@ {pairs} END)"


def _pairs(a: Arguments) -> str:
    """SQL for the tsquery of the query's phrase pairs, NULL when it has none to require."""
    return f"phrase_pairs({SEARCH_CONFIG}, {a.query})"


def _gated(form: _Form, branch: str) -> str:
    """A branch of a statement that runs only where its form's gate holds. The gate stands
    outside the branch's LIMIT, where PostgreSQL cannot push it in: pushed down to the scan,
    a parallel plan started its workers (5-15 ms) before finding that the gate is false."""
    return f"(SELECT * FROM {branch} AS branch WHERE {form.gate})"


LIST_WALK = 10_000
"""An outlet's stories are first looked for among its newest this many (see _listed_stories)."""


def _listed_walk(scope: Scope, a: Arguments, form: _Form) -> str:
    """SQL for the newest matches among the newest LIST_WALK entries of the outlet's list."""
    listed = _outlet_list(scope, a)
    assert listed is not None
    return f"""SELECT s.id, s.search_vector, {feed_time("s", scope)} AS time
    FROM (SELECT e.story_id, e.published_at FROM story_listings e
          WHERE {listings.story_entries(listed)}
          ORDER BY e.published_at DESC, e.story_id DESC LIMIT {LIST_WALK}) AS e
    JOIN story_search s ON s.id = e.story_id
    WHERE {_story_conditions(scope, a, form)}
    ORDER BY e.published_at DESC, e.story_id DESC LIMIT {RANKED["story"]}"""


def _listed_stories(scope: Scope, a: Arguments, form: _Form, walk: str) -> str:
    """The newest matches of a search within an outlet's list, in two steps: the CTE `walk`
    (_listed_walk) tests the list's newest LIST_WALK entries, newest first, and they are
    kept when they hold RANKED matches or are the whole list; otherwise the matches are found
    as the planner sees fit. The outlet reaches the planner as a slug, so it plans for an
    average one: for a common word within a mid-size outlet it read the whole list and
    sorted it (140 ms at 1M stories for an outlet of 18,000), where its newest few thousand
    entries hold the matches (45 ms)."""
    listed = _outlet_list(scope, a)
    assert listed is not None
    whole = f"{listings.stored_size(listed)} <= {LIST_WALK}"
    found = f"(SELECT count(*) FROM {walk}) = {RANKED['story']}"
    kept = replace(form, gate=f"{form.gate} AND ({found} OR {whole})")
    sought = replace(form, gate=f"{form.gate} AND NOT ({found} OR {whole})")
    return f"{_gated(kept, walk)} UNION ALL {_gated(sought, _newest_stories(scope, a, form))}"


def _newest_stories(scope: Scope, a: Arguments, form: _Form) -> str:
    """SQL for the RANKED newest matching stories (id, document, time), as planned."""
    matches, newest_first = _story_matches(scope, a, form)
    return f"""(SELECT s.id, s.search_vector, {feed_time("s", scope)} AS time {matches}
        ORDER BY {newest_first} LIMIT {RANKED["story"]})"""


def _newest_deep_dives(scope: Scope, a: Arguments, form: _Form, as_of: str) -> str:
    """SQL for the RANKED newest matching deep dives (id, document, time), as planned;
    without story filters, span by span (_newest_by_span)."""
    matches, walked = _deep_dive_matches(scope, a, form)
    time = feed_time(walked, scope)
    select = f"SELECT d.id, d.search_vector, {time} AS time {matches}"
    order = f"ORDER BY {time} DESC, {walked}.id DESC"
    if _story_filtered(a):
        return f"({select} {order} LIMIT {RANKED['deep_dive']})"
    return _newest_by_span(select, time, order, as_of, RANKED["deep_dive"])


SPANS_DAYS = (1, 4, 16, 64, 256)
"""Without story filters, a search's newest matching deep dives are looked for among those
of the day before `as_of` first, then of the 3 days before that, and so on back to 256
days, then among all older ones (_newest_by_span)."""


def _newest_by_span(select: str, time: str, order: str, as_of: str, limit: int) -> str:
    """SQL for the first `limit` rows of `select` (a SELECT that ends in its WHERE) in
    `order` (newest first by `time`, then by id), read span by span: the rows of each span
    of SPANS_DAYS before `as_of`, newest span first, until there are enough.

    A deep dive's row holds its whole document: found through the words' index, every
    match was read to keep the newest 1,000 (at 1M stories, a word that 4% of deep dives
    hold: 3,200 rows on as many pages). Within a span, PostgreSQL can AND the words' index
    with the feed index's range of times and read only the span's matches, and the spans
    after enough are never started: an Append runs its branches in turn (none of these
    can run in parallel, as each has its LIMIT). The spans divide time and rows of one time
    fall in one span, so the rows are those of one ordered read. Stories are read in one
    piece: spans measured slower for them (two words p95 93 -> 102 ms, OR p50 19 -> 32 ms at
    1M stories), ANDing the range of a wide span of stories (255,000 of them: 12 ms) costing
    more than the reads it saves."""
    bounds = [f"{as_of} - interval '{days} days'" for days in SPANS_DAYS]
    spans = []
    for n in range(len(bounds) + 1):
        within = [f"{time} >= {bounds[n]}"] if n < len(bounds) else []
        within += [f"{time} < {bounds[n - 1]}"] if n > 0 else []
        spans.append(f"""(SELECT * FROM ({select} AND {" AND ".join(within)}
            {order} LIMIT {limit}) AS span)""")
    return f"(SELECT * FROM ({' UNION ALL '.join(spans)}) AS spans LIMIT {limit})"


HITS = "hits"
"""The name of the CTE of a search's ranked candidates (hits_sql), which its page reads and
its count may (count_sql)."""


def hits_sql(
    scope: Scope, slots: Slots, query: str, search_filter: SearchFilter, *, as_of: str
) -> str:
    """WITH members (no WITH) that define the CTE HITS: kind, id and score of each of the
    search's ranked candidates, the RANKED newest matches of each kind, ranked as of the SQL
    time `as_of`."""
    return _hits(scope, arguments(slots, query, search_filter), as_of)


def _hits(scope: Scope, a: Arguments, as_of: str) -> str:
    # Each kind ranks at most its RANKED newest matches (see the module docstring). The
    # newest carry their documents out, so scoring them reads no row twice; the score is
    # computed outside the LIMIT, where only the window's rows reach it. MATERIALIZED: a
    # later page's cursor condition on the score, pushed into the branches, would compute
    # every score twice (once to filter, once to return).
    walks: dict[str, str] = {}  # SQL -> CTE name: forms that differ for deep dives share one
    listed = _outlet_list(scope, a) is not None
    stories: list[str] = []
    dives: list[str] = []
    for form in _forms(scope, a):
        if listed:
            walk = walks.setdefault(_listed_walk(scope, a, form), f"walk{len(walks)}")
            stories.append(_listed_stories(scope, a, form, walk))
        else:
            stories.append(_gated(form, _newest_stories(scope, a, form)))
        dives.append(_gated(form, _newest_deep_dives(scope, a, form, as_of)))
    ctes = "".join(f"{name} AS MATERIALIZED ({sql}), " for sql, name in walks.items())
    return f"""{ctes}{HITS} AS MATERIALIZED (
    SELECT 'story' AS kind, s.id, {_score("s", scope, as_of, a)} AS score
    FROM ({" UNION ALL ".join(stories)}) AS s
    UNION ALL
    SELECT 'deep_dive', d.id, {_score("d", scope, as_of, a)}
    FROM ({" UNION ALL ".join(dives)}) AS d
)
"""


def _escaped(text: str) -> str:
    """SQL for ts_headline text HTML-escaped, its match marks turned into <mark> tags."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = f"replace({text}, '{char}', '{entity}')"
    return f"replace(replace({text}, '{MATCH_START}', '<mark>'), '{MATCH_END}', '</mark>')"


def _headline(query: str) -> str:
    """SQL for the snippet of the hit `page` for the tsquery `query`."""
    return f"""ts_headline({SEARCH_CONFIG}, CASE page.kind
    WHEN 'story' THEN (SELECT s.title || ' — ' || s.summary FROM stories s WHERE s.id = page.id)
    ELSE (SELECT d.title || ' — ' || d.dek || ' — ' || coalesce(string_agg(x.body, ' '
            ORDER BY x.position), '')
          FROM deep_dives d LEFT JOIN deep_dive_sections x ON x.deep_dive_id = d.id
          WHERE d.id = page.id GROUP BY d.id)
    END, {query}, '{_HEADLINE_OPTIONS}')"""


def page_sql(
    scope: Scope,
    slots: Slots,
    query: str,
    search_filter: SearchFilter,
    *,
    as_of: str,
    after: SearchCursor | None,
    limit: int,
    define_hits: bool = True,
) -> str:
    """SQL for up to `limit` hits (kind, id, score, score_text, highlight and `_n`, their
    order), best first, ranked as of the SQL time `as_of`, after the cursor. With
    define_hits=False, the statement around it defines the CTE HITS (hits_sql, same search
    and `as_of`), for the page's count to read too."""
    words: Words
    if define_hits:
        a = arguments(slots, query, search_filter)
        words, defined = a, f"WITH {_hits(scope, a, as_of)}"
    else:
        words, defined = _words_of(slots, query, search_filter), ""
    position = "TRUE"
    if after is not None:
        cursor = (
            slots.add(after.score, "float8"),
            slots.add(after.kind, "text"),
            slots.add(after.id, "bigint"),
        )
        position = f"(score, kind, id) < ({', '.join(cursor)})"
    order = "score DESC, kind DESC, id DESC"
    return f"""{defined}
SELECT page.kind, page.id, page.score, page.score::text AS score_text,
    {_escaped(_headline(_tsquery(words)))} AS highlight, page._n
FROM (
    SELECT *, row_number() OVER (ORDER BY {order}) AS _n FROM {HITS} WHERE {position}
    ORDER BY {order} LIMIT {slots.add(limit, "int")}
) AS page
ORDER BY page._n"""


def count_sql(
    scope: Scope, slots: Slots, query: str, search_filter: SearchFilter, *, from_hits: bool = False
) -> str:
    """SQL for how many stories and deep dives match, each kind counted up to
    COUNT_EXACT_UP_TO + 1: at most that number plus one, exact when no more than
    COUNT_EXACT_UP_TO (see total and is_exact). from_hits: the statement defines the CTE
    HITS for the same search (hits_sql), and a kind of which it ranks fewer than RANKED is
    counted there: those are all its matches (see _counted_or_ranked)."""
    a = arguments(slots, query, search_filter)
    enough = COUNT_EXACT_UP_TO + 1
    forms = _forms(scope, a)
    stories = []
    for form in forms:
        matches, newest_first = _story_matches(scope, a, form)
        # With a lower bound on publish time, the stories are counted newest first:
        # unordered, PostgreSQL may read the table from its start, where the oldest
        # stories lie, and skip half a million of them before the first that is recent
        # enough (2.4 s at 1M stories; a sequential scan starts where another one is, so
        # the same count took 0.2 s or 2.4 s). Within a category too: unordered, a common
        # word's count built a bitmap of its half a million matches to keep 10,001 (90-110
        # ms at 1M stories); ordered, PostgreSQL may walk the category's index newest first
        # and stop (40-50 ms), and for a rare word it still starts from the word.
        ordered = a.after is not None or a.category is not None
        order = f"ORDER BY {newest_first}" if ordered else ""
        stories.append(_gated(form, f"(SELECT 1 {matches} {order} LIMIT {enough})"))

    # Deep dives are counted only while the stories leave room under the bound (a word that
    # many stories hold needs no read of deep dives' long documents), and only as far as
    # that room, in any order: their documents' index (or a quoted phrase's pairs) finds
    # them, and reading stops once there are enough. Walking the newest deep dives instead
    # read those that do not match on the way (three words held by 43% of deep dives, 4,787
    # wanted: 12,000 deep dives read, 76 ms, against 4,787 found through the index, 35 ms),
    # and counting up to the whole bound where the room was smaller read up to 10,001 (at
    # 1M stories, a word 7,000 stories hold: 180 ms, now 56).
    branches = []
    for form in forms:
        matches, _ = _deep_dive_matches(scope, a, form)
        branches.append(_gated(form, f"(SELECT 1 {matches} LIMIT {enough} - x.n)"))
    story_count = f"(SELECT count(*) FROM ({' UNION ALL '.join(stories)}) AS s)"
    dive_count = f"(SELECT count(*) FROM ({' UNION ALL '.join(branches)}) AS y)"
    if from_hits:
        story_count = _counted_or_ranked("story", story_count, str(enough))
        dive_count = _counted_or_ranked("deep_dive", dive_count, f"{enough} - x.n")
    # OFFSET 0 keeps the stories' count a subquery of its own: pulled up, it would run once
    # for each mention of x.n.
    return f"""(SELECT x.n + CASE WHEN x.n >= {enough} THEN 0 ELSE {dive_count} END
    FROM (SELECT {story_count} AS n OFFSET 0) AS x)"""


def _counted_or_ranked(kind: str, count: str, room: str) -> str:
    """SQL for how many `kind` match, up to the SQL number `room`: `count` (which counts
    them so), unless HITS ranks fewer than RANKED of them, which are then all there are.
    A page's ranked candidates are the newest RANKED matches found under the same
    conditions as the count's, so a page and its count read the same matches once: a
    query matching a few hundred stories no longer finds them twice."""
    ranked = f"(SELECT count(*) FROM {HITS} WHERE kind = '{kind}')"
    return f"(CASE WHEN {ranked} < {RANKED[kind]} THEN least({ranked}, {room}) ELSE {count} END)"


def total(count: str) -> str:
    """SQL for totalCount from count_sql's value: exact, or COUNT_EXACT_UP_TO beyond it."""
    return f"least({count}, {COUNT_EXACT_UP_TO})"


def is_exact(count: str) -> str:
    """SQL that is true when count_sql's value is the exact number of matches."""
    return f"({count}) <= {COUNT_EXACT_UP_TO}"


def search_cursor(alias: str, as_of: str) -> str:
    """SQL text of the cursor of the hit row `alias`, ranked as of the SQL time `as_of`."""
    return json_sql.cursor(
        "search",
        json_sql.iso_time(as_of),
        f"{alias}.score_text",
        json_sql.string(f"{alias}.kind"),
        json_sql.number(f"{alias}.id"),
    )


async def search(
    pool: Pool,
    query: str,
    first: int,
    after: SearchCursor | None,
    search_filter: SearchFilter = SearchFilter(),
    scope: Scope = Scope.PUBLIC,
) -> SearchPage:
    """Up to first + 1 hits, best first, ranked as of the first page's time."""
    as_of = as_of_for(after)
    slots = Slots()
    at = slots.add(as_of, "timestamptz")
    sql = page_sql(scope, slots, query, search_filter, as_of=at, after=after, limit=first + 1)
    rows = await fetch_planned(pool, sql, *slots.values)
    hits = [
        Hit(row["kind"], row["id"], row["score"], row["score_text"], row["highlight"])
        for row in rows
    ]
    return SearchPage(hits, as_of)


def as_of_for(after: SearchCursor | None) -> datetime:
    """The time a search ranks as of: its first page's."""
    return after.as_of if after is not None else clock.now()


@dataclass(frozen=True)
class Count:
    total: int
    exact: bool


async def search_count(
    pool: Pool,
    query: str,
    search_filter: SearchFilter = SearchFilter(),
    scope: Scope = Scope.PUBLIC,
) -> Count:
    """How many stories and deep dives match: exact up to COUNT_EXACT_UP_TO."""
    slots = Slots()
    statement = count_statement(scope, slots, query, search_filter)
    row, *_ = await fetch_planned(pool, statement, *slots.values)
    return Count(row[0], row[1])


def count_statement(scope: Scope, slots: Slots, query: str, search_filter: SearchFilter) -> str:
    """The statement of search_count: one row of totalCount and whether it is exact."""
    sql = count_sql(scope, slots, query, search_filter)
    # OFFSET 0 keeps the count a subquery of its own: inlined, it would run once per column.
    return f"SELECT {total('n')}, {is_exact('n')} FROM (SELECT {sql} AS n OFFSET 0) AS c"
