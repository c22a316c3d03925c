"""The compiled engine's planner: a query operation becomes one SQL statement that returns the
whole `data` object as JSON text (DESIGN.md, "Two engines, one schema").

An operation is planned once per (document, operation name, the caller's role, the shape of
its variables: which are null, the keys of input objects, the values of booleans and enums,
which decide @include/@skip, `preview` and the like) and the plan is kept. Each field is
compiled by the spec on its Strawberry definition (schema.compiled); a field without one, a
mutation, or an argument that does not check out makes the operation run through Strawberry
instead, which then answers exactly as it always has.

A plan's SQL takes parameters: each field with arguments binds its own, by running the same
preparation (argument checks, filters, cursors) and the same db builder at every request that
it ran when the plan was made; when the SQL it builds differs from the plan's, the request
falls back rather than run a statement that does not fit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    is_abstract_type,
)
from graphql.execution import VariableValues, get_argument_values, get_variable_values
from graphql.execution.values import get_directive_values
from strawberry.types.arguments import convert_arguments

from content.access import Viewer
from db import json_sql
from db.json_sql import Slots
from db.visibility import Scope
from schema.cache_keys import key_column
from schema.compiled import COMPILED, Spec
from schema.limits import node_count

DEFINITION = "strawberry-definition"


@dataclass(frozen=True)
class Caller:
    """What a request brings that a plan's values may depend on."""

    viewer: Viewer
    public_url: str
    semantic: bool = False


class NotCompiled(Exception):
    """The operation, in this shape, has no compiled form (kept in the plan cache)."""


class Unprepared(Exception):
    """This request's arguments did not prepare: Strawberry runs it and says why."""


Prepare = Callable[[dict[str, Any], Caller], Any]
Build = Callable[[Slots, Any], str]


@dataclass(frozen=True)
class Occurrence:
    """A field where it stands in the document, to read its arguments at each request."""

    definition: GraphQLField
    node: FieldNode
    arguments: Any  # the Strawberry field's argument definitions

    def kwargs(self, engine: Engine, variables: VariableValues) -> dict[str, Any]:
        raw = get_argument_values(self.definition, self.node, variables)
        return convert_arguments(
            raw,
            self.arguments,
            scalar_registry=engine.schema.schema_converter.scalar_registry,
            config=engine.schema.config,
        )


@dataclass(frozen=True)
class Binder:
    """One field's parameters: slots from `start` on, built as when the plan was made."""

    start: int
    occurrence: Occurrence | None
    prepare: Prepare
    build: Build
    sql: str


@dataclass(frozen=True)
class Plan:
    sql: str
    binders: tuple[Binder, ...]
    compiled_fields: int
    operation: str | None
    """The operation's name, if it has one (for logs)."""
    planned_each_time: bool = False
    """The statement searches: PostgreSQL must plan it with each request's query (a generic
    plan estimates every word alike), so it runs as a statement of its own each time."""

    def values(self, engine: Engine, variables: VariableValues, caller: Caller) -> list[Any]:
        """The statement's parameters for this request; Unprepared when an argument does not
        check out or the SQL its builder makes is not the plan's."""
        values: list[Any] = []
        kwargs: dict[int, dict[str, Any]] = {}
        prepared: dict[tuple[int, int], Any] = {}
        for binder in self.binders:
            occurrence = binder.occurrence
            key = id(occurrence)
            if occurrence is not None and key not in kwargs:
                kwargs[key] = occurrence.kwargs(engine, variables)
            found = (key, id(binder.prepare))
            if found not in prepared:
                prepared[found] = _prepared(binder.prepare, kwargs.get(key, {}), caller)
            slots = Slots(start=binder.start)
            if binder.build(slots, prepared[found]) != binder.sql:
                raise Unprepared("the arguments change the statement; not the plan's shape")
            values += slots.values
        return values


@dataclass(frozen=True)
class Fallback:
    reason: str


def _prepared(prepare: Prepare, kwargs: dict[str, Any], caller: Caller) -> Any:
    try:
        return prepare(kwargs, caller)
    except Exception as error:  # the resolver would raise the same: Strawberry answers it
        raise Unprepared(f"{type(error).__name__}: {error}") from None


