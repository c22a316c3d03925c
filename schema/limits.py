"""Query limits, built once so the parser and validation caches stay effective."""

from __future__ import annotations

from collections.abc import Callable

from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

ExtensionFactory = Callable[[], SchemaExtension]


def extension_factories(
    *, max_depth: int, max_tokens: int, max_aliases: int
) -> list[ExtensionFactory]:
    # The limiters create their validation rule classes in __init__; a fresh limiter per
    # request would make every request's rules new and the validation cache useless.
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ParserCache,
        lambda: AddValidationRules(rules),
        ValidationCache,
    ]
