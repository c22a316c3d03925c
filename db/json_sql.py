"""SQL expressions that build JSON text, byte for byte as orjson writes it: no spaces, keys in
the order given, strings escaped as PostgreSQL's to_json escapes them (the same escapes as
orjson), times in Python's isoformat. The compiled engine assembles whole responses from them.

Every function takes and returns SQL expression text; none of them sees a value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

NULL = "'null'"
SKIP_MARK = "\x01"
SKIP = "E'\\x01'"
"""Marks a value the statement cannot produce (a field that would raise for this caller): the
caller runs the operation through the general engine instead. to_json escapes every control
character, so this byte can appear nowhere else in the output."""
KEY_START, KEY_END = "\x02", "\x03"
"""Around the cache key of an object the answer holds (key_mark); the caller takes them out."""


@dataclass
class Slots:
    """Numbers the parameters of one statement: each add() appends a value and returns its
    slot ("$n"). Builders that take slots serve one standalone statement and, numbered on
    from where another left off, a part of a bigger one."""

    start: int = 0
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        slot = f"${self.start + len(self.values)}"
        return f"{slot}::{cast}" if cast else slot


def literal(value: Any) -> str:
    """A constant JSON value (its text is fixed when the plan is made)."""
    return quote(orjson.dumps(value).decode())


def float_literal(value: float) -> str:
    """A double precision constant, exactly the Python float."""
    return f"{value!r}::float8"


def quote(text: str) -> str:
    """An SQL string literal of `text`."""
    return "'" + text.replace("'", "''") + "'"


def nullable(json: str) -> str:
    return f"coalesce({json}, {NULL})"


def string(expr: str) -> str:
    return nullable(f"to_json(({expr})::text)::text")


def number(expr: str) -> str:
    return nullable(f"(({expr})::bigint)::text")


def boolean(expr: str) -> str:
    return nullable(f"(({expr})::boolean)::text")


def json_value(expr: str) -> str:
    """A jsonb value's own text (strings escaped as to_json escapes them)."""
    return nullable(f"(({expr})::jsonb)::text")


def iso_time(expr: str) -> str:
    """A timestamptz as Python's datetime.isoformat() in UTC: microseconds only when there
    are any, and +00:00 (its characters need no escaping)."""
    text = f"to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return nullable(f"'\"' || replace({text}, '.000000', '') || '+00:00\"'")


def iso_date(expr: str) -> str:
    return string(f"to_char(({expr}), 'YYYY-MM-DD')")


def base64url(text_expr: str) -> str:
    """URL-safe base64 of the UTF-8 bytes of a text, without padding (as the relay ids and
    cursors of schema.relay are)."""
    encoded = f"encode(convert_to(({text_expr}), 'UTF8'), 'base64')"
    return f"rtrim(translate(replace({encoded}, E'\\n', ''), '+/', '-_'), '=')"


def obj(members: Sequence[tuple[str, str]]) -> str:
    """A JSON object of (key, JSON text expression) members, in order."""
    if not members:
        return "'{}'"
    parts = [
        f"{quote(('{' if n == 0 else ',') + orjson.dumps(key).decode() + ':')} || {value}"
        for n, (key, value) in enumerate(members)
    ]
    return "(" + " || ".join(parts) + " || '}')"


def array_agg(element: str, order: str, condition: str | None = None) -> str:
    """An aggregate: the JSON array of `element` over the rows of the query it is used in,
    in `order`; [] when there are none (or none meet `condition`)."""
    only = f" FILTER (WHERE {condition})" if condition else ""
    return f"coalesce('[' || string_agg({element}, ',' ORDER BY {order}){only} || ']', '[]')"


def subquery(select: str, source: str) -> str:
    """The value `select` computes over `source` (FROM and the rest), as a scalar subquery."""
    return f"(SELECT {select} FROM {source})"


def over(select: str, rows: str, alias: str) -> str:
    """The value `select` computes over the rows of the query `rows`, named `alias`."""
    return subquery(select, f"({rows}) AS {alias}")


def when(condition: str, then: str, otherwise: str) -> str:
    """`then` where the SQL `condition` holds, else `otherwise`."""
    return f"(CASE WHEN {condition} THEN {then} ELSE {otherwise} END)"


