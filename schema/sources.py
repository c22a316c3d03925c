from __future__ import annotations

from datetime import datetime

import strawberry

from db import outlets as db_outlets
from db.sources import Source as SourceRecord
from schema.common import Image, image, image_of
from schema.compiled import One, column, compiles
from schema.context import Info
from schema.outlets import Outlet
from schema.relay import Node


@strawberry.type(description="An original article at an outlet that a story is built from.")
class Source(Node):
    record: strawberry.Private[SourceRecord]

    @strawberry.field(description="The article's headline.", metadata=column("title"))
    def title(self) -> str:
        return self.record.title

    @strawberry.field(
        description="Canonical URL of the article at its outlet.", metadata=column("url")
    )
    def url(self) -> str:
        return self.record.url

    @strawberry.field(description="Byline, if known.", metadata=column("author"))
    def author(self) -> str | None:
        return self.record.author

    @strawberry.field(
        description="When the outlet published the article.", metadata=column("published_at")
    )
    def published_at(self) -> datetime | None:
        return self.record.published_at

    @strawberry.field(
        description="BCP 47 language tag of the article, e.g. 'en'.", metadata=column("language")
    )
    def language(self) -> str:
        return self.record.language

    @strawberry.field(description="A short excerpt of the article.", metadata=column("excerpt"))
    def excerpt(self) -> str | None:
        return self.record.excerpt

    @strawberry.field(
        description="The article's lead image, if any.", metadata=compiles(image_of("image_"))
    )
    def image(self) -> Image | None:
        r = self.record
        return image(r.image_url, r.image_alt, r.image_caption, r.image_credit)

    @strawberry.field(
        description="The outlet that published the article.",
        metadata=compiles(One(lambda at: db_outlets.outlet_rows_by("id", f"{at.alias}.outlet_id"))),
    )
    async def outlet(self, info: Info) -> Outlet:
        record = await info.context.loaders.outlet_by_id.load(self.record.outlet_id)
        assert record is not None, "sources.outlet_id is a foreign key"
        return Outlet(record=record)
