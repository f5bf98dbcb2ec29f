"""Following threads up so none is forgotten: nudge, flag for the meeting, ask how it went, 伴走 check-ins.

A tick every few minutes works out what is due from the stored threads (so a missed
tick, a restart or the simulator's clock jump all catch up). Each send has a unique
outbox key per thread and step, written with its timeline event in one savepoint:
two processes running the tick at once send each follow-up once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.pipeline import outbox
from bot.replies import cards, compose, messages
from jobs import scheduled
from models import EventKind, Network, Outcome, Thread, ThreadState
from models.budget import worth_holding
from models.casework import record_event
from models.consent import shown_in_group
from models.ledger import Kind
from models.membership import is_friend
from models.quiet_days import quiet_for
from models.settings import NetworkSettings, network_settings

log = logging.getLogger(__name__)
# How long a group notice waits for a free reply to ride along on (jobs/budget.py decides after).
NUDGE_HOLD = timedelta(days=2)
ASK_HOLD = timedelta(days=7)


def in_quiet_window(settings: NetworkSettings, now: datetime, tz: ZoneInfo) -> bool:
    """True when follow-ups may be sent (nobody wants a nudge at night)."""
    start, end = settings.quiet_window
    local = now.astimezone(tz).time()
    return start <= local < end


def send_once(
    session: Session,
    thread: Thread,
    network: Network,
    step: str,
    message: list[dict[str, Any]],
    now: datetime,
    kind: str = Kind.NUDGE,
    *,
    to: str | None = None,
    hold_until: datetime | None = None,
) -> bool:
    """Queue one follow-up and its timeline event, unless this (thread, step) was ever queued.

    To the group by default (``to``: 1:1 instead); ``hold_until``: held for a free reply in the group.
    """
    key = f"followup:{thread.id}:{step}"
    if outbox.already_queued(session, key):
        return False
    try:
        with session.begin_nested():
            outbox.enqueue(
                session,
                to or network.group_id,
                message,
                now=now,
                dedupe_key=key,
                topic=f"thread:{thread.id}",
                kind=kind,
                network_id=network.id,
                hold_until=hold_until,
            )
            record_event(session, thread, EventKind.FOLLOWUP, now, via="job", step=step)
            session.flush()
    except IntegrityError:
        # Another process queued it first (the unique key decided): nothing more to do.
        log.info("follow-up %s already queued elsewhere", key)
        return False
    return True


def _open_threads(session: Session, network: Network, posted_before: datetime) -> Iterator[Thread]:
    yield from session.scalars(
        select(Thread)
        .where(Thread.network_id == network.id, Thread.state == ThreadState.OPEN, Thread.retracted.is_(False))
        .where(Thread.posted_at <= posted_before)
        .order_by(Thread.posted_at)
    )


def nudge_unanswered(session: Session, network: Network, settings: NetworkSettings, now: datetime) -> int:
    sent = 0
    for thread in _open_threads(session, network, now - timedelta(days=settings.nudge_days)):
        if thread.first_response_at is None and thread.outcome is None:
            # Without 本人同意 the group sees the number only (models.consent).
            message = cards.nudge_card(thread, shown=thread.id in shown_in_group(session, [thread]))
            # Worth a free reply, not a push to every member: it waits for the next answer in the group.
            hold = now + NUDGE_HOLD if worth_holding(session, network, now) else None
            sent += send_once(session, thread, network, "nudge", [message], now, hold_until=hold)
    return sent


def flag_for_meeting(session: Session, network: Network, settings: NetworkSettings, now: datetime) -> int:
    flagged = 0
    for thread in _open_threads(session, network, now - timedelta(days=settings.flag_days)):
        if thread.first_response_at is None and thread.flagged_at is None and thread.outcome is None:
            thread.flagged_at = now
            record_event(session, thread, EventKind.FLAGGED, now, via="job", reason="no_response")
            flagged += 1
    return flagged


def ask_how_it_went(session: Session, network: Network, settings: NetworkSettings, now: datetime) -> int:
    sent = 0
    for thread in _open_threads(session, network, now - timedelta(days=settings.check_days)):
        if thread.first_response_at is None or thread.outcome is not None or thread.poster is None:
            continue
        due = min(settings.check_max, (now - thread.posted_at).days // settings.check_days)
        poster = thread.poster
        where: dict[str, Any]
        if poster.left_at is None and is_friend(session, poster.line_user_id):
            # Meant for one person: 1:1 to a poster who follows the bot costs 1, the group M.
            name = network.name or f"#{network.id}"
            ask = compose.text(messages.FOLLOWUP_ASK_DIRECT.format(network=name, number=thread.number))
            ask_card = [ask, cards.followup_card(thread, direct=True)]
            where = {"to": poster.line_user_id}
        else:
            # Otherwise it waits for a free reply in the group; dropped (with its reason) if none comes.
            if poster.left_at is None:
                ask = compose.mention_text(
                    messages.FOLLOWUP_ASK, {"poster": poster.line_user_id}, number=str(thread.number)
                )
            else:  # left the group: named, never mentioned (LINE would refuse the whole message)
                name = poster.display_name or messages.MENTION_LEFT_NAME
                ask = compose.mention_text(messages.FOLLOWUP_ASK, {}, poster=name, number=str(thread.number))
            ask_card = [ask, cards.followup_card(thread, shown=thread.id in shown_in_group(session, [thread]))]
            where = {"hold_until": now + ASK_HOLD if worth_holding(session, network, now) else None}
        for step in range(1, due + 1):
            # One step per tick: after downtime the poster gets one question, not two at once.
            if send_once(session, thread, network, f"check{step}", ask_card, now, Kind.FOLLOWUP_ASK, **where):
                sent += 1
                break
    return sent


def accompany_check_ins(session: Session, network: Network, settings: NetworkSettings, now: datetime) -> int:
    sent = 0
    accompanied = session.scalars(
        select(Thread).where(
            Thread.network_id == network.id,
            Thread.state == ThreadState.OPEN,
            Thread.outcome == Outcome.ACCOMPANYING,
            Thread.outcome_at <= now - timedelta(days=settings.accompany_days),
        )
    )
    for thread in accompanied:
        period = (now - thread.outcome_at).days // settings.accompany_days
        card = cards.followup_card(thread, accompanying=True, shown=thread.id in shown_in_group(session, [thread]))
        step = f"accompany{period}:{thread.outcome_at:%Y%m%d%H%M}"
        hold = now + ASK_HOLD if worth_holding(session, network, now) else None
        sent += send_once(session, thread, network, step, [card], now, Kind.ACCOMPANY, hold_until=hold)
    return sent


STEPS = (nudge_unanswered, flag_for_meeting, ask_how_it_went, accompany_check_ins)


@scheduled("interval", minutes=5)
def follow_up(session: Session, now: datetime) -> dict[str, int]:
    totals: dict[str, int] = {}
    networks = session.scalars(select(Network).where(Network.active.is_(True)))
    for network in networks:
        settings = network_settings(network)
        tz = ZoneInfo(network.timezone or "Asia/Tokyo")
        if not in_quiet_window(settings, now, tz):
            continue
        if quiet_for(network, now.astimezone(tz).date()):
            continue  # Sunday, 年末年始 or a holiday: what is due waits for the next business day
        for step in STEPS:
            totals[step.__name__] = totals.get(step.__name__, 0) + step(session, network, settings, now)
    return totals
