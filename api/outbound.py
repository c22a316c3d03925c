"""Requests the service makes to addresses others gave it (webhook endpoints, image
originals): the host is resolved once and checked, and the connection goes to the address
that was checked, so a resolver cannot answer differently a moment later (DNS rebinding)."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit, urlunsplit

from content.webhooks import private_address


class Refused(Exception):
    """The address may not be called (it resolves into a private network, or not at all)."""


async def pinned(url: str, *, allow_private: bool) -> tuple[str, str, dict[str, str]]:
    """The URL to send to, with its host resolved once and checked (unless private addresses
    are allowed), and the Host header and the request extensions (the TLS server name) to
    send with it."""
    parts = urlsplit(url)
    host = str(parts.hostname)
    https = parts.scheme == "https"
    try:
        addresses = await resolve(host, parts.port or (443 if https else 80))
    except OSError as error:
        raise Refused(f"cannot resolve {host}: {error}") from None
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if not allow_private and any(map(private_address, addresses)):
        raise Refused(f"{host} resolves to a private address")
    target = parts._replace(netloc=_netloc(addresses[0], parts.port))
    sni = {"sni_hostname": host} if https else {}
    return urlunsplit(target), _netloc(host, parts.port), sni


def _netloc(host: str, port: int | None) -> str:
    """host[:port], an IPv6 address in brackets."""
    bracketed = f"[{host}]" if ":" in host else host
    return f"{bracketed}:{port}" if port else bracketed


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name (or address) stands for, as connections would use them."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))
