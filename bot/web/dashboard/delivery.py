"""Messages the bot could not deliver (or is still retrying) for one network."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import or_, select

from bot.web.dashboard.web import bp, db, local, network_or_404
from models import OutboxMessage, OutboxStatus

SHOWN = 100


def preview(messages: list[dict[str, Any]]) -> str:
    """The first words of what the bot tried to say (the bot's own wording, already masked)."""
    first = messages[0] if messages else {}
    return str(first.get("text") or first.get("altText") or first.get("type", ""))[:80]


@bp.get("/n/<int:network_id>/delivery")
def delivery(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    rows = (
        db()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.PENDING]))
            # This network's messages only: a 1:1 message about another network, to a person who
            # belongs to both, is that network's business (issue 18, finding 2).
            .where(or_(OutboxMessage.chat_id == network.group_id, OutboxMessage.network_id == network.id))
            .order_by(OutboxMessage.id.desc())
            .limit(SHOWN)
        )
        .all()
    )
    items = [
        {
            "created": local(row.created_at, network),
            "status": "送信できませんでした" if row.status == OutboxStatus.FAILED else "再送待ち",
            "attempts": row.attempts,
            "to": "グループ" if row.chat_id == network.group_id else "1:1",
            "error": row.last_error or "",
            "preview": preview(row.messages),
        }
        for row in rows
    ]
    return render_template("dashboard/delivery.html", network=network, items=items)