class Planning:
    """One plan being made: the statement's slots and binders, and unique row aliases."""

    def __init__(
        self,
        engine: Engine,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: VariableValues,
        caller: Caller,
        keys: bool,
    ) -> None:
        self.engine, self.operation, self.variables, self.caller = (
            engine,
            operation,
            variables,
            caller,
        )
        self.keys = keys
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.binders: list[Binder] = []
        self.next_slot = 0
        self.aliases = 0
        self.compiled_fields = 0
        self.inside: set[str] = set()
        self.planned_each_time = False

    def plan(self) -> Plan:
        query = self.engine.graphql_schema.query_type
        assert query is not None
        root = self.object(query, [self.operation.selection_set], None, Scope.PUBLIC, None)
        name = self.operation.name.value if self.operation.name else None
        return Plan(
            json_sql.statement(root),
            tuple(self.binders),
            self.compiled_fields,
            name,
            self.planned_each_time,
        )

    def new_alias(self) -> str:
        self.aliases += 1
        return f"t{self.aliases}"

    def bind(
        self, occurrence: Occurrence | None, prepare: Prepare, build: Build, value: Any
    ) -> str:
        slots = Slots(start=self.next_slot)
        sql = build(slots, value)
        self.binders.append(Binder(self.next_slot, occurrence, prepare, build, sql))
        self.next_slot += len(slots.values)
        return sql

    def object(
        self,
        type_: GraphQLObjectType,
        selections: Sequence[SelectionSetNode],
        alias: str | None,
        scope: Scope,
        mapping: dict[str, Spec] | None,
    ) -> str:
        """SQL for the JSON object of `selections` on an object of `type_` whose row is
        `alias`; a mapping gives the specs of an embedded object's fields by Python name."""
        members = []
        for key, nodes in self.collect(type_, selections).items():
            name = nodes[0].name.value
            if name == "__typename":
                members.append((key, json_sql.literal(type_.name)))
                continue
            definition = type_.fields.get(name)
            if definition is None:  # __schema or __type beside other fields: introspection
                raise NotCompiled(f"{name} is introspection")
            strawberry_field = definition.extensions.get(DEFINITION)
            spec = strawberry_field.metadata.get(COMPILED) if strawberry_field else None
            if mapping is not None and strawberry_field is not None:
                spec = mapping.get(strawberry_field.python_name, spec)
            if spec is None:
                raise NotCompiled(f"{type_.name}.{name} has no compiled form")
            at = Place(self, type_, definition, strawberry_field, nodes, alias, scope)
            members.append((key, spec.compile(at)))
            self.compiled_fields += 1
        built = json_sql.obj(members)
        if self.keys and alias and any(i.name == "Node" for i in type_.interfaces):
            prefix, column = key_column(type_.name)
            return json_sql.joined(json_sql.key_mark(prefix, f"{alias}.{column}"), built)
        return built

    def place(
        self,
        parent: GraphQLObjectType,
        name: str,
        nodes: list[FieldNode],
        alias: str | None,
        scope: Scope,
    ) -> Place:
        """The Place of the field `name` of `parent`, selected by `nodes`, on the row `alias`."""
        definition = parent.fields[name]
        return Place(self, parent, definition, _definition_of(definition), nodes, alias, scope)

    def collect(
        self, type_: GraphQLObjectType, selections: Sequence[SelectionSetNode]
    ) -> OrderedDict[str, list[FieldNode]]:
        """The fields selected on an object of `type_`, by response key, in order, through
        fragments and @include/@skip."""
        found: OrderedDict[str, list[FieldNode]] = OrderedDict()
        seen: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    found.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self._applies(condition.name.value, type_):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in seen or fragment is None:
                        continue
                    seen.add(name)
                    if self._applies(fragment.type_condition.name.value, type_):
                        visit(fragment.selection_set)

        for selection_set in selections:
            visit(selection_set)
        return found

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if"):
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and not include.get("if"))

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        if condition == type_.name:
            return True
        found = self.engine.graphql_schema.get_type(condition)
        return (
            found is not None
            and is_abstract_type(found)
            and self.engine.graphql_schema.is_sub_type(found, type_)
        )  # type: ignore[arg-type]


