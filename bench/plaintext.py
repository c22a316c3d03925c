"""A bare Starlette endpoint that answers "Hello, world!" as plain text: the ceiling an ASGI
app served by the same uvicorn reaches on this machine (bench/cache.py)."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, world!")


app = Starlette(routes=[Route("/plaintext", hello)])
