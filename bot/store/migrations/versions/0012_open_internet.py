"""open internet (issue 18): outbox rows know their network, keep text only while it serves; networks wait for approval

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

import hashlib

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key: SQLite would need batch mode, which copies the outbox table (that
    # sent_messages refers to). The column is a hint for the dashboard, kept by the code.
    op.add_column("outbox", sa.Column("network_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_outbox_network_id"), "outbox", ["network_id"], unique=False)
    op.add_column("outbox", sa.Column("trimmed_at", models.base.UTCDateTime(), nullable=True))
    op.create_index("ix_outbox_topic", "outbox", ["topic"], unique=False)
    op.create_index("ix_outbox_sent_trimmed", "outbox", ["trimmed_at", "sent_at"], unique=False)
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_dashboard_sessions")),
    )
    op.create_index(op.f("ix_dashboard_sessions_line_user_id"), "dashboard_sessions", ["line_user_id"], unique=False)
    # Calendar URLs: one per organizer, only a hash kept. The network's old URL keeps working
    # (its token hashed in place) until an organizer asks for a new one or loses the role.
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("line_user_id", sa.String(length=64), nullable=True))
    if op.get_context().dialect.name == "postgresql":  # in SQL, so that `kasane db upgrade --sql` has it too
        op.execute("UPDATE calendar_feeds SET token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex')")
    else:  # SQLite has no sha256: row by row (SQLite is migrated by Kasane itself, never offline)
        connection = op.get_bind()
        for feed_id, token in connection.execute(sa.text("SELECT id, token FROM calendar_feeds")).all():
            hashed = hashlib.sha256(token.encode()).hexdigest()
            connection.execute(
                sa.text("UPDATE calendar_feeds SET token_hash = :h WHERE id = :id"), {"h": hashed, "id": feed_id}
            )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_constraint("uq_calendar_feeds_network_id", type_="unique")
        batch_op.drop_constraint("uq_calendar_feeds_token", type_="unique")
        batch_op.drop_column("token")
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_calendar_feeds_token_hash", ["token_hash"])
        batch_op.create_unique_constraint("uq_calendar_feeds_network_id", ["network_id", "line_user_id"])
    # Networks wait for approval; those already there were in use: approved as they were.
    op.add_column("networks", sa.Column("approved_at", models.base.UTCDateTime(), nullable=True))
    op.add_column("networks", sa.Column("approved_by", sa.String(length=80), nullable=True))
    op.execute("UPDATE networks SET approved_at = created_at, approved_by = 'before approvals'")
    op.create_table(
        "organization_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", models.base.UTCDateTime(), nullable=False),
        sa.Column("kind_before", sa.String(length=16), nullable=False),
        sa.Column("kind_after", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["members.id"], name=op.f("fk_organization_changes_actor_id_members")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_changes_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_changes")),
    )
    op.create_index(
        op.f("ix_organization_changes_organization_id"), "organization_changes", ["organization_id"], unique=False
    )


def downgrade() -> None:
    # The hashed URLs cannot be turned back into tokens: every calendar URL is asked for anew.
    op.execute("DELETE FROM calendar_feeds")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_constraint("uq_calendar_feeds_network_id", type_="unique")
        batch_op.drop_constraint("uq_calendar_feeds_token_hash", type_="unique")
        batch_op.drop_column("line_user_id")
        batch_op.drop_column("token_hash")
        batch_op.add_column(sa.Column("token", sa.String(length=64), nullable=False))
        batch_op.create_unique_constraint("uq_calendar_feeds_network_id", ["network_id"])
        batch_op.create_unique_constraint("uq_calendar_feeds_token", ["token"])
    op.drop_index(op.f("ix_dashboard_sessions_line_user_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index(op.f("ix_organization_changes_organization_id"), table_name="organization_changes")
    op.drop_table("organization_changes")
    op.drop_column("networks", "approved_by")
    op.drop_column("networks", "approved_at")
    op.drop_index("ix_outbox_sent_trimmed", table_name="outbox")
    op.drop_index("ix_outbox_topic", table_name="outbox")
    op.drop_column("outbox", "trimmed_at")
    op.drop_index(op.f("ix_outbox_network_id"), table_name="outbox")
    op.drop_column("outbox", "network_id")
