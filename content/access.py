"""Who may do what: roles, the caller of a request, and signed preview tokens (no I/O)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import orjson


class Role(Enum):
    PUBLIC = "PUBLIC"
    PARTNER = "PARTNER"
    EDITOR = "EDITOR"
    ADMIN = "ADMIN"


class Permission(Enum):
    READ = "read published content"
    PREVIEW = "read drafts, scheduled and archived content"
    EDIT = "change content"
    ADMINISTER = "manage API keys and read the audit log"


_GRANTS = {
    Role.PUBLIC: frozenset({Permission.READ}),
    Role.PARTNER: frozenset({Permission.READ}),
    Role.EDITOR: frozenset({Permission.READ, Permission.PREVIEW, Permission.EDIT}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Viewer:
    """The caller of one request: an API key's holder, an anonymous reader, or the CLI."""

    role: Role
    name: str
    key_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]

    @property
    def caller_class(self) -> str:
        """What a shared answer may depend on of its caller: the role, and whether a key
        was given (never which key). Answers are shared within a class (the response cache,
        live renders)."""
        return f"{self.role.value}:{'anonymous' if self.key_id is None else 'keyed'}"


def may_read_full_text(viewer: Viewer, syndicatable: bool) -> bool:
    """Partners republish what they read: they get an item's full text only where its rights
    allow syndication. Everyone else reads it as the public site shows it."""
    return syndicatable or viewer.role is not Role.PARTNER


ANONYMOUS = Viewer(Role.PUBLIC, "anonymous")
COMMAND_LINE = Viewer(Role.ADMIN, "command line")


@dataclass(frozen=True)
class PreviewGrant:
    """What a preview token lets its bearer read: one item (by type name and id) until expiry."""

    type_name: str
    item_id: int
    expires_at: datetime


def sign_preview(secret: bytes, grant: PreviewGrant) -> str:
    payload = orjson.dumps(
        {"t": grant.type_name, "i": grant.item_id, "e": int(grant.expires_at.timestamp())}
    )
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_preview(secret: bytes, token: str, now: datetime) -> PreviewGrant | None:
    """The grant a token carries, or None if it is malformed, forged or expired."""
    try:
        encoded_payload, encoded_mac = token.split(".")
        payload = _unb64(encoded_payload)
        if not hmac.compare_digest(_unb64(encoded_mac), _mac(secret, payload)):
            return None
        fields = orjson.loads(payload)
        grant = PreviewGrant(
            str(fields["t"]), int(fields["i"]), datetime.fromtimestamp(int(fields["e"]), UTC)
        )
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None
    return grant if grant.expires_at > now else None


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"preview:" + payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
