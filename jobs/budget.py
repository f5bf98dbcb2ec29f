"""Spending LINE's counted messages by value: what becomes of a notice no free reply carried.

Group notices that are not worth a push to every member (nudges, the day-before and morning
meeting reminders, a その後いかがですか for a poster who does not follow the bot, 伴走
check-ins) are queued *held*: the next free reply in their group carries them (bot/pipeline/
context.py). When one's time is up and nothing carried it, this job settles it by its kind:

- dropped, with its reason in the outbox row and the ledger (the 送信数 page lists them), when
  missing it harms nobody: the thread itself stays visible (#N, 一覧, the meeting's agenda, the
  dashboard), and the meeting's 7-day card already carried the date and the attendance buttons;
- pushed otherwise, folded with the other notices due in the same group into one request
  (up to 5 balloons: LINE counts a push per recipient, not per balloon).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.pipeline import outbox
from bot.pipeline.delivery_state import record_unsent_in
from jobs import scheduled
from models import Network, OutboxMessage, OutboxStatus
from models.ledger import Kind, LedgerOutcome, QuotaMonth, month_of

log = logging.getLogger(__name__)

# Why each kind may be dropped when no free reply carried it (shown on the 送信数 page).
DROP_REASONS = {
    Kind.NUDGE: "no_reply_to_carry: the thread stays in 一覧 and goes on the meeting's agenda after 7 days",
    Kind.MEETING_DAY: "no_reply_to_carry: the 7-day card had the date and the buttons; the organizers' summary "
    "lists who has not answered",
    Kind.MEETING_MORNING: "no_reply_to_carry: the 7-day card had the date, time and place",
    Kind.FOLLOWUP_ASK: "poster_not_a_friend: no reply in the group carried it; the thread is open on the dashboard",
    Kind.BUDGET_NOTICE: "no_reply_to_carry: the month ended; the 送信数 page showed it",
}
RECONCILE_EVERY = timedelta(hours=1)


@scheduled("interval", minutes=10)
def reconcile_quota(session: Session, now: datetime) -> bool:
    """Ask LINE for the plan's limit and the month's count at least hourly (through the sender,
    the only part that talks to LINE). A failed read changes nothing: the ledger's count stands."""
    if session.scalar(select(Network.id).where(Network.active.is_(True)).limit(1)) is None:
        return False  # no network on LINE: nothing is sent, nothing to count
    quota = session.get(QuotaMonth, month_of(now))
    if quota is not None and quota.checked_at is not None and now - quota.checked_at < RECONCILE_EVERY:
        return False
    waiting = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.chat_id == "lookup:quota",
            OutboxMessage.status == OutboxStatus.PENDING,
        )
    )
    if waiting is not None:
        return False
    outbox.enqueue_lookup(session, "quota", now=now)
    return True


@scheduled("interval", minutes=5)
def settle_held(session: Session, now: datetime) -> int:
    """Drop or push every held message whose time is up; returns how many were settled."""
    due = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.HELD,
            OutboxMessage.carried_by.is_(None),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.id)
    ).all()
    to_push: dict[str, list[OutboxMessage]] = defaultdict(list)
    for row in due:
        reason = DROP_REASONS.get(row.kind)  # type: ignore[call-overload]
        if reason is None:
            to_push[row.chat_id].append(row)
            continue
        row.status, row.last_error = OutboxStatus.DROPPED, reason
        record_unsent_in(session, row, LedgerOutcome.DROPPED, reason.split(":")[0], now)
        log.info("outbox #%s (%s): dropped, no free reply carried it", row.id, row.kind)
    for rows in to_push.values():
        first = rows[0]
        first.status, first.next_attempt_at = OutboxStatus.PENDING, now
        # The others due in the same chat leave in the same request, as far as 5 balloons go.
        riders = []
        for row in rows[1:]:
            if len(first.messages) + len(row.messages) > outbox.MAX_MESSAGES_PER_REQUEST:
                row.status, row.next_attempt_at = OutboxStatus.PENDING, now
                continue
            first.messages = outbox.quick_replies_last([*first.messages, *row.messages])
            riders.append(row.id)
        session.flush()
        outbox.carry(session, first.id, riders)
    session.flush()
    return len(due)
