"""The query limits must not defeat Strawberry's parser and validation caches."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import DEFAULT_MAXSIZE, _get_validate_cache

from tests.conftest import data, operation


async def test_repeated_operations_hit_the_parser_and_validation_caches(client, demo) -> None:
    await data(client, operation("HomeFeed"), first=3)
    parsed = _get_parse_cache(DEFAULT_MAXSIZE).cache_info().hits
    validated = _get_validate_cache(DEFAULT_MAXSIZE).cache_info().hits
    for _ in range(3):
        await data(client, operation("HomeFeed"), first=3)
    assert _get_parse_cache(DEFAULT_MAXSIZE).cache_info().hits == parsed + 3
    assert _get_validate_cache(DEFAULT_MAXSIZE).cache_info().hits == validated + 3
