"""The GraphQL schema: types per family, loaders, limits and error codes."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from schema.admin import AdminMutation, AdminQuery
from schema.changes import ChangesQuery
from schema.errors import log_unexpected
from schema.images import ImageMutation
from schema.limits import analyser, extension_factories, limit_rules
from schema.live import SharingExecutor, Subscription
from schema.mutations import EditorialMutation
from schema.planner import Engine
from schema.query import ContentQuery
from schema.recommendations import RecommendationMutation, RecommendationQuery
from schema.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class Query(ContentQuery, RecommendationQuery, ChangesQuery, AdminQuery, WebhookQuery):
    pass


@strawberry.type
class Mutation(
    EditorialMutation, RecommendationMutation, AdminMutation, WebhookMutation, ImageMutation
):
    pass


class Schema(strawberry.Schema):
    engine: Engine
    """The compiled engine over this schema (schema.planner)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Caller mistakes are answered, not logged; only our own failures are logged.
        log_unexpected(errors, getattr(execution_context, "operation_name", None))


def build_schema(*, max_depth: int = 10, max_tokens: int = 2_000, max_aliases: int = 15) -> Schema:
    rules = limit_rules(max_depth=max_depth, max_aliases=max_aliases)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharingExecutor,
        extensions=extension_factories(rules, max_tokens=max_tokens),
    )
    schema.engine = Engine(schema, analyser(schema._schema, rules, max_tokens=max_tokens))
    return schema
