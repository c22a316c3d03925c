from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from db.outlets import Outlet as OutletRecord
from schema.compiled import column, compiles
from schema.context import Info
from schema.enums import Bias, Factuality
from schema.relay import Connection, Node, owned_stories_page

if TYPE_CHECKING:
    from schema.stories import Story

StoryRef = Annotated["Story", strawberry.lazy("schema.stories")]


@strawberry.type(description="A news organisation whose articles are sources.")
class Outlet(Node):
    record: strawberry.Private[OutletRecord]

    @strawberry.field(
        description="URL-safe identifier, unique among outlets.", metadata=column("slug")
    )
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Display name, e.g. 'Reuters'.", metadata=column("name"))
    def name(self) -> str:
        return self.record.name

    @strawberry.field(
        description="The outlet's web domain, e.g. 'reuters.com'.", metadata=column("domain")
    )
    def domain(self) -> str:
        return self.record.domain

    @strawberry.field(
        description="ISO 3166-1 alpha-2 country code, if known.", metadata=column("country")
    )
    def country(self) -> str | None:
        return self.record.country

    @strawberry.field(
        description="Political lean; null when the outlet is unrated.", metadata=column("bias")
    )
    def bias(self) -> Bias | None:
        return Bias(self.record.bias) if self.record.bias else None

    @strawberry.field(
        description="Factual reporting rating; null when unrated.", metadata=column("factuality")
    )
    def factuality(self) -> Factuality | None:
        return Factuality(self.record.factuality) if self.record.factuality else None

    @strawberry.field(description="Who owns the outlet, if known.", metadata=column("owner"))
    def owner(self) -> str | None:
        return self.record.owner

    @strawberry.field(
        description="Why the outlet has its bias and factuality ratings: the method or "
        "sources behind them; null when not recorded.",
        metadata=column("rating_basis"),
    )
    def rating_basis(self) -> str | None:
        return self.record.rating_basis

    @strawberry.field(
        description="The date the ratings were last set; null when not recorded.",
        metadata=column("rated_on"),
    )
    def rated_on(self) -> date | None:
        return self.record.rated_on

    @strawberry.field(
        description="Published stories with a source from this outlet, newest first.",
        metadata=compiles(owned_stories_page("outlet")),
    )
    async def stories(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[StoryRef]:
        from schema.stories import owned_stories

        loaders = info.context.loaders
        return await owned_stories(
            self.record.id,
            first,
            after,
            loaders.story_page_by_outlet[self.scope],
            loaders.story_count_by_outlet[self.scope],
            self.scope,
        )
