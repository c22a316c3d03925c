from __future__ import annotations

import strawberry

from db.outlets import Outlet as OutletRecord
from schema.enums import Bias, Factuality
from schema.relay import Node


@strawberry.type(description="A news organisation whose articles are sources.")
class Outlet(Node):
    record: strawberry.Private[OutletRecord]

    @strawberry.field(description="URL-safe identifier, unique among outlets.")
    def slug(self) -> str:
        return self.record.slug

    @strawberry.field(description="Display name, e.g. 'Reuters'.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="The outlet's web domain, e.g. 'reuters.com'.")
    def domain(self) -> str:
        return self.record.domain

    @strawberry.field(description="ISO 3166-1 alpha-2 country code, if known.")
    def country(self) -> str | None:
        return self.record.country

    @strawberry.field(description="Political lean; null when the outlet is unrated.")
    def bias(self) -> Bias | None:
        return Bias(self.record.bias) if self.record.bias else None

    @strawberry.field(description="Factual reporting rating; null when unrated.")
    def factuality(self) -> Factuality | None:
        return Factuality(self.record.factuality) if self.record.factuality else None

    @strawberry.field(description="Who owns the outlet, if known.")
    def owner(self) -> str | None:
        return self.record.owner
