# The API image: GraphiQL's pinned assets fetched at build time (so the IDE works offline),
# run as a non-root user with a writable data volume. Build: docker build -t newsgraph .
FROM python:3.11-slim AS assets
RUN apt-get update && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install --no-cache-dir "strawberry-graphql>=0.341,<0.400" \
    && python -m api.graphiql

FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    NEWSGRAPH_DATA_DIR=/data NEWSGRAPH_LOG_FORMAT=json
COPY pyproject.toml README.md alembic.ini ./
COPY api ./api
COPY schema ./schema
COPY db ./db
COPY content ./content
COPY migrations ./migrations
COPY --from=assets /app/api/static ./api/static
RUN pip install --no-cache-dir -e . \
    && useradd --system --home-dir /data newsgraph && mkdir -p /data && chown newsgraph /data
USER newsgraph
VOLUME /data
EXPOSE 8000
# Set DATABASE_URL to a PostgreSQL server; without it the embedded one keeps its data in /data.
CMD ["newsgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
