"""Persisted documents. Open mode: automatic persisted queries as Apollo clients speak them
(`extensions.persistedQuery = {version: 1, sha256Hash}` instead of the query; an unknown hash
is answered PERSISTED_QUERY_NOT_FOUND, the client then sends query and hash together, and
the query is kept once it ran cleanly), bounded in count, bytes and per key. Trusted mode:
only the documents an operator registered run for callers (by hash, by `documentId`, or as
their full text); editors and admins may still send any document.

A request may also name a document as the GraphQL-over-HTTP persisted documents proposal
does: `documentId: "sha256:<hex>"`."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from dataclasses import replace

from graphql import strip_ignored_characters
from strawberry.http import GraphQLRequestData

from content.access import Permission, Viewer
from db.persisted_queries import Bounds, persist_query, persisted_query
from db.pool import Pool
from schema.errors import BadUserInput, DocumentNotTrusted, PersistedQueryNotFound

log = logging.getLogger("newsgraph.persisted")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOCUMENT_ID = re.compile(r"sha256:[0-9a-f]{64}")
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # the message Apollo clients look for
NOT_TRUSTED_MESSAGE = (
    "Only registered documents run here (NEWSGRAPH_DOCUMENTS=trusted): send the hash of one "
    "your client's manifest registered with `newsgraph documents add`."
)


class PersistedQueries:
    def __init__(self, bounds: Bounds, *, trusted: bool = False, remembered: int = 1_000) -> None:
        self.memory: OrderedDict[str, str] = OrderedDict()  # the most recently used, per process
        self.bounds, self.trusted, self.limit = bounds, trusted, remembered

    async def resolve(
        self, pool: Pool, data: GraphQLRequestData, viewer: Viewer
    ) -> GraphQLRequestData:
        """The request with its query filled in from the hash it names; raises
        PersistedQueryNotFound, DocumentNotTrusted or BadUserInput."""
        sha256 = _requested(data)
        checked = self.trusted and not viewer.can(Permission.EDIT)
        if data.query is not None:
            found = hashlib.sha256(data.query.encode()).hexdigest()
            if sha256 is not None and found != sha256:
                raise BadUserInput(
                    "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query."
                )
            if checked and await self._lookup(pool, found) is None:
                raise DocumentNotTrusted(NOT_TRUSTED_MESSAGE)
            return data
        if sha256 is None:
            return data
        query = await self._lookup(pool, sha256)
        if query is None:
            raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
        return replace(data, query=query)

    async def keep(self, pool: Pool, data: GraphQLRequestData, viewer: Viewer) -> None:
        """Store the query of a request that ran cleanly, when it named a hash (open mode)."""
        sha256 = _requested(data)
        if self.trusted or sha256 is None or data.query is None or sha256 in self.memory:
            return
        # Stored without comments and spare whitespace (which cost no tokens), so a stored
        # query is no larger than its tokens.
        stripped = strip_ignored_characters(data.query)
        if await persist_query(pool, sha256, stripped, viewer.key_id, self.bounds):
            self._remember(sha256, stripped)
        else:
            log.info("a persisted query of %d bytes is larger than all may keep", len(stripped))

    async def _lookup(self, pool: Pool, sha256: str) -> str | None:
        query = self.memory.get(sha256) or await persisted_query(pool, sha256, trusted=self.trusted)
        if query is not None:
            self._remember(sha256, query)
        return query

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


def with_document_id(data: GraphQLRequestData, document_id: object) -> GraphQLRequestData:
    """A request naming `documentId: "sha256:<hex>"`, as one naming that hash in
    `extensions.persistedQuery` (raises BadUserInput for any other id)."""
    if not isinstance(document_id, str) or not _DOCUMENT_ID.fullmatch(document_id):
        raise BadUserInput(
            '`documentId` must be "sha256:" followed by the 64 lower-case hex digits of the '
            "document's SHA-256."
        )
    persisted = {"version": 1, "sha256Hash": document_id.removeprefix("sha256:")}
    return replace(data, extensions={**(data.extensions or {}), "persistedQuery": persisted})
