"""Query limits, built once so the parser and validation caches stay effective."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
    specified_rules,
    value_from_ast,
    visit,
)
from graphql.language import Visitor
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from graphql.validation import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.schema import validate_document

from schema.errors import INTROSPECTION_MARKER

ExtensionFactory = Callable[[], SchemaExtension]


def limit_rules(*, max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    # The limiters create their validation rule classes in __init__; a fresh limiter per
    # request would make every request's rules new and the validation cache useless.
    return [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
        OneSchemaIntrospection,
    ]


class OneSchemaIntrospection(ASTValidationRule):
    """At most one `__schema` field in a document: the whole schema is the costliest answer
    there is (~2 s for fifteen aliased copies), and one copy tells a client everything."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.found = 0

    def enter_field(self, node: FieldNode, *_args: object) -> None:
        if node.name.value == "__schema":
            self.found += 1
            if self.found == 2:
                self.report_error(
                    GraphQLError(
                        f"2 or more `__schema` {INTROSPECTION_MARKER}: ask for the schema once "
                        "per operation.",
                        node,
                    )
                )


@functools.lru_cache(maxsize=1_024)
def introspects(query: str) -> bool:
    """Whether a document asks for `__schema` or `__type` (a `__typename` is no
    introspection: every client asks for it)."""
    if "__schema" not in query and "__type" not in query:
        return False
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return False  # refused as it is parsed
    found = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_args: object) -> None:
            nonlocal found
            found = found or node.name.value in ("__schema", "__type")

    visit(document, Finder())
    return found


def extension_factories(
    rules: list[type[ASTValidationRule]], *, max_tokens: int
) -> list[ExtensionFactory]:
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ParserCache,
        lambda: AddValidationRules(rules),
        ValidationCache,
    ]


def analyser(
    schema: GraphQLSchema, rules: list[type[ASTValidationRule]], *, max_tokens: int
) -> Callable[[str], DocumentNode | None]:
    """The document a query text parses to, if it also passes every validation rule and
    limit that Strawberry applies (the compiled engine then may run it); else None."""
    every_rule = (*specified_rules, *rules)

    def analyse(query: str) -> DocumentNode | None:
        try:
            document = parse(query, max_tokens=max_tokens)
        except GraphQLError:
            return None
        return None if validate_document(schema, document, every_rule) else document

    return analyse


# --- the node limit ------------------------------------------------------------------------

LIST_WITHOUT_FIRST = 10
"""How many items a list field without `first` (a story's topics, a deep dive's sections)
counts as: content bounds them, not the caller."""


MOST_COUNTED = 2**53 - 1
"""Counts stop here: nested `first`s multiply past 64 bits, and an answer reports the count
(extensions.cost) as a number JavaScript clients read exactly."""


def node_count(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
) -> int:
    """The most objects the operation can return: each object-valued field counts once per
    object its parent can be, a field with `first` (or a list of `first` items) as many
    times as `first` allows, a connection's `edges` and `nodes` as `first` of them, any
    other list as LIST_WITHOUT_FIRST. Fragments on several types all count (an upper
    bound). The document must have passed validation; `variables` are coerced."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    assert root is not None
    found = _count(schema, root, operation.selection_set, 1, fragments, variables)
    return min(found, MOST_COUNTED)


def _count(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode,
    multiplier: int,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    total = 0
    child: GraphQLNamedType | None
    sub: SelectionSetNode | None
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            definition = _field(schema, parent, selection.name.value)
            if definition is None or selection.selection_set is None:
                continue
            if definition in (SchemaMetaFieldDef, TypeMetaFieldDef):
                introspection = _Introspection(schema, fragments, variables)
                total += multiplier * introspection.field(parent, selection, [None])
                continue
            objects = multiplier * _fan_out(definition, selection, parent, variables)
            # A connection is one object per parent; `first` multiplies what it holds.
            connection = "first" in definition.args and not _is_list(definition)
            total += multiplier if connection else objects
            child, sub, times = get_named_type(definition.type), selection.selection_set, objects
        else:
            child, sub = _fragment(schema, parent, selection, fragments)
            times = multiplier
        if child is not None and sub is not None:
            total += _count(schema, child, sub, times, fragments, variables)
    return total


@dataclass(frozen=True)
class _Introspection:
    """Counts the objects introspection fields return as they are in this schema: a list
    of its types is as long as it is, not LIST_WITHOUT_FIRST."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]

    def field(self, parent: GraphQLNamedType, selection: FieldNode, sources: list[Any]) -> int:
        definition = _field(self.schema, parent, selection.name.value)
        if definition is None or definition.resolve is None or selection.selection_set is None:
            return 0
        arguments = {
            given.name.value: value_from_ast(
                given.value, definition.args[given.name.value].type, self.variables
            )
            for given in selection.arguments or ()
            if given.name.value in definition.args
        }
        info = SimpleNamespace(schema=self.schema)  # what introspection resolvers read of it
        found: list[Any] = []
        for source in sources:
            value = definition.resolve(source, info, **arguments)
            if value is not None:
                found.extend(value) if _is_list(definition) else found.append(value)
        child = get_named_type(definition.type)
        return len(found) + self.selections(child, selection.selection_set, found)

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, sources: list[Any]
    ) -> int:
        if not sources:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, sources)
                continue
            child, sub = _fragment(self.schema, parent, selection, self.fragments)
            if child is not None and sub is not None:
                total += self.selections(child, sub, sources)
        return total


def _fragment(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selection: Any,
    fragments: dict[str, FragmentDefinitionNode],
) -> tuple[GraphQLNamedType | None, SelectionSetNode | None]:
    """The type and selections of an inline fragment or a fragment spread."""
    if isinstance(selection, InlineFragmentNode):
        condition = selection.type_condition
        found = schema.get_type(condition.name.value) if condition else parent
        return found, selection.selection_set
    fragment = fragments.get(selection.name.value)
    if fragment is None:
        return None, None
    return schema.get_type(fragment.type_condition.name.value), fragment.selection_set


def _is_list(definition: GraphQLField) -> bool:
    return is_list_type(get_nullable_type(definition.type))


def _field(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if name == "__schema":
        return SchemaMetaFieldDef
    if name == "__type":
        return TypeMetaFieldDef
    fields = getattr(parent, "fields", None)
    return fields.get(name) if fields else None


def _fan_out(
    definition: GraphQLField,
    selection: FieldNode,
    parent: GraphQLNamedType,
    variables: dict[str, Any],
) -> int:
    argument = definition.args.get("first")
    if argument is not None:
        given = next((a.value for a in selection.arguments or () if a.name.value == "first"), None)
        value = (
            argument.default_value
            if given is None
            else value_from_ast(given, GraphQLInt, variables)
        )
        return value if isinstance(value, int) and value > 0 else 0
    if not _is_list(definition):
        return 1
    if parent.name.endswith("Connection") and selection.name.value in ("edges", "nodes"):
        return 1  # the connection's `first` counted them
    return LIST_WITHOUT_FIRST
