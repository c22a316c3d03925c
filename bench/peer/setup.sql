-- The peer: PostGraphile v4 over a Newsgraph database, doing the work our HomeFeed and
-- StoryPage do and reading what they read: the figures stored beside each story, the
-- stored list size of all stories. Everything lives in its own schema, peer_pg; no Newsgraph
-- table is touched. `DROP SCHEMA peer_pg CASCADE` removes it.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS peer_pg CASCADE;
CREATE SCHEMA peer_pg;

-- Stories readers may see (PUBLISHED, published_at <= now()), with their stored figures.
CREATE VIEW peer_pg.feed_stories AS
  SELECT s.id, s.slug, s.title, s.summary, s.category_id, s.published_at, s.updated_at,
         coalesce(s.sentiment, s.sentiment_inferred) AS sentiment,
         s.hero_image_url, s.hero_image_alt, s.hero_image_caption, s.hero_image_credit,
         s.source_count, s.lefts, s.centers, s.rights, s.unrated,
         s.left_percent, s.center_percent, s.right_percent,
         s.coverage_label, s.blindspot, s.read_time_minutes
  FROM public.stories s
  WHERE s.status = 'PUBLISHED' AND s.published_at <= now();
COMMENT ON VIEW peer_pg.feed_stories IS
  E'@primaryKey id\n@unique slug\n@foreignKey (category_id) references public.topics (id)';

-- HomeFeed's totalCount as Newsgraph counts it: the stored list size minus what is not due.
CREATE FUNCTION peer_pg.feed_total() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT (SELECT entries FROM public.listing_sizes WHERE list = 'stories')
       - (SELECT count(*) FROM public.story_listings
          WHERE list = 'stories' AND published_at > now())
$$;

-- The story's deep dive, only when published and visible (HomeFeed: its slug).
CREATE FUNCTION peer_pg.feed_stories_deep_dive(s peer_pg.feed_stories) RETURNS public.deep_dives
LANGUAGE sql STABLE AS $$
  SELECT d.* FROM public.deep_dives d
  WHERE d.story_id = s.id AND d.status = 'PUBLISHED' AND d.published_at <= now()
$$;

CREATE FUNCTION peer_pg.feed_stories_url(s peer_pg.feed_stories) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT 'https://newsgraph.example/stories/' || s.slug $$;

CREATE FUNCTION peer_pg.feed_stories_topics(s peer_pg.feed_stories) RETURNS SETOF public.topics
LANGUAGE sql STABLE AS $$
  SELECT t.* FROM public.story_topics st JOIN public.topics t ON t.id = st.topic_id
  WHERE st.story_id = s.id ORDER BY st.position
$$;

CREATE FUNCTION peer_pg.feed_stories_sources(s peer_pg.feed_stories) RETURNS SETOF public.sources
LANGUAGE sql STABLE AS $$
  SELECT so.* FROM public.story_sources ss JOIN public.sources so ON so.id = ss.source_id
  WHERE ss.story_id = s.id ORDER BY ss.position
$$;
