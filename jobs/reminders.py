"""Meeting reminders: one tick every five minutes works out, from the stored rules, what is due.

Nothing about reminders is scheduled ahead: each tick rebuilds the next occurrences from each
network's rule and changes, so a rule changed in the chat, a restart, several worker processes
and the simulator's clock control all just work. What must happen once is guaranteed by the
outbox's unique ``dedupe_key`` (``meeting:<network>:<occurrence>:<kind>``), not by the scheduler.

Each kind is sent inside its window: from its due time until the next kind is due (and never
at or after the start). A reminder whose window passed while the bot was down is skipped and
logged, because a late "see you tomorrow" on the day itself only confuses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import holidays
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.pipeline import outbox
from bot.replies.meeting_cards import attendance_card, day_reminder, holiday_card, morning_reminder, summary, week_card
from jobs import scheduled
from models import Member, Network, OutboxMessage, Role
from models.budget import worth_holding
from models.ledger import Kind
from models.meeting import MeetingSchedule, Occurrence, occurrences
from models.meeting_extra import extras_between
from models.membership import is_friend

log = logging.getLogger(__name__)
_logged_skips: set[str] = set()  # log each skipped reminder once per process, not every tick
JP_HOLIDAYS = holidays.country_holidays("JP", language="ja")


@dataclass(frozen=True)
class Offsets:
    """When each reminder is due; a network overrides them in ``settings["meeting"]``."""

    holiday_days: int = 14  # tell the organizers when the meeting falls on a public holiday
    card_days: int = 7  # the card with the agenda and the attendance buttons
    reminder_days: int = 1  # mention the organizations that have not answered
    morning: time = time(8, 30)  # the last reminder, on the day

    @classmethod
    def of(cls, network: Network) -> Offsets:
        values: dict[str, Any] = (network.settings or {}).get("meeting", {})
        morning = values.get("morning_time")
        try:
            return cls(
                holiday_days=int(values.get("holiday_days_before", cls.holiday_days)),
                card_days=int(values.get("card_days_before", cls.card_days)),
                reminder_days=int(values.get("reminder_days_before", cls.reminder_days)),
                morning=time.fromisoformat(morning) if morning else cls.morning,
            )
        except (TypeError, ValueError):
            # One network's typo must not stop every network's reminders.
            log.warning("network %s: meeting settings unreadable (%r); using the defaults", network.id, values)
            return cls()

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=max(self.holiday_days, self.card_days, self.reminder_days) + 1)


def windows(occurrence: Occurrence, offsets: Offsets) -> list[tuple[str, datetime, datetime]]:
    """(kind, due, until) for one occurrence: each kind may be sent late until the next one is due."""
    start = occurrence.start
    card = start - timedelta(days=offsets.card_days)
    reminder = start - timedelta(days=offsets.reminder_days)
    morning = datetime.combine(start.date(), offsets.morning, start.tzinfo)
    found = [("week", card, reminder)]
    if morning < start:
        found += [("day", reminder, morning), ("summary", reminder, morning), ("morning", morning, start)]
    else:  # a meeting before the morning reminder's time: the day-before one is the last
        found += [("day", reminder, start), ("summary", reminder, start)]
    if _holiday(occurrence) is not None:
        found.insert(0, ("holiday", start - timedelta(days=offsets.holiday_days), reminder))
    return [(kind, due, min(until, start)) for kind, due, until in found if due < min(until, start)]


def _holiday(occurrence: Occurrence) -> str | None:
    """The holiday a meeting falls on; a meeting someone already moved is left alone."""
    return None if occurrence.moved else JP_HOLIDAYS.get(occurrence.start.date())


@scheduled("interval", minutes=5)
def send_meeting_reminders(session: Session, now: datetime) -> int:
    """Queue every reminder that is due now and was not queued before; returns how many."""
    queued = 0
    rows = session.execute(
        select(Network, MeetingSchedule)
        .outerjoin(MeetingSchedule, MeetingSchedule.network_id == Network.id)
        .where(Network.active)
        .order_by(Network.id)
    ).all()
    for network, schedule in rows:
        offsets = Offsets.of(network)
        end = now + offsets.horizon
        planned = occurrences(session, network, schedule, now, end) if schedule is not None else []
        due_now = [(o, schedule) for o in planned]
        # 臨時会議: its own place, no online link; a network may have extras and no rule.
        for extra in extras_between(network, now, end):
            rule = schedule.rule if schedule is not None else ""
            due_now.append((extra.occurrence, MeetingSchedule(network_id=network.id, rule=rule, place=extra.place)))
        for occurrence, held_by in due_now:
            for kind, due, until in windows(occurrence, offsets):
                key = f"meeting:{network.id}:{occurrence.key}:{kind}"
                if now < due:
                    continue
                if now >= until:
                    _log_skip(session, key, until)
                    continue
                queued += _send(session, network, held_by, occurrence, kind, key, now)
    return queued


def _send(
    session: Session,
    network: Network,
    schedule: MeetingSchedule,
    occurrence: Occurrence,
    kind: str,
    key: str,
    now: datetime,
) -> int:
    if kind == "holiday":
        holiday = _holiday(occurrence) or ""
        message = holiday_card(
            network,
            occurrence,
            holiday,
            _business_day(occurrence.start.date(), -1),
            _business_day(occurrence.start.date(), 1),
        )
        return _to_organizers(session, network, [message], key, now, Kind.MEETING_HOLIDAY)
    if kind == "summary":
        message = summary(session, network, occurrence, now)
        return _to_organizers(session, network, [message], key, now, Kind.MEETING_SUMMARY)
    build = {"week": week_card, "day": day_reminder, "morning": morning_reminder}[kind]
    message = build(session, network, schedule, occurrence, now)
    if kind == "day":  # the attendance buttons on a card of their own: quick replies vanish, PC never shows them
        return _send_day(session, network, occurrence, message, key, now)
    if kind == "week":  # the one push to the whole group a meeting is worth; held notices go with it
        return _once(session, network.group_id, [message], key, now, KINDS[kind], network.id, fold=True)
    # Where a push to the whole group is dear (models/budget.py), the day-before and morning
    # reminders ride on a free reply in the group until the meeting starts; if none comes they
    # are dropped (jobs/budget.py): the 7-day card had the date and the attendance buttons, and
    # the organizers' summary lists who has not answered.
    hold = occurrence.start if worth_holding(session, network, now) else None
    return _once(session, network.group_id, [message], key, now, KINDS[kind], network.id, hold=hold)


def _send_day(
    session: Session, network: Network, occurrence: Occurrence, message: dict[str, Any], key: str, now: datetime
) -> int:
    card = attendance_card(network, occurrence)
    hold = occurrence.start if worth_holding(session, network, now) else None
    return _once(session, network.group_id, [message, card], key, now, Kind.MEETING_DAY, network.id, hold=hold)


KINDS = {"week": Kind.MEETING_WEEK, "day": Kind.MEETING_DAY, "morning": Kind.MEETING_MORNING}


def _to_organizers(
    session: Session, network: Network, messages: list[dict[str, Any]], key: str, now: datetime, kind: str
) -> int:
    """1:1 to each organizer who follows the bot (LINE refuses pushes to others); else once in the group."""
    organizers = session.scalars(
        select(Member).where(Member.network_id == network.id, Member.role == Role.ORGANIZER).order_by(Member.id)
    ).all()
    sent, in_group = 0, False
    for organizer in organizers:
        if is_friend(session, organizer.line_user_id):
            sent += _once(session, organizer.line_user_id, messages, f"{key}:{organizer.id}", now, kind, network.id)
        else:
            in_group = True
    if in_group or not organizers:
        sent += _once(session, network.group_id, messages, f"{key}:group", now, kind, network.id)
    return sent


def _once(
    session: Session,
    chat_id: str,
    messages: list[dict[str, Any]],
    key: str,
    now: datetime,
    kind: str,
    network_id: int,
    *,
    fold: bool = False,
    hold: datetime | None = None,
) -> int:
    """Queue unless queued before. A twin tick in another process may insert the same key at the
    same moment: the unique constraint stops it, and the savepoint keeps the rest of this tick."""
    if outbox.already_queued(session, key):
        return 0
    try:
        with session.begin_nested():
            [row_id] = outbox.enqueue(
                session, chat_id, messages, now=now, dedupe_key=key, kind=kind, network_id=network_id, hold_until=hold
            )
            if fold:
                outbox.fold_into(session, row_id, chat_id, now)
    except IntegrityError:
        log.info("meeting reminder %s was queued by another process", key)
        return 0
    return 1


def _log_skip(session: Session, key: str, until: datetime) -> None:
    if key in _logged_skips:
        return
    sent = session.scalar(
        select(OutboxMessage.id).where(or_(OutboxMessage.dedupe_key == key, OutboxMessage.dedupe_key.like(key + ":%")))
    )
    if sent is None:
        log.warning("meeting reminder %s skipped: too late (its window closed at %s)", key, until.isoformat())
    _logged_skips.add(key)


def _business_day(day: date, step: int) -> date:
    """The nearest weekday before (step -1) or after (step 1) ``day`` that is not a public holiday."""
    day += timedelta(days=step)
    while day.weekday() >= 5 or day in JP_HOLIDAYS:
        day += timedelta(days=step)
    return day
