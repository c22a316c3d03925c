"""SQL for the configured text-search configuration, shared by search and the story filter."""

from __future__ import annotations

SEARCH_CONFIG = "(SELECT config::regconfig FROM search_settings)"
"""The configuration search documents were built with (db.search.ensure_index keeps it)."""


def tsquery(parameter: str) -> str:
    """SQL for the tsquery of a web-search-syntax query in parameter slot `parameter`."""
    return f"websearch_to_tsquery({SEARCH_CONFIG}, {parameter})"
