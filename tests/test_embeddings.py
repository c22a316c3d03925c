"""Semantic recommendations: `newsgraph embed` and the SEMANTIC signal where pgvector exists;
lexical signals only, and a clear refusal to embed, where it does not.

The machine's PostgreSQL 15 has no pgvector and the embedded PostgreSQL 16 has it; CI runs
the suite against both, so each run takes one of the two branches below, and both are tested.
"""

from __future__ import annotations

import pytest

from api.embedder import EmbeddingsUnavailable, embed
from db import embeddings
from tests.conftest import data, serving

RELATED = """query($slug: String!) { story(slug: $slug) {
  relatedStories(first: 10) { slug reason { signals } } } }"""


async def test_embeddings_where_pgvector_is_available(settings, pool, demo) -> None:
    if not await embeddings.table_exists(pool):
        with pytest.raises(EmbeddingsUnavailable, match="pgvector"):
            await embed(pool, progress=False)
        async with serving(settings) as client:
            signals = (await data(client, "{ recommendationSignals }"))["recommendationSignals"]
        assert "SEMANTIC" not in signals
        return

    stories = len(demo["stories"])
    assert await embed(pool, progress=False) == f"embedded {stories} stories with all-MiniLM-L6-v2"
    nothing = "embedded 0 stories with all-MiniLM-L6-v2: every story's embedding is current"
    assert await embed(pool, progress=False) == nothing
    await pool.execute(
        "UPDATE stories SET title = title || ' (updated)' WHERE slug = 'qatar-shrapnel-advisory'"
    )
    assert await embed(pool, progress=False) == "embedded 1 stories with all-MiniLM-L6-v2"

    async with serving(settings) as client:  # a new app looks the embeddings up at once
        signals = (await data(client, "{ recommendationSignals }"))["recommendationSignals"]
        assert "SEMANTIC" in signals
        found = (await data(client, RELATED, slug="qatari-pm-pride-resilience-iranian-attacks"))[
            "story"
        ]["relatedStories"]
    assert any("SEMANTIC" in item["reason"]["signals"] for item in found), found