def key_mark(prefix: str, value: str) -> str:
    """SQL text that marks a cache key (`prefix` and the SQL `value`) in the answer."""
    return f"E'\\x02' || {quote(prefix)} || ({value})::text || E'\\x03'"


def unless_null(column: str, json: str) -> str:
    """`json`, or null when the SQL `column` is null (an optional embedded object)."""
    return f"(CASE WHEN {column} IS NULL THEN {NULL} ELSE {json} END)"


def guarded(condition: str, json: str) -> str:
    """`json` where `condition` holds; elsewhere the SKIP mark (see SKIP)."""
    return f"(CASE WHEN {condition} THEN {json} ELSE {SKIP} END)"


def elements(column: str, alias: str) -> str:
    """The elements of a jsonb array column as rows `alias`(element, position)."""
    return f"jsonb_array_elements({column}) WITH ORDINALITY AS {alias}(element, position)"


def key_of(alias: str, key: str) -> str:
    """The JSON text of a key of the element `alias` (see elements)."""
    return json_value(f"{alias}.element -> {quote(key)}")


def global_id(type_name: str, alias: str) -> str:
    """schema.relay.to_global_id of the row `alias`, as SQL text."""
    return base64url(f"{quote(type_name + ':')} || {alias}.id")


def joined(*parts: str) -> str:
    """SQL text of the parts one after another."""
    return " || ".join(f"({part})" for part in parts)


def cursor(kind: str, *parts: str) -> str:
    """schema.relay.encode_cursor(kind, ...) of JSON text parts, as SQL text."""
    array = f"{quote('[' + orjson.dumps(kind).decode())}"
    for part in parts:
        array += f" || ',' || {part}"
    return base64url(f"{array} || ']'")


# --- a page of rows ---------------------------------------------------------------------
# A window's rows carry `_n`, their place on the page (db.paging.window); a page holds up to
# `first` of them, and one more says that another page follows.


def on_page(row: str, first: str) -> str:
    return f"{row}._n <= {first}"


def page_order(row: str) -> str:
    return f"{row}._n"


def more_than(first: str) -> str:
    """JSON true when the window holds more rows than the page (another page follows)."""
    return boolean(f"count(*) > {first}")


def with_cursors(window: str, cursor: Callable[[str], str]) -> str:
    """The rows of `window` with their cursor text in `_cursor`, made once each."""
    return f"SELECT w.*, {cursor('w')} AS _cursor FROM ({window}) AS w"


def page_end(row: str, first: str, *, last: bool) -> str:
    """The JSON text of the first (or last) cursor on the page (rows with_cursors)."""
    direction = " DESC" if last else ""
    chosen = f"array_agg({row}._cursor ORDER BY {row}._n{direction})"
    return string(f"({chosen} FILTER (WHERE {on_page(row, first)}))[1]")


def over_rows(json: str, window: str, row: str, shared: str = "") -> str:
    """`json`, an aggregate over the rows of `window` as `row` (one value even for none);
    `shared` is a WITH clause (with_clause) that `json` or `window` reads."""
    return f"({shared}SELECT {json} FROM ({window}) AS {row} HAVING TRUE)"


def alone(json: str, shared: str = "") -> str:
    return f"({shared}SELECT {json})"


def with_clause(members: list[str]) -> str:
    """A WITH clause of these members (`name AS (...)`, each may read those before it), or
    nothing for none."""
    return f"WITH {', '.join(members)} " if members else ""


def shared_value(alias: str, value: str) -> str:
    """A WITH member computing the SQL `value` once as `alias`, for several fields to read
    (value_of) where each would otherwise run it again."""
    return f"{alias} AS (SELECT {value} AS v)"


def value_of(alias: str) -> str:
    """The value a shared_value clause computed."""
    return f"(SELECT v FROM {alias})"


def statement(json: str) -> str:
    """The statement that returns `json` as its one value."""
    return f"SELECT {json}"


def case(subject: str, branches: list[tuple[str, str]]) -> str:
    """The value of the branch whose SQL key equals `subject` (NULL when none does)."""
    arms = " ".join(f"WHEN {key} THEN {value}" for key, value in branches)
    return f"(CASE {subject} {arms} END)"
