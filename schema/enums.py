from enum import Enum

import strawberry

from content.access import Role as Role  # re-exported: the GraphQL enum of roles
from content.changes import Event


@strawberry.enum(description="An outlet's political lean, as rated by Newsgraph's editors.")
class Bias(Enum):
    LEFT = "LEFT"
    LEAN_LEFT = "LEAN_LEFT"
    CENTER = "CENTER"
    LEAN_RIGHT = "LEAN_RIGHT"
    RIGHT = "RIGHT"


@strawberry.enum(description="How reliably an outlet reports facts.")
class Factuality(Enum):
    VERY_HIGH = "VERY_HIGH"
    HIGH = "HIGH"
    MIXED = "MIXED"
    LOW = "LOW"
    VERY_LOW = "VERY_LOW"


@strawberry.enum(description="What a topic is; categories are the site's sections.")
class TopicKind(Enum):
    CATEGORY = "CATEGORY"
    REGION = "REGION"
    COUNTRY = "COUNTRY"
    ORGANIZATION = "ORGANIZATION"
    PERSON = "PERSON"
    PROGRAM = "PROGRAM"
    TOPIC = "TOPIC"


@strawberry.enum(description="The overall tone of a story's news.")
class Sentiment(Enum):
    POSITIVE = "POSITIVE"
    NEUTRAL = "NEUTRAL"
    NEGATIVE = "NEGATIVE"


@strawberry.enum(description="Where a story's sentiment comes from.")
class SentimentSource(Enum):
    SET = strawberry.enum_value("SET", description="An editor set it.")
    INFERRED = strawberry.enum_value(
        "INFERRED",
        description="No editor set it; a lexicon classifier (VADER) read the title and summary.",
    )


@strawberry.enum(description="What kind of item a search hit is.")
class SearchType(Enum):
    STORY = strawberry.enum_value("STORY", description="A story.")
    DEEP_DIVE = strawberry.enum_value("DEEP_DIVE", description="A deep dive.")


@strawberry.enum(description="The side that barely covers a story.")
class Blindspot(Enum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"


@strawberry.enum(description="How a deep-dive section body is returned.")
class BodyFormat(Enum):
    HTML = strawberry.enum_value("HTML", description="Sanitised HTML, ready to insert.")
    MARKDOWN = strawberry.enum_value("MARKDOWN", description="The Markdown as written.")
    TEXT = strawberry.enum_value("TEXT", description="Plain text without markup.")


@strawberry.enum(
    description="Where an item is in its lifecycle. SCHEDULED is a published item whose "
    "publish time has not come yet; it becomes PUBLISHED at that time, without a job."
)
class ContentStatus(Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


# The roles are content.access's, exposed as they are rather than copied.
strawberry.enum(Role, description="What an API key may do.")

strawberry.enum(
    Event,
    name="ChangeEvent",
    description="What happened to an item, as readers see it. PUBLISHED: it became visible "
    "(a scheduled item at its publish time); UPDATED: a visible item changed; UNPUBLISHED, "
    "ARCHIVED, TAKEN_DOWN: it is no longer visible. Remove your copy on any of the last "
    "three; TAKEN_DOWN means it must go now (e.g. a legal request).",
)


@strawberry.enum(description="The kind of item a change is about.")
class ContentKind(Enum):
    STORY = "story"
    DEEP_DIVE = "deep_dive"
