"""The reference "floor": the same page data as HomeFeed(first: 20) and StoryPage, each fetched
by one hand-written SQL statement over asyncpg behind a bare Starlette endpoint. Like the API,
it reads the figures stored beside each story and the stored list size.

Run: DATABASE_URL=... python bench/floor.py PORT
"""

from __future__ import annotations

import contextlib
import os
import sys

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

VISIBLE = "s.status = 'PUBLISHED' AND s.published_at <= now()"
COVERAGE = """json_build_object('sourceCount', s.source_count, 'left', s.lefts,
    'center', s.centers, 'right', s.rights, 'unrated', s.unrated,
    'leftPercent', s.left_percent, 'centerPercent', s.center_percent,
    'rightPercent', s.right_percent, 'label', s.coverage_label, 'blindspot', s.blindspot,
    'readTimeMinutes', s.read_time_minutes)"""
HOME = f"""
SELECT json_build_object(
  'totalCount', (SELECT (SELECT entries FROM listing_sizes WHERE list = 'stories')
      - (SELECT count(*) FROM story_listings WHERE list = 'stories' AND published_at > now())),
  'edges', coalesce(json_agg(json_build_object(
    'id', s.id, 'slug', s.slug, 'title', s.title, 'summary', s.summary,
    'category', (SELECT json_build_object('slug', t.slug, 'name', t.name)
                 FROM topics t WHERE t.id = s.category_id),
    'publishedAt', s.published_at, 'sentiment', s.sentiment, 'heroImage', s.hero_image_url,
    'coverage', {COVERAGE},
    'deepDive', (SELECT json_build_object('slug', d.slug) FROM deep_dives d
                 WHERE d.story_id = s.id AND d.status = 'PUBLISHED' AND d.published_at <= now()))
    ORDER BY s.published_at DESC, s.id DESC), '[]'))
FROM (SELECT * FROM stories s WHERE {VISIBLE}
      ORDER BY s.published_at DESC, s.id DESC LIMIT 20) s
"""
STORY = f"""
SELECT json_build_object(
  'id', s.id, 'slug', s.slug, 'title', s.title, 'summary', s.summary,
  'publishedAt', s.published_at, 'updatedAt', s.updated_at, 'sentiment', s.sentiment,
  'category', (SELECT json_build_object('slug', t.slug, 'name', t.name)
               FROM topics t WHERE t.id = s.category_id),
  'topics', (SELECT json_agg(json_build_object('slug', t.slug, 'name', t.name, 'kind', t.kind)
                             ORDER BY st.position)
             FROM story_topics st JOIN topics t ON t.id = st.topic_id WHERE st.story_id = s.id),
  'coverage', {COVERAGE},
  'sources', (SELECT json_agg(json_build_object('id', so.id, 'title', so.title, 'url', so.url,
                'author', so.author, 'publishedAt', so.published_at, 'excerpt', so.excerpt,
                'outlet', json_build_object('id', o.id, 'name', o.name, 'domain', o.domain,
                  'country', o.country, 'bias', o.bias, 'factuality', o.factuality))
                ORDER BY p.position)
              FROM (SELECT * FROM story_sources ss WHERE ss.story_id = s.id
                    ORDER BY ss.position LIMIT 10) p
              JOIN sources so ON so.id = p.source_id JOIN outlets o ON o.id = so.outlet_id),
  'deepDive', (SELECT json_build_object('id', d.id, 'slug', d.slug, 'title', d.title,
                 'readTimeMinutes', d.read_time_minutes)
               FROM deep_dives d
               WHERE d.story_id = s.id AND d.status = 'PUBLISHED' AND d.published_at <= now()))
FROM stories s WHERE s.slug = $1 AND {VISIBLE}
"""


def create_app(url: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
        yield {"pool": pool}
        await pool.close()

    async def home(request: Request) -> Response:
        body = await request.state.pool.fetchval(HOME)
        return Response(body, media_type="application/json")

    async def story(request: Request) -> Response:
        body = await request.state.pool.fetchval(STORY, request.path_params["slug"])
        return Response(body or "null", media_type="application/json")

    return Starlette(
        routes=[Route("/home", home), Route("/story/{slug}", story)], lifespan=lifespan
    )


if __name__ == "__main__":
    uvicorn.run(
        create_app(os.environ["DATABASE_URL"]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
    )
