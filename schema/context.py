from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry

from content.access import Viewer
from db.pool import Pool
from schema.loaders import Loaders

if TYPE_CHECKING:
    from db.rate_limits import RateLimiter
    from schema.live import ChangeHub


@dataclass
class Context:
    """What every resolver may use: the pool (never one connection: sibling fields resolve
    concurrently), this request's loaders, where the frontends live, who is asking, and the
    secret that signs preview tokens. Resolvers only read it; a WebSocket's context is the
    one written to, once, when its `connection_init` names a key (api.graphql_view)."""

    pool: Pool
    loaders: Loaders
    public_url: str
    viewer: Viewer
    preview_secret: bytes
    default_key_rate: int = 600
    publisher_name: str = "Newsgraph"
    """Who publishes the content, as JSON-LD, feeds and news sitemaps name it."""
    language: str = "en"
    """BCP 47 language of the content."""
    webhook_allow_private: bool = False
    """Whether webhooks may point at loopback and private networks (development, tests)."""
    semantic: bool = False
    """Whether recommendations blend in embedding similarity (pgvector and vectors present)."""
    live: ChangeHub | None = None
    """The process's schema.live.ChangeHub, for subscriptions (None where there is none)."""
    connection_params: dict[str, Any] | None = None
    """A WebSocket's `connection_init` payload (Strawberry sets it)."""
    rate_limiter: RateLimiter | None = None
    """The process's db.rate_limits.RateLimiter (a WebSocket's key is checked with it)."""
    image_base: str = ""
    """The service's address, before the /images/… of a rendition (api.addresses)."""
    image_widths: tuple[int, ...] = (320, 640, 960, 1280, 1920)
    """The widths renditions are made at (NEWSGRAPH_IMAGE_WIDTHS)."""


Info = strawberry.Info[Context, None]
