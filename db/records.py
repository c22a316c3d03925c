"""Small helpers to turn asyncpg records into the frozen dataclasses each family returns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def columns(cls: type, alias: str, **expressions: str) -> str:
    """`alias.col1, alias.col2, ...` for every field of dataclass cls; a field named in
    `expressions` is computed by that SQL expression instead."""
    return ", ".join(
        f"{expressions[field.name]} AS {field.name}"
        if field.name in expressions
        else f"{alias}.{field.name}"
        for field in fields(cls)
    )


def build(cls: Callable[..., T], record: Any) -> T:
    """An instance of dataclass cls from the record's columns of the same names."""
    return cls(**{field.name: record[field.name] for field in fields(cls)})  # type: ignore[arg-type]


def in_key_order(keys: Sequence[K], items: Iterable[T], key: Callable[[T], K]) -> list[T | None]:
    by_key = {key(item): item for item in items}
    return [by_key.get(k) for k in keys]


def grouped(keys: Sequence[K], pairs: Iterable[tuple[K, T]]) -> list[list[T]]:
    groups: dict[K, list[T]] = defaultdict(list)
    for k, item in pairs:
        groups[k].append(item)
    return [groups.get(k, []) for k in keys]