class Place:
    """A field being compiled: what its spec may ask of the planner."""

    def __init__(
        self,
        planning: Planning,
        parent: GraphQLObjectType,
        definition: GraphQLField,
        strawberry_field: Any,
        nodes: list[FieldNode],
        alias: str | None,
        scope: Scope,
    ) -> None:
        self.planning, self.parent, self.definition = planning, parent, definition
        self.strawberry_field, self.nodes = strawberry_field, nodes
        self.alias = alias or ""
        self.scope = scope
        self.occurrence = Occurrence(
            definition, nodes[0], strawberry_field.arguments if strawberry_field else []
        )

    @property
    def type_name(self) -> str:
        return self.parent.name

    @property
    def caller(self) -> Caller:
        return self.planning.caller

    def new_alias(self) -> str:
        return self.planning.new_alias()

    @property
    def return_type(self) -> Any:
        return _unwrapped(self.definition.type)

    def scalar(self, expr: str) -> str:
        """The JSON text of an SQL value, encoded as the field's GraphQL type says."""
        type_ = self.return_type
        if isinstance(type_, GraphQLEnumType):
            return json_sql.string(expr)
        if not isinstance(type_, GraphQLScalarType) or type_.name not in _SCALARS:
            raise NotCompiled(f"{self.type_name}.{self.definition} returns {type_}")
        return _SCALARS[type_.name](expr)

    def prepare(self, prepare: Prepare) -> Any:
        """The field's prepared arguments for the request being planned (Unprepared when
        they do not check out)."""
        kwargs = self.occurrence.kwargs(self.planning.engine, self.planning.variables)
        return _prepared(prepare, kwargs, self.caller)

    def bind(self, prepare: Prepare, build: Build) -> str:
        """SQL that `build` makes from the prepared arguments, its values bound at every
        request by preparing that request's arguments the same way."""
        return self.planning.bind(self.occurrence, prepare, build, self.prepare(prepare))

    def constant(self, value: Callable[[Caller], Any], cast: str) -> str:
        """A slot for a value the caller brings (the public URL, say)."""

        def prepare(kwargs: dict[str, Any], caller: Caller) -> Any:
            return value(caller)

        return self.planning.bind(
            None, prepare, lambda slots, found: slots.add(found, cast), value(self.caller)
        )

    def plan_each_time(self) -> None:
        """The statement must be planned with each request's values (see
        Plan.planned_each_time)."""
        self.planning.planned_each_time = True

    @contextmanager
    def outermost(self, kind: str, why: str) -> Iterator[None]:
        """Compiles what the block builds as the only `kind` on its path: one inside another
        raises NotCompiled(why). For fields whose compiled form runs once per parent row
        where Strawberry's loaders run once per level."""
        if kind in self.planning.inside:
            raise NotCompiled(f"{self.type_name}.{self.nodes[0].name.value}: {why}")
        self.planning.inside.add(kind)
        try:
            yield
        finally:
            self.planning.inside.discard(kind)

    def child(
        self,
        *,
        alias: str,
        scope: Scope | None = None,
        mapping: dict[str, Spec] | None = None,
        type_: GraphQLObjectType | None = None,
    ) -> str:
        """SQL for the JSON object of this field's selection on the row `alias`."""
        found = type_ or self.return_type
        if not isinstance(found, GraphQLObjectType):
            raise NotCompiled(f"{self.type_name}.{self.definition} returns an abstract type")
        selections = [node.selection_set for node in self.nodes if node.selection_set]
        return self.planning.object(found, selections, alias, scope or self.scope, mapping)

    def concrete_types(self) -> list[GraphQLObjectType]:
        """The object types an abstract field's value may be."""
        schema = self.planning.engine.graphql_schema
        return list(schema.get_possible_types(self.return_type))

    def selection(self) -> OrderedDict[str, list[FieldNode]]:
        """The fields selected on this field's (object) value, by response key."""
        type_ = self.return_type
        selections = [node.selection_set for node in self.nodes if node.selection_set]
        return self.planning.collect(type_, selections)

    def connection(
        self,
        *,
        window: Callable[[], str],
        cursor: Callable[[str], str],
        first: Callable[[], str],
        after_given: bool,
        defined: Callable[[], str] | None = None,
        count: Callable[[], str] | None = None,
        counted: dict[str, Callable[[str], str]] | None = None,
        scope: Scope | None = None,
        edge: dict[str, Callable[[Place, str], str]] | None = None,
        fields: dict[str, Callable[[Place], str]] | None = None,
    ) -> str:
        """SQL for a Relay connection (this field's value) over the rows `window()` builds:
        their record columns and `_n`, the page order, one row more than `first()` when
        another page follows. `cursor` makes a row's cursor text; `edge` compiles edge
        fields other than cursor and node; `counted` maps connection fields to SQL made from
        the value of `count()` (computed once for all of them; default: totalCount is it);
        `defined()`, built with the window and before `count()` (so a count can tell
        whether it was), gives WITH members (`name AS (...)`) that the window and the count
        may read; `fields` compiles other connection fields, each from
        its own Place.
        Each part is built (binding its parameters) only when the selection needs it: a
        statement may not take a parameter it never reads."""
        row = self.new_alias()
        selection = self.selection()
        rows = any(nodes[0].name.value in ("edges", "pageInfo") for nodes in selection.values())
        window_sql = json_sql.with_cursors(window(), cursor) if rows else ""
        shared = [defined()] if rows and defined is not None else []
        bound_first: list[str] = []

        def first_sql() -> str:  # bound only if read: hasPreviousPage alone does not
            if not bound_first:
                bound_first.append(first())
            return bound_first[0]

        members, aggregates = [], False
        counting: list[str] = []  # the count's WITH member, once read
        from_count = counted or {"totalCount": lambda n: n}
        counter = self.new_alias()

        def counted_value() -> str:
            if not counting and count is not None:
                counting.append(json_sql.shared_value(counter, count()))
            return json_sql.value_of(counter)

        for key, nodes in selection.items():
            name = nodes[0].name.value
            if name == "__typename":
                members.append((key, json_sql.literal(self.return_type.name)))
            elif name in from_count and count is not None:
                value = from_count[name](counted_value())
                kind = _unwrapped(self.return_type.fields[name].type).name
                encode = json_sql.boolean if kind == "Boolean" else json_sql.number
                members.append((key, encode(value)))
            elif fields and name in fields:
                place = self.planning.place(
                    self.return_type, name, nodes, None, scope or self.scope
                )
                members.append((key, fields[name](place)))
            elif name == "pageInfo":
                aggregates = True
                members.append((key, self._page_info(nodes, row, cursor, first_sql, after_given)))
            elif name == "edges":
                aggregates = True
                edges = self._edges(nodes, row, cursor, scope or self.scope, edge or {})
                order, on_page = json_sql.page_order(row), json_sql.on_page(row, first_sql())
                members.append((key, json_sql.array_agg(edges, order, on_page)))
            else:
                raise NotCompiled(f"{self.return_type.name}.{name} has no compiled form")
        built = json_sql.obj(members)
        shared_sql = json_sql.with_clause(shared + counting)
        if aggregates:
            return json_sql.over_rows(built, window_sql, row, shared_sql)
        return json_sql.alone(built, shared_sql)

    def _page_info(
        self,
        nodes: list[FieldNode],
        row: str,
        cursor: Callable[[str], str],
        first: Callable[[], str],
        after_given: bool,
    ) -> str:
        type_ = _unwrapped(self.return_type.fields["pageInfo"].type)
        members = []
        selections = [node.selection_set for node in nodes if node.selection_set]
        values: dict[str, Callable[[], str]] = {
            "hasNextPage": lambda: json_sql.more_than(first()),
            "hasPreviousPage": lambda: json_sql.literal(after_given),
            "startCursor": lambda: json_sql.page_end(row, first(), last=False),
            "endCursor": lambda: json_sql.page_end(row, first(), last=True),
            "__typename": lambda: json_sql.literal(type_.name),
        }
        for key, found in self.planning.collect(type_, selections).items():
            members.append((key, values[found[0].name.value]()))
        return json_sql.obj(members)

    def _edges(
        self,
        nodes: list[FieldNode],
        row: str,
        cursor: Callable[[str], str],
        scope: Scope,
        edge: dict[str, Callable[[Place, str], str]],
    ) -> str:
        type_ = _unwrapped(self.return_type.fields["edges"].type)
        selections = [node.selection_set for node in nodes if node.selection_set]
        members = []
        for key, found in self.planning.collect(type_, selections).items():
            name = found[0].name.value
            place = (
                self.planning.place(type_, name, found, row, scope)
                if name in type_.fields
                else None
            )
            if name == "__typename":
                members.append((key, json_sql.literal(type_.name)))
            elif name == "cursor":
                members.append((key, json_sql.string(f"{row}._cursor")))
            elif name in edge and place is not None:
                members.append((key, edge[name](place, row)))
            elif name == "node" and place is not None:
                members.append((key, place.child(alias=row, scope=scope)))
            else:
                raise NotCompiled(f"{type_.name}.{name} has no compiled form")
            self.planning.compiled_fields += 1
        return json_sql.obj(members)


