"""SQL for the configured text-search configuration, shared by search and the story filter."""

from __future__ import annotations

SEARCH_CONFIG = "search_config()"
"""The configuration search documents were built with: an IMMUTABLE function whose body is its
name (migration 0010), so the planner folds a query's tsquery and estimates its terms from
the column's statistics. db.search.ensure_index keeps it and search_settings in step."""

REPLACE_CONFIG = """SELECT format(
    'CREATE OR REPLACE FUNCTION search_config() RETURNS regconfig LANGUAGE sql IMMUTABLE '
    'PARALLEL SAFE AS %L', format('SELECT %L::regconfig', $1::text))"""
"""The statement that makes search_config() return the configuration $1 (quoted by format)."""


def tsquery(parameter: str) -> str:
    """SQL for the tsquery of a web-search-syntax query in parameter slot `parameter`."""
    return f"websearch_to_tsquery({SEARCH_CONFIG}, {parameter})"
