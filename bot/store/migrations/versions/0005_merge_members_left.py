"""merge the meetings and dashboard branches; members.left_at

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0005"
down_revision = ("0003", "0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", models.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("left_at")
