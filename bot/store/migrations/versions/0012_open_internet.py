"""open internet (issue 18): outbox rows know their network, keep text only while it serves

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

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


def downgrade() -> None:
    op.drop_index("ix_outbox_sent_trimmed", table_name="outbox")
    op.drop_index("ix_outbox_topic", table_name="outbox")
    op.drop_column("outbox", "trimmed_at")
    op.drop_index(op.f("ix_outbox_network_id"), table_name="outbox")
    op.drop_column("outbox", "network_id")
