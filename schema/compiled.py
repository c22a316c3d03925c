"""How a field compiles for the compiled engine (schema.planner), declared on the field itself
as metadata, so the Strawberry schema stays the one description of the API: a field without
a compiled form makes its operation run through Strawberry.

A spec turns one field of the object at hand (a row of its record's columns, `at.alias`) into
SQL that yields the field's JSON text. The SQL itself comes from db/ (db.json_sql and each
family's builders); specs only say which of it a field is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from db import json_sql
from db.visibility import Scope

if TYPE_CHECKING:
    from schema.planner import Place

COMPILED = "newsgraph.compiled"


class Spec(Protocol):
    def compile(self, at: Place) -> str:
        """SQL for the field's JSON text."""
        ...


def compiles(spec: Spec) -> dict[str, Spec]:
    """Field metadata: `@strawberry.field(..., metadata=compiles(Column("slug")))`."""
    return {COMPILED: spec}


@dataclass(frozen=True)
class Column:
    """A column of the object's record, encoded as the field's type says."""

    name: str

    def compile(self, at: Place) -> str:
        return at.scalar(f"{at.alias}.{self.name}")


@dataclass(frozen=True)
class Expression:
    """An SQL expression over the object's row (db/ builds it from the row's alias)."""

    sql: Callable[[str], str]

    def compile(self, at: Place) -> str:
        return at.scalar(self.sql(at.alias))


@dataclass(frozen=True)
class GlobalId:
    """Node.id: the type name and primary key, base64url-encoded (schema.relay)."""

    def compile(self, at: Place) -> str:
        return at.scalar(json_sql.global_id(at.type_name, at.alias))


@dataclass(frozen=True)
class Const:
    """A value fixed for every row (a rule's threshold, a null outside some lists)."""

    value: Any

    def compile(self, at: Place) -> str:
        return json_sql.literal(self.value)


@dataclass(frozen=True)
class PageUrl:
    """The public URL of a page: the configured base, a path and the row's slug."""

    path: str

    def compile(self, at: Place) -> str:
        base = at.constant(lambda caller: caller.public_url, "text")
        return at.scalar(json_sql.joined(base, json_sql.quote(self.path), f"{at.alias}.slug"))


@dataclass(frozen=True)
class Embedded:
    """An object made from the same row: each field of the child type by its Python name,
    null when the column `present` is null."""

    fields: dict[str, Spec]
    present: str | None = None

    def compile(self, at: Place) -> str:
        built = at.child(alias=at.alias, mapping=self.fields)
        if self.present is None:
            return built
        return json_sql.unless_null(f"{at.alias}.{self.present}", built)


@dataclass(frozen=True)
class JsonKey:
    """A key of the JSON object at hand (elements of a JsonList)."""

    key: str

    def compile(self, at: Place) -> str:
        return json_sql.key_of(at.alias, self.key)


@dataclass(frozen=True)
class JsonList:
    """A list of objects stored as a jsonb array column, each child field a key of them."""

    column: str
    fields: dict[str, Spec]

    def compile(self, at: Place) -> str:
        element = at.new_alias()
        built = at.child(alias=element, mapping=self.fields)
        source = json_sql.elements(f"{at.alias}.{self.column}", element)
        return json_sql.subquery(json_sql.array_agg(built, f"{element}.position"), source)


Relation = Callable[["Place"], str]
"""SQL selecting the record columns of the rows a field reaches from the row at hand."""


@dataclass(frozen=True)
class One:
    """An object reached from the row: the first row of `relation`, or null."""

    relation: Relation

    def compile(self, at: Place) -> str:
        child = at.new_alias()
        built = at.child(alias=child)
        return json_sql.nullable(json_sql.over(built, self.relation(at), child))


@dataclass(frozen=True)
class Many:
    """A list of objects reached from the row, in the order of the relation's column
    `order`."""

    relation: Relation
    order: str = "position"
    guard: Callable[[Place], str | None] = field(default=lambda at: None)
    """SQL that is true when the list may be read; else the field would raise for this
    caller (the operation then runs through Strawberry)."""

    def compile(self, at: Place) -> str:
        child = at.new_alias()
        built = at.child(alias=child)
        listed = json_sql.over(
            json_sql.array_agg(built, f"{child}.{self.order}"), self.relation(at), child
        )
        condition = self.guard(at)
        return listed if condition is None else json_sql.when(condition, listed, json_sql.SKIP)


PageRows = Callable[[str, Scope, Any, json_sql.Slots], str]
"""(row alias, scope, prepared arguments, slots) -> SQL."""


@dataclass(frozen=True)
class Page:
    """A Relay connection. `prepare` checks the field's arguments as its resolver does (its
    result has `first` and `after`); `window` builds the page's rows (record columns and
    `_n`, one more than `first` when another page follows); `count` the list's size; `scope`
    the scope of its nodes."""

    prepare: Callable[[dict[str, Any], Any], Any]
    window: PageRows
    cursor: Callable[[str], str]
    count: PageRows | None = None
    scope: Callable[[Any, Scope], Scope] = lambda request, scope: scope

    def compile(self, at: Place) -> str:
        request = at.prepare(self.prepare)
        alias, scope = at.alias, at.scope
        window, count = self.window, self.count

        def rows() -> str:
            return at.bind(self.prepare, lambda slots, found: window(alias, scope, found, slots))

        def first() -> str:
            return at.bind(self.prepare, lambda slots, found: slots.add(found.first, "int"))

        def counted() -> str:
            assert count is not None
            return at.bind(self.prepare, lambda slots, found: count(alias, scope, found, slots))

        return at.connection(
            window=rows,
            cursor=self.cursor,
            first=first,
            after_given=request.after is not None,
            count=counted if count is not None else None,
            scope=self.scope(request, scope),
        )


@dataclass(frozen=True)
class Plain:
    """`spec` where the field is asked for without arguments; with any, the field runs on
    the standard engine (the spec would ignore them)."""

    spec: Spec

    def compile(self, at: Place) -> str:
        if any(node.arguments for node in at.nodes):
            from schema.planner import NotCompiled

            raise NotCompiled(f"{at.type_name}.{at.nodes[0].name.value} with arguments")
        return self.spec.compile(at)


@dataclass(frozen=True)
class Unavailable:
    """A field with no compiled form where it stands (say, a value Python makes)."""

    why: str

    def compile(self, at: Place) -> str:
        from schema.planner import NotCompiled

        raise NotCompiled(f"{at.type_name}.{at.nodes[0].name.value}: {self.why}")


def column(name: str) -> dict[str, Spec]:
    """Field metadata: the field is its record's column `name`."""
    return compiles(Column(name))
