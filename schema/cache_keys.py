"""What a GraphQL response contains, as the cache keys (Surrogate-Key / Cache-Tag) change events
purge (content.changes): collected while the operation runs.

Every Node built for the response notes its own key; the root fields add the lists they read
from, so a publish purges a cached list that would now include the new item. A root field not
named here gets every list key: purging too much is safe, too little is not.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse

from content.changes import LISTS, OUTLETS, SOURCES, TOPICS, item_key, topic_key

_STORIES, _DEEP_DIVES = LISTS["story"], LISTS["deep_dive"]
_EVERY_LIST = [_STORIES, _DEEP_DIVES, OUTLETS, TOPICS, SOURCES]
_ROOT_KEYS = {
    "story": [_STORIES],
    "stories": [_STORIES],
    "blindspots": [_STORIES],
    "forYou": [_STORIES],
    "deepDive": [_DEEP_DIVES],
    "deepDives": [_DEEP_DIVES],
    "outlets": [OUTLETS],
    "__typename": [],
    "__schema": [],
    "__type": [],
}


@dataclass
class Collected:
    keys: dict[str, None] = field(default_factory=dict)
    """In the order first seen, without repeats."""
    personal: bool = False
    """The response shows something only its caller may see (a preview token's item)."""


_current: ContextVar[Collected | None] = ContextVar("newsgraph_cache_keys", default=None)


@contextlib.contextmanager
def collecting(into: Collected | None = None) -> Iterator[Collected]:
    """Collect the keys of everything built while the block runs (tasks it starts included),
    into a new Collected or, to go on with an earlier one, `into`."""
    collected = Collected() if into is None else into
    token = _current.set(collected)
    try:
        yield collected
    finally:
        _current.reset(token)


def note_node(type_name: str, record: Any) -> None:
    collected = _current.get()
    if collected is not None:
        collected.keys[node_key(type_name, record)] = None


def note_personal() -> None:
    collected = _current.get()
    if collected is not None:
        collected.personal = True


def node_key(type_name: str, record: Any) -> str:
    prefix, column = key_column(type_name)
    return f"{prefix}{getattr(record, column)}"


def key_column(type_name: str) -> tuple[str, str]:
    """A Node type's cache keys: a prefix and the record column that follows it."""
    if type_name == "Topic":
        return topic_key(""), "slug"  # topic pages are keyed by slug everywhere
    kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()
    return item_key(kind, 0).removesuffix("0"), "id"


def root_keys(query: str, operation_name: str | None) -> list[str]:
    """The list keys of the operation's root fields (every list when in doubt)."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return []
    keys: dict[str, None] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (not definition.name or definition.name.value != operation_name):
            continue
        for selection in definition.selection_set.selections:
            name = selection.name.value if isinstance(selection, FieldNode) else None
            keys |= dict.fromkeys(_ROOT_KEYS.get(name or "", _EVERY_LIST))
    return list(keys)
