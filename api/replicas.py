"""Read routing over HTTP (db.replicas): a read goes to a replica that has replayed what its
caller must see; a response to anything that may have written names the log position after
it in `X-Read-After`, and a client that sends that header back on its next requests reads
its own writes on every process."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import json_error
from db.replicas import Replicas, format_position, parse_position

log = logging.getLogger("newsgraph.replicas")

HEADER = "X-Read-After"
READS = ("GET", "HEAD")


class ReadRouting:
    """ASGI middleware inside the response cache (only what the cache misses is routed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, object] = scope.get("state") or {}
        replicas = routing(state)
        if scope["type"] != "http" or replicas is None:
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(HEADER)
        after = parse_position(given) if given is not None else 0
        if after is None:
            message = f"{HEADER} must be a log position as a response named it, e.g. 0/16B3748."
            await json_error(400, message, "BAD_REQUEST")(scope, receive, send)
            return
        state["read_after"] = after
        if scope["method"] in READS:
            state["pool"] = replicas.choose(after)
            await self.app(scope, receive, send)
            return

        async def naming_position(message: Message) -> None:
            # The handler has committed what it wrote before it starts its response.
            if message["type"] == "http.response.start" and not state.get("read_only"):
                try:
                    position = format_position(await replicas.wrote())
                except Exception as error:  # the answer stands; the caller reads the primary
                    log.warning("cannot read the primary's log position: %s", error)
                else:
                    MutableHeaders(scope=message).append(HEADER, position)
            await send(message)

        await self.app(scope, receive, naming_position)


def routing(state: dict[str, object]) -> Replicas | None:
    """The request's replicas, when there are any to route to."""
    replicas = state.get("replicas")
    return replicas if isinstance(replicas, Replicas) and replicas.active else None


def route_read(state: dict[str, object], replicas: Replicas) -> None:
    """Send the rest of this request (one that turned out to only read) to a replica."""
    after = state.get("read_after")
    state["pool"] = replicas.choose(after if isinstance(after, int) else 0)
    state["read_only"] = True
