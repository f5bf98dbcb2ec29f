"""open internet (issue 18): outbox rows know their network, keep text only while it serves; networks wait for approval

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # outbox.network_id came with the message ledger (0011); 送信の状況 filters on it. No foreign
    # key: SQLite would need batch mode, which copies the outbox table (that sent_messages refers to).
    op.create_index(op.f("ix_outbox_network_id"), "outbox", ["network_id"], unique=False)
    op.add_column("outbox", sa.Column("trimmed_at", models.base.UTCDateTime(), nullable=True))
    op.create_index("ix_outbox_topic", "outbox", ["topic"], unique=False)
    op.create_index("ix_outbox_sent_trimmed", "outbox", ["trimmed_at", "sent_at"], unique=False)
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
        sa.ForeignKeyConstraint(
            ["actor_id"], ["members.id"], name=op.f("fk_organization_changes_actor_id_members")
        ),
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
    op.drop_index(op.f("ix_organization_changes_organization_id"), table_name="organization_changes")
    op.drop_table("organization_changes")
    op.drop_column("networks", "approved_by")
    op.drop_column("networks", "approved_at")
    op.drop_index("ix_outbox_sent_trimmed", table_name="outbox")
    op.drop_index("ix_outbox_topic", table_name="outbox")
    op.drop_column("outbox", "trimmed_at")
    op.drop_index(op.f("ix_outbox_network_id"), table_name="outbox")
