"""Request body size limit, as pure ASGI middleware (it must see chunked bodies too)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import json_error


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over max_bytes (413), except on the paths that bound their own (image
    uploads, up to NEWSGRAPH_IMAGE_MAX_BYTES)."""

    def __init__(self, app: ASGIApp, max_bytes: int, own_bounds: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_bounds = own_bounds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.own_bounds:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body exceeds {self.max_bytes} bytes."
        response = json_error(413, message, "PAYLOAD_TOO_LARGE")
        await response(scope, receive, send)
