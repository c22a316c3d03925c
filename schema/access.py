"""Permission checks and visibility scopes for resolvers (the rules live in content.access)."""

from __future__ import annotations

from datetime import UTC, datetime

from content.access import Permission, PreviewGrant, Viewer, read_preview
from db.audit import Actor
from db.visibility import Scope
from schema.cache_keys import note_personal
from schema.context import Info
from schema.errors import Forbidden, Unauthenticated

_WHO = {
    Permission.READ: "any key",
    Permission.PREVIEW: "an EDITOR or ADMIN key",
    Permission.EDIT: "an EDITOR or ADMIN key",
    Permission.ADMINISTER: "an ADMIN key",
}


def require(info: Info, permission: Permission) -> None:
    """Raise FORBIDDEN unless the caller may do this."""
    permit(info.context.viewer, permission)


def permit(viewer: Viewer, permission: Permission) -> None:
    """Raise FORBIDDEN unless this viewer may do this."""
    if not viewer.can(permission):
        raise Forbidden(
            f"Your key ({viewer.role.value}) may not {permission.value}; that needs "
            f"{_WHO[permission]}.",
            needs=_WHO[permission],
        )


def scope_for(info: Info, preview: bool) -> Scope:
    """PREVIEW when an editor asked for it; asking without the role is FORBIDDEN."""
    return scope_of(info.context.viewer, preview)


def scope_of(viewer: Viewer, preview: bool) -> Scope:
    if not preview:
        return Scope.PUBLIC
    permit(viewer, Permission.PREVIEW)
    return Scope.PREVIEW


def preview_grant(info: Info, token: str | None) -> PreviewGrant | None:
    """The grant in a preview token, or None without one; a bad or expired token is
    UNAUTHENTICATED rather than silently ignored."""
    if token is None:
        return None
    grant = read_preview(info.context.preview_secret, token, datetime.now(UTC))
    if grant is None:
        raise Unauthenticated(
            "`previewToken` is not valid or has expired; ask an editor for a new one.",
            field="previewToken",
        )
    note_personal()  # what the token shows is for its holder, never for shared caches
    return grant


def actor(info: Info) -> Actor:
    """Who the audit log names for this request's writes."""
    viewer = info.context.viewer
    return Actor(viewer.name, viewer.key_id)
