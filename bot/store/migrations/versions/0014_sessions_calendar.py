"""open internet (issue 18), second part: server-side dashboard sessions; calendar URLs per organizer, hashed

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

(A migration of its own, after main's head: 0012 was merged into main before these tables changed.)
"""

import hashlib

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
