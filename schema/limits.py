"""Query limits, built once so the parser and validation caches stay effective."""

from __future__ import annotations

from collections.abc import Callable

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules
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

ExtensionFactory = Callable[[], SchemaExtension]


def limit_rules(*, max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    # The limiters create their validation rule classes in __init__; a fresh limiter per
    # request would make every request's rules new and the validation cache useless.
    return [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]


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