def _unwrapped(type_: Any) -> Any:
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        type_ = type_.of_type
    return type_


def _definition_of(field: GraphQLField | None) -> Any:
    return field.extensions.get(DEFINITION) if field is not None else None


_SCALARS: dict[str, Callable[[str], str]] = {
    "String": json_sql.string,
    "ID": json_sql.string,
    "Int": json_sql.number,
    "Boolean": json_sql.boolean,
    "DateTime": json_sql.iso_time,
    "Date": json_sql.iso_date,
}


def shape(value: Any) -> Hashable:
    """What of a variable's value may change the statement: null or not, the keys of an
    input object, the value of a boolean or an enum."""
    if value is None or isinstance(value, (bool, Enum)):
        return value
    if isinstance(value, dict):
        return tuple(sorted((k, shape(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list",)
    return "value"


class Cache(OrderedDict[Hashable, Any]):
    """A bounded least-recently-used mapping."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def found(self, key: Hashable) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def keep(self, key: Hashable, value: Any) -> Any:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


@dataclass(frozen=True)
class Analysis:
    document: DocumentNode | None
    """None when the document does not parse or validate (Strawberry says why)."""

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        if self.document is None:
            return None
        found = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is None:
            return found[0] if len(found) == 1 else None
        return next((d for d in found if d.name and d.name.value == name), None)


class Engine:
    """Plans and caches; run() gives a request's statement and values, or why it falls back."""

    def __init__(self, schema: Any, analyse: Callable[[str], DocumentNode | None]) -> None:
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self.analyse = analyse
        self.documents = Cache(1_000)
        self.plans = Cache(2_000)
        self.fallbacks: dict[str, int] = {}

    def prepare(
        self,
        query: str,
        operation_name: str | None,
        raw: dict[str, Any] | None,
        caller: Caller,
        *,
        keys: bool = False,
    ) -> tuple[Plan, list[Any]] | Fallback:
        """The plan of the operation and this request's values for it, or why it falls back.
        keys: mark every object's cache key in the answer (for cacheable GETs)."""
        analysis = self._analysis(query)
        operation = analysis.operation(operation_name)
        if operation is None:
            return self._fallback("the document does not validate or names no such operation")
        if operation.operation is not OperationType.QUERY:
            return self._fallback(f"{operation.operation.value}s run through Strawberry")
        variables = self._variables(operation, raw)
        if variables is None:
            return self._fallback("the variables do not check out")
        key = (
            query,
            operation_name,
            caller.viewer.role,
            caller.semantic,
            keys,
            tuple(sorted((name, shape(v)) for name, v in variables.coerced.items())),
        )
        plan = self.plans.found(key)
        try:
            if plan is None:
                plan = self._plan(key, analysis, operation, variables, caller, keys)
            if isinstance(plan, Fallback):
                return self._fallback(plan.reason)
            return plan, plan.values(self, variables, caller)
        except Unprepared as unprepared:
            return self._fallback(str(unprepared))

    def node_count(
        self, query: str, operation_name: str | None, raw: dict[str, Any] | None
    ) -> int | None:
        """The most objects the operation can return (schema.limits.node_count), or None
        when it does not validate or its variables do not check out (Strawberry says why)."""
        analysis = self._analysis(query)
        operation = analysis.operation(operation_name)
        variables = self._variables(operation, raw) if operation else None
        if operation is None or variables is None or analysis.document is None:
            return None
        return node_count(self.graphql_schema, analysis.document, operation, variables.coerced)

    def _analysis(self, query: str) -> Analysis:
        """The query's parsed and validated document, kept by its text."""
        found = self.documents.found(query)
        if found is None:
            found = self.documents.keep(query, Analysis(self.analyse(query)))
        return found

    def _variables(
        self, operation: OperationDefinitionNode, raw: dict[str, Any] | None
    ) -> VariableValues | None:
        """The operation's variables coerced, or None when they do not check out."""
        found = get_variable_values(
            self.graphql_schema, operation.variable_definitions or (), raw or {}
        )
        return None if isinstance(found, list) else found

    def _plan(
        self,
        key: Hashable,
        analysis: Analysis,
        operation: OperationDefinitionNode,
        variables: VariableValues,
        caller: Caller,
        keys: bool,
    ) -> Plan | Fallback:
        assert analysis.document is not None
        try:
            plan: Plan | Fallback = Planning(
                self, analysis.document, operation, variables, caller, keys
            ).plan()
        except NotCompiled as reason:
            plan = Fallback(str(reason))
        return self.plans.keep(key, plan)

    def _fallback(self, reason: str) -> Fallback:
        self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1
        return Fallback(reason)
