"""The bias-aware figures of a story's coverage beyond its left/center/right spread."""

from __future__ import annotations

from datetime import datetime

import strawberry

from content.figures import BLINDSPOT_MIN_SHARE, BLINDSPOT_MIN_SOURCES
from db.stories import Story
from schema.enums import Blindspot, Factuality


@strawberry.type(description="How many of a story's sources come from outlets of one rating.")
class FactualityShare:
    rating: Factuality | None = strawberry.field(description="Null: outlets without a rating.")
    count: int = strawberry.field(description="Sources from such outlets.")
    percent: int = strawberry.field(
        description="Share of all the story's sources, 0-100; the shares sum to exactly 100."
    )


@strawberry.type(description="How many of a story's sources come from outlets in one country.")
class CountryShare:
    country: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 code; null: outlets whose country is not known."
    )
    count: int = strawberry.field(description="Sources from outlets in this country.")
    percent: int = strawberry.field(
        description="Share of all the story's sources, 0-100; the shares sum to exactly 100."
    )


@strawberry.type(
    description="When a side counts as a blindspot: it has no rated sources while the other "
    "side has at least minimumSources, which are at least minimumPercent of rated sources."
)
class BlindspotRule:
    minimum_sources: int = strawberry.field(description="Rated sources the other side needs.")
    minimum_percent: int = strawberry.field(
        description="The other side's share of rated sources, in percent."
    )


RULE = BlindspotRule(minimum_sources=BLINDSPOT_MIN_SOURCES, minimum_percent=BLINDSPOT_MIN_SHARE)


@strawberry.type(description="Who covers a story, and when they did.")
class StoryCoverage:
    factuality: list[FactualityShare] = strawberry.field(
        description="Sources by their outlet's factuality rating, largest group first."
    )
    countries: list[CountryShare] = strawberry.field(
        description="Sources by their outlet's country, largest group first."
    )
    blindspot: Blindspot | None = strawberry.field(
        description="The side that barely covers the story, by `blindspotRule`; else null."
    )
    blindspot_rule: BlindspotRule = strawberry.field(
        description="The thresholds `blindspot` was decided with."
    )
    earliest_source_at: datetime | None = strawberry.field(
        description="When the first source ran; null when no source has a time."
    )
    latest_source_at: datetime | None = strawberry.field(
        description="When the latest source ran; null when no source has a time."
    )


def story_coverage(story: Story) -> StoryCoverage:
    """A story's stored coverage figures (db.figures) as the API shows them."""
    return StoryCoverage(
        factuality=[
            FactualityShare(
                rating=Factuality(share["value"]) if share["value"] else None,
                count=share["count"],
                percent=share["percent"],
            )
            for share in story.factuality_shares
        ],
        countries=[
            CountryShare(country=share["value"], count=share["count"], percent=share["percent"])
            for share in story.country_shares
        ],
        blindspot=Blindspot(story.blindspot) if story.blindspot else None,
        blindspot_rule=RULE,
        earliest_source_at=story.earliest_source_at,
        latest_source_at=story.latest_source_at,
    )
