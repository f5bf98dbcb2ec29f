"""Forgetting what is no longer needed to deduplicate webhook events; leaving groups nobody approved."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.pipeline.outbox import enqueue_lookup
from jobs import scheduled
from models import WebhookEvent
from models.approval import overdue
from models.membership import deactivate_network

# LINE redelivers for a limited time (hours, not weeks); a month of ids is ample.
KEEP_EVENT_IDS = timedelta(days=30)


@scheduled("cron", hour=3, minute=17)
def prune_webhook_events(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebhookEvent).where(WebhookEvent.received_at < now - KEEP_EVENT_IDS))
    return result.rowcount or 0


@scheduled("interval", minutes=10)
def leave_unapproved_groups(session: Session, now: datetime, settings: Any = None) -> int:
    """A group still waiting for approval after ``[networks] leave_unapproved_after_hours``: the
    bot leaves it (``POST /v2/bot/group/{groupId}/leave``, through the outbox like every call to LINE)."""
    hours = settings.get("networks", "leave_unapproved_after_hours") if settings is not None else 72.0
    left = overdue(session, now, timedelta(hours=hours))
    for network in left:
        deactivate_network(session, network.group_id, now)
        enqueue_lookup(session, "leave_group", now=now, group_id=network.group_id)
    return len(left)
