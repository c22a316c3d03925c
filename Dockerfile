FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY api ./api
COPY schema ./schema
COPY db ./db
COPY content ./content
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --system newsgraph
USER newsgraph

EXPOSE 8000
# DATABASE_URL must be set: in a container the API talks to a real PostgreSQL server.
CMD ["newsgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
