"""Change notifications: the change log behind `changes(after:)`, and webhooks fed from it
through a durable outbox.

- content_changes: one row per event readers can see (content.changes): publish, update,
  unpublish, archive, takedown of a story or deep dive, with the cache keys to purge.
  visible_at is when the event happens for readers (a scheduled publish is written ahead, with
  its publish time); the feed reads in (visible_at, id) order. No foreign key to the item: the
  history outlives what it describes.
- webhooks: an ADMIN's endpoint, the events it wants and the secret its deliveries are signed
  with (HMAC needs the secret itself, so it cannot be stored hashed like API keys).
- webhook_deliveries: the outbox. Rows are written in the transaction that writes the content,
  so an event is never lost; a worker claims due rows, sends them, and records the outcome.
- webhook_attempts: every try, for the delivery log.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE content_changes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            item_id bigint NOT NULL,
            slug text NOT NULL,
            event text NOT NULL,
            reason text,
            visible_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            purge_keys text[] NOT NULL,
            CONSTRAINT content_changes_kind_check CHECK (kind IN ('story', 'deep_dive')),
            CONSTRAINT content_changes_event_check CHECK (
                event IN ('PUBLISHED', 'UPDATED', 'UNPUBLISHED', 'ARCHIVED', 'TAKEN_DOWN'))
        )
        """
    )
    op.execute("CREATE INDEX content_changes_feed_idx ON content_changes (visible_at, id)")
    op.execute(
        "CREATE INDEX content_changes_item_idx ON content_changes (kind, item_id, visible_at)"
    )
    op.execute(
        """
        CREATE TABLE webhooks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            url text NOT NULL,
            events text[] NOT NULL,
            secret text NOT NULL,
            description text NOT NULL DEFAULT '',
            active boolean NOT NULL DEFAULT TRUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by bigint REFERENCES api_keys (id) ON DELETE SET NULL,
            CONSTRAINT webhooks_events_check CHECK (cardinality(events) > 0)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE webhook_deliveries (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
            change_id bigint NOT NULL REFERENCES content_changes (id) ON DELETE CASCADE,
            state text NOT NULL DEFAULT 'PENDING',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_attempt_at timestamptz,
            last_status integer,
            last_error text,
            delivered_at timestamptz,
            CONSTRAINT webhook_deliveries_state_check
                CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
            CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, change_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) "
        "WHERE state = 'PENDING'"
    )
    op.execute(
        "CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (webhook_id, id DESC)"
    )
    op.execute(
        """
        CREATE TABLE webhook_attempts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
            at timestamptz NOT NULL,
            status integer,
            error text,
            duration_ms integer NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id)")


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhooks", "content_changes"):
        op.execute(f"DROP TABLE {table}")
