"""threads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:32:25.829132
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_areas_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("network_id", "name", name=op.f("uq_areas_network_id")),
    )
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_areas_network_id"), ["network_id"], unique=False)

    op.create_table(
        "sent_messages",
        sa.Column("line_message_id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_sent_messages_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("line_message_id", name=op.f("pk_sent_messages")),
    )
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_messages_outbox_id"), ["outbox_id"], unique=False)

    op.create_table(
        "threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("poster_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("masked_kinds", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=50), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("referred_to", sa.String(length=100), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("meeting_requested", sa.Boolean(), nullable=False),
        sa.Column("flagged_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("posted_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("first_response_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("outcome_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("closed_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("connection_count", sa.Integer(), nullable=False),
        sa.Column("offer_count", sa.Integer(), nullable=False),
        sa.Column("comment_count", sa.Integer(), nullable=False),
        sa.Column("watcher_count", sa.Integer(), nullable=False),
        sa.Column("erased_at", models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_threads_network_id_networks")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_threads_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["poster_id"], ["members.id"], name=op.f("fk_threads_poster_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threads")),
        sa.UniqueConstraint("network_id", "number", name=op.f("uq_threads_network_id")),
    )
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_threads_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_threads_network_closed", ["network_id", "closed_at"], unique=False)
        batch_op.create_index("ix_threads_network_posted", ["network_id", "posted_at"], unique=False)
        batch_op.create_index("ix_threads_network_state_posted", ["network_id", "state", "posted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_threads_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "pending_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_pending_answers_network_id_networks")),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], name=op.f("fk_pending_answers_thread_id_threads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_answers")),
        sa.UniqueConstraint("network_id", "line_user_id", name=op.f("uq_pending_answers_network_id")),
    )
    op.create_table(
        "thread_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["members.id"], name=op.f("fk_thread_events_actor_id_members")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_thread_events_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], name=op.f("fk_thread_events_thread_id_threads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_events")),
    )
    with op.batch_alter_table("thread_events", schema=None) as batch_op:
        batch_op.create_index("ix_thread_events_thread_at", ["thread_id", "at"], unique=False)

    op.create_table(
        "thread_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_thread_responses_member_id_members")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_thread_responses_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], name=op.f("fk_thread_responses_thread_id_threads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_responses")),
    )
    with op.batch_alter_table("thread_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thread_responses_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_thread_responses_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_thread_responses_thread_id"), ["thread_id"], unique=False)

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_counter", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("topic")

    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("settings")
        batch_op.drop_column("thread_counter")

    with op.batch_alter_table("thread_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_responses_thread_id"))
        batch_op.drop_index(batch_op.f("ix_thread_responses_organization_id"))
        batch_op.drop_index(batch_op.f("ix_thread_responses_message_id"))

    op.drop_table("thread_responses")
    with op.batch_alter_table("thread_events", schema=None) as batch_op:
        batch_op.drop_index("ix_thread_events_thread_at")

    op.drop_table("thread_events")
    op.drop_table("pending_answers")
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_threads_organization_id"))
        batch_op.drop_index("ix_threads_network_state_posted")
        batch_op.drop_index("ix_threads_network_posted")
        batch_op.drop_index("ix_threads_network_closed")
        batch_op.drop_index(batch_op.f("ix_threads_message_id"))

    op.drop_table("threads")
    with op.batch_alter_table("sent_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_messages_outbox_id"))

    op.drop_table("sent_messages")
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_areas_network_id"))

    op.drop_table("areas")
