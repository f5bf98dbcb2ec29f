"""meetings: the recurring rule per network, changed occurrences, attendance, agenda changes,
records of threads discussed, and the calendar feed token.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:43:44.806437
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_meeting_schedules_network_id_networks")),
        sa.ForeignKeyConstraint(["set_by_id"], ["members.id"], name=op.f("fk_meeting_schedules_set_by_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_schedules")),
        sa.UniqueConstraint("network_id", name=op.f("uq_meeting_schedules_network_id")),
    )
    op.create_table(
        "meeting_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("moved_to", models.base.UTCDateTime(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["members.id"], name=op.f("fk_meeting_changes_by_id_members")),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_meeting_changes_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_changes")),
        sa.UniqueConstraint("network_id", "occurrence", name=op.f("uq_meeting_changes_network_id")),
    )
    op.create_table(
        "meeting_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_meeting_attendance_member_id_members")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_meeting_attendance_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_meeting_attendance_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendance")),
        sa.UniqueConstraint(
            "network_id", "occurrence", "organization_id", name=op.f("uq_meeting_attendance_network_id")
        ),
    )
    op.create_table(
        "meeting_agenda_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["by_id"], ["members.id"], name=op.f("fk_meeting_agenda_changes_by_id_members")),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_meeting_agenda_changes_network_id_networks")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_meeting_agenda_changes_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_agenda_changes")),
        sa.UniqueConstraint("network_id", "occurrence", "thread_id", name=op.f("uq_meeting_agenda_changes_network_id")),
    )
    op.create_table(
        "meeting_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("meeting", sa.Date(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_meeting_records_network_id_networks")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["members.id"], name=op.f("fk_meeting_records_recorded_by_id_members")
        ),
        sa.ForeignKeyConstraint(["thread_id"], ["threads.id"], name=op.f("fk_meeting_records_thread_id_threads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_records")),
        sa.UniqueConstraint("network_id", "meeting", "thread_id", name=op.f("uq_meeting_records_network_id")),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_calendar_feeds_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("network_id", name=op.f("uq_calendar_feeds_network_id")),
        sa.UniqueConstraint("token", name=op.f("uq_calendar_feeds_token")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("meeting_records")
    op.drop_table("meeting_agenda_changes")
    op.drop_table("meeting_attendance")
    op.drop_table("meeting_changes")
    op.drop_table("meeting_schedules")
