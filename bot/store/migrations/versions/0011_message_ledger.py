"""message ledger: outbox kind and priority, counted messages per month, the channel's quota month

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=24), server_default="answer", nullable=False))
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("network_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carried_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carries", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_outbox_carried_by"), ["carried_by"], unique=False)
    op.create_table(
        "message_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("at", models.base.UTCDateTime(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name=op.f("fk_message_ledger_network_id_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_ledger")),
    )
    with op.batch_alter_table("message_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_message_ledger_month_outcome", ["month", "outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_ledger_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_ledger_outbox_id"), ["outbox_id"], unique=False)
    op.create_table(
        "message_quota",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("line_limit", sa.Integer(), nullable=True),
        sa.Column("line_usage", sa.Integer(), nullable=True),
        sa.Column("checked_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("exhausted_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("told_80_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("told_100_at", models.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_message_quota")),
    )


def downgrade() -> None:
    op.drop_table("message_quota")
    with op.batch_alter_table("message_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_ledger_outbox_id"))
        batch_op.drop_index(batch_op.f("ix_message_ledger_network_id"))
        batch_op.drop_index("ix_message_ledger_month_outcome")
    op.drop_table("message_ledger")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_carried_by"))
        batch_op.drop_column("carries")
        batch_op.drop_column("carried_by")
        batch_op.drop_column("network_id")
        batch_op.drop_column("priority")
        batch_op.drop_column("kind")
