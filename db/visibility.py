"""The one SQL definition of who may see which stories and deep dives (DESIGN.md).

Every statement that reads content is built once per Scope from these fragments, so the
predicate is constant SQL (never a parameter) and the planner can match the partial indexes
on status = 'PUBLISHED'.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

T = TypeVar("T")


class Scope(Enum):
    """What a read may reach."""

    PUBLIC = "public"
    """Published, and the publish time has passed: anonymous, PUBLIC and PARTNER callers, and
    editors who did not ask for a preview. A scheduled item is PUBLISHED with a future time, so
    it appears exactly when that time passes, without a job."""

    PREVIEW = "preview"
    """Every status: EDITOR and ADMIN callers who asked for it (`preview: true`)."""


def visible(alias: str, scope: Scope = Scope.PUBLIC) -> str:
    """The predicate on a stories or deep_dives row named `alias`."""
    if scope is Scope.PREVIEW:
        return "TRUE"
    return f"({alias}.status = 'PUBLISHED' AND {alias}.published_at <= now())"


def visible_deep_dive(alias: str, scope: Scope = Scope.PUBLIC) -> str:
    """A deep dive is visible only while the story it analyses is visible too. The story's
    publish time, while it is PUBLISHED, is kept on the deep dive (story_published_at, NULL
    otherwise: migration 0021), so the test reads no other row."""
    if scope is Scope.PREVIEW:
        return "TRUE"
    return f"({visible(alias)} AND {alias}.story_published_at <= now())"


def visible_source(alias: str, scope: Scope = Scope.PUBLIC) -> str:
    """A source is visible while at least one visible story cites it: an article attached
    only to drafts (or to nothing yet) stays out of sight like the drafts themselves."""
    if scope is Scope.PREVIEW:
        return "TRUE"
    return (
        f"EXISTS (SELECT 1 FROM story_sources {alias}_ss JOIN stories {alias}_story "
        f"ON {alias}_story.id = {alias}_ss.story_id "
        f"WHERE {alias}_ss.source_id = {alias}.id AND {visible(alias + '_story')})"
    )


def per_scope(build: Callable[[Scope], T]) -> dict[Scope, T]:
    """A statement (or anything else) built once for each scope."""
    return {scope: build(scope) for scope in Scope}


def feed_time(alias: str, scope: Scope = Scope.PUBLIC) -> str:
    """The time lists sort by, newest first. Drafts have no publish time yet; a preview
    lists them by when they were created."""
    if scope is Scope.PREVIEW:
        return f"COALESCE({alias}.published_at, {alias}.created_at)"
    return f"{alias}.published_at"


def lifecycle_status(alias: str) -> str:
    """The status callers see: a PUBLISHED row whose time has not come is SCHEDULED."""
    return (
        f"(CASE WHEN {alias}.status = 'PUBLISHED' AND {alias}.published_at > now() "
        f"THEN 'SCHEDULED' ELSE {alias}.status END)"
    )
