"""Trusted documents from a client's build: the manifests that `newsgraph documents add`
reads, each document checked against the schema before any is registered.

Read: `.graphql`/`.gql` files (one document each); a JSON object of `{hash: document}` (what
relay-compiler's `persistConfig` and graphql-codegen's persisted documents write); Apollo's
persisted query manifest (`{"format": "apollo-persisted-query-manifest", "operations":
[{id, name, body}]}`). Hashes are SHA-256 of the document's text, hex, as APQ's."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(Exception):
    """What is wrong with a manifest, naming the file and the document."""


@dataclass(frozen=True)
class TrustedDocument:
    sha256: str
    body: str
    name: str | None


def read_manifest(path: Path, schema: GraphQLSchema) -> list[TrustedDocument]:
    """The documents a manifest holds, each valid against `schema`; raises ManifestError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot be read ({error})") from None
    if path.suffix in (".graphql", ".gql"):
        entries: list[tuple[str | None, str]] = [(None, text)]
    else:
        entries = _json_entries(path, text)
    return [_checked(path, given, body, schema) for given, body in entries]


def _json_entries(path: Path, text: str) -> list[tuple[str | None, str]]:
    try:
        found: Any = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ManifestError(f"{path}: not JSON ({error}); expected a manifest") from None
    if isinstance(found, dict) and found.get("format") == "apollo-persisted-query-manifest":
        operations = found.get("operations")
        if not isinstance(operations, list) or not all(
            isinstance(o, dict) and isinstance(o.get("body"), str) for o in operations
        ):
            raise ManifestError(f"{path}: `operations` must be a list of {{id, name, body}}")
        return [(o.get("id"), o["body"]) for o in operations]
    if isinstance(found, dict) and all(isinstance(v, str) for v in found.values()):
        return list(found.items())
    raise ManifestError(
        f"{path}: expected {{hash: document}} (Relay, graphql-codegen) or an Apollo persisted "
        "query manifest"
    )


def _checked(path: Path, given: str | None, body: str, schema: GraphQLSchema) -> TrustedDocument:
    sha256 = hashlib.sha256(body.encode()).hexdigest()
    if given is not None and given.removeprefix("sha256:") != sha256:
        shown = given if len(given) <= 70 else given[:67] + "..."
        raise ManifestError(
            f"{path}: {shown!r} is not the SHA-256 of its document ({sha256}): have the client "
            'hash documents with SHA-256 (Relay: persistConfig.algorithm "SHA256")'
        )
    try:
        document = parse(body)
    except GraphQLError as error:
        raise ManifestError(f"{path}: document {sha256[:12]} does not parse: {error}") from None
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    ]
    errors = validate(schema, document)
    if errors:
        raise ManifestError(
            f"{path}: {', '.join(names) or sha256[:12]} is not valid here: {errors[0].message}"
        )
    return TrustedDocument(sha256, body, ", ".join(names) or None)
