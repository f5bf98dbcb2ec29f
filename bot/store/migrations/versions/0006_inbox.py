"""webhook inbox (acknowledge first, handle in the worker); outbox lanes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("event_key", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("redelivery", sa.Boolean(), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("handled_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("event_key", name=op.f("pk_webhook_events")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_events_received_at"), ["received_at"], unique=False)
    # Ids already handled keep deduplicating redeliveries.
    op.execute(
        "INSERT INTO webhook_events (event_key, event_type, chat_id, redelivery, received_at, handled_at, outcome)"
        " SELECT event_key, event_type, chat_id, redelivery, received_at, received_at, 'handled'"
        " FROM processed_events"
    )
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_events_received_at"))
    op.drop_table("processed_events")

    # On SQLite the inbox used is a file of its own (models/event.py); this one stays empty there.
    op.create_table(
        "inbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_key", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("redelivery", sa.Boolean(), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_inbox")),
        sa.UniqueConstraint("event_key", name=op.f("uq_inbox_event_key")),
        sqlite_autoincrement=True,
    )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=200), nullable=True))
    op.execute("UPDATE outbox SET lane = chat_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("lane", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index("ix_outbox_lane_status", ["lane", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_lane_status")
        batch_op.drop_column("lane")
    # Events still waiting in the inbox are dropped: let the worker empty it before downgrading.
    op.drop_table("inbox")
    op.create_table(
        "processed_events",
        sa.Column("event_key", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=True),
        sa.Column("redelivery", sa.Boolean(), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_key", name=op.f("pk_processed_events")),
    )
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_events_received_at"), ["received_at"], unique=False)
    op.execute(
        "INSERT INTO processed_events (event_key, event_type, chat_id, redelivery, received_at)"
        " SELECT event_key, event_type, chat_id, redelivery, received_at FROM webhook_events"
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_received_at"))
    op.drop_table("webhook_events")
