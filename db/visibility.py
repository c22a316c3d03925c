"""The one SQL definition of what anonymous and PUBLIC/PARTNER callers may see (DESIGN.md)."""


def visible(alias: str) -> str:
    """Published, and its publish time has passed; `alias` names a stories or deep_dives row.

    Inlined as a constant fragment (not a parameter) so the planner can match the partial
    indexes on status = 'PUBLISHED'.
    """
    return f"({alias}.status = 'PUBLISHED' AND {alias}.published_at <= now())"


def visible_deep_dive(alias: str) -> str:
    """A deep dive is visible only while the story it analyses is visible too."""
    story = f"{alias}_story"
    return (
        f"({visible(alias)} AND EXISTS (SELECT 1 FROM stories {story} "
        f"WHERE {story}.id = {alias}.story_id AND {visible(story)}))"
    )
