"""Automatic persisted queries, as Apollo clients speak them: a request may carry
`extensions.persistedQuery = {version: 1, sha256Hash}` instead of its query. An unknown hash
is answered with PERSISTED_QUERY_NOT_FOUND; the client then sends query and hash together, and
the query is kept (once it ran without errors, so junk is never stored) for every process."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from dataclasses import replace

from graphql import strip_ignored_characters
from strawberry.http import GraphQLRequestData

from db.persisted_queries import persist_query, persisted_query
from db.pool import Pool
from schema.errors import BadUserInput, PersistedQueryNotFound

log = logging.getLogger("newsgraph.persisted")
_SHA256 = re.compile(r"[0-9a-f]{64}")
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # the message Apollo clients look for


class PersistedQueries:
    def __init__(self, remembered: int = 1_000, most_stored: int = 10_000) -> None:
        self.memory: OrderedDict[str, str] = OrderedDict()  # the most recently used, per process
        self.limit, self.most_stored = remembered, most_stored
        self.full_noted = False

    async def resolve(self, pool: Pool, data: GraphQLRequestData) -> GraphQLRequestData:
        """The request with its query filled in from the hash it names; raises
        PersistedQueryNotFound or BadUserInput."""
        sha256 = _requested(data)
        if sha256 is None:
            return data
        if data.query is not None:
            if hashlib.sha256(data.query.encode()).hexdigest() != sha256:
                raise BadUserInput(
                    "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query."
                )
            return data
        query = self.memory.get(sha256) or await persisted_query(pool, sha256)
        if query is None:
            raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
        self._remember(sha256, query)
        return replace(data, query=query)

    async def keep(self, pool: Pool, data: GraphQLRequestData) -> None:
        """Store the query of a request that ran cleanly, when it named a hash."""
        sha256 = _requested(data)
        if sha256 is None or data.query is None or sha256 in self.memory:
            return
        # Stored without comments and spare whitespace (which cost no tokens), so a stored
        # query is no larger than its tokens; bounded in number.
        stripped = strip_ignored_characters(data.query)
        if await persist_query(pool, sha256, stripped, self.most_stored):
            self._remember(sha256, stripped)
        elif not self.full_noted:
            self.full_noted = True
            log.warning(
                "%d persisted queries are stored, the most NEWSGRAPH_MAX_PERSISTED_QUERIES "
                "allows: new ones run but are not kept",
                self.most_stored,
            )

    def _remember(self, sha256: str, query: str) -> None:
        self.memory[sha256] = query
        self.memory.move_to_end(sha256)
        while len(self.memory) > self.limit:
            self.memory.popitem(last=False)


def _requested(data: GraphQLRequestData) -> str | None:
    persisted = (data.extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        persisted = {}
    sha256 = persisted.get("sha256Hash")
    if (
        persisted.get("version") != 1
        or not isinstance(sha256, str)
        or not _SHA256.fullmatch(sha256)
    ):
        raise BadUserInput(
            "`extensions.persistedQuery` must be {version: 1, sha256Hash: <64 lower-case hex "
            "digits>}."
        )
    return sha256
