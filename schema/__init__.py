"""The GraphQL schema: types per family, loaders, limits and error codes."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from schema.admin import AdminMutation, AdminQuery
from schema.changes import ChangesQuery
from schema.errors import log_unexpected
from schema.limits import extension_factories
from schema.mutations import EditorialMutation
from schema.query import ContentQuery
from schema.recommendations import RecommendationMutation, RecommendationQuery
from schema.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class Query(ContentQuery, RecommendationQuery, ChangesQuery, AdminQuery, WebhookQuery):
    pass


@strawberry.type
class Mutation(EditorialMutation, RecommendationMutation, AdminMutation, WebhookMutation):
    pass


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Caller mistakes are answered, not logged; only our own failures are logged.
        log_unexpected(errors, getattr(execution_context, "operation_name", None))


def build_schema(*, max_depth: int = 10, max_tokens: int = 2_000, max_aliases: int = 15) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=extension_factories(
            max_depth=max_depth, max_tokens=max_tokens, max_aliases=max_aliases
        ),
    )
