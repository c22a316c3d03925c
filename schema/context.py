from __future__ import annotations

from dataclasses import dataclass

import strawberry

from db.pool import Pool
from schema.loaders import Loaders


@dataclass(frozen=True)
class Context:
    """What every resolver may use: the pool (never one connection: sibling fields resolve
    concurrently), this request's loaders, and where the frontends live."""

    pool: Pool
    loaders: Loaders
    public_url: str


Info = strawberry.Info[Context, None]
