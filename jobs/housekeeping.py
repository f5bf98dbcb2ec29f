"""Forgetting what is no longer needed to deduplicate webhook events."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from jobs import scheduled
from models import WebhookEvent

# LINE redelivers for a limited time (hours, not weeks); a month of ids is ample.
KEEP_EVENT_IDS = timedelta(days=30)


@scheduled("cron", hour=3, minute=17)
def prune_webhook_events(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebhookEvent).where(WebhookEvent.received_at < now - KEEP_EVENT_IDS))
    return result.rowcount or 0
