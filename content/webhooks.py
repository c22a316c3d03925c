"""The rules of webhook deliveries: signatures, retry back-off and acceptable endpoints (no I/O).

Signature: `Newsgraph-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`<t>.` followed by the exact request body, keyed with the webhook's secret. Receivers
recompute it, compare in constant time and refuse a `t` older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import re
import secrets
import socket

from content.documents import http_url

SIGNATURE_HEADER = "Newsgraph-Signature"
SECRET_START = "whsec_"
MAX_URL_LENGTH = 2_000
RETRY_CAP_SECONDS = 6 * 3600.0


def new_secret() -> str:
    return SECRET_START + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Newsgraph-Signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): doubling from
    base_seconds up to six hours, spread ±20% so receivers coming back are not stampeded."""
    delay = min(RETRY_CAP_SECONDS, base_seconds * 2 ** (attempt - 1))
    return delay * random.uniform(0.8, 1.2)


def endpoint_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with `url` as a webhook endpoint, or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = http_url(url)
    except ValueError as error:
        return f"{error}, e.g. https://partner.example/hooks"
    if parts.fragment:
        return "must not have a #fragment"
    host = str(parts.hostname).lower().rstrip(".")  # `localhost.` is localhost
    if allow_private:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "must not point at this machine"
    address = numeric_address(host)
    if address is None and _NUMERIC.match(host):
        return "has a host of digits that is not a sound address"
    if address is not None and private_address(address):
        return "must not point at a private, loopback or link-local address"
    return None


_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$")


def numeric_address(host: str) -> str | None:
    """The IP address a host written as one stands for, in every spelling resolvers accept:
    IPv6, dotted quads, and the legacy IPv4 forms (`127.1`, `0x7f000001`, `2130706433`,
    `0177.0.0.1`, which inet_aton reads); None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _NUMERIC.match(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def private_address(address: str) -> bool:
    """Whether delivering to this IP address would reach inside our own network."""
    ip = ipaddress.ip_address(address.split("%")[0])  # without an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # judged as the IPv4 address it maps
    return not ip.is_global or ip.is_multicast
