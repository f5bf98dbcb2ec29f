"""The network's recurring meeting: its rule, changed occurrences, attendance, agenda changes, records.

Only the rule is stored, never a list of dates: occurrences are computed from the rule in the
network's time zone each time they are needed (APScheduler's CronTrigger reads the rule), and
single occurrences are changed by ``MeetingChange`` rows. An occurrence is identified by the
date the rule gives it (``original``), even after it is moved, so attendance, agenda changes
and "sent once" keys stay attached to the same meeting.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint, bindparam, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, upsert, utcnow
from models.meeting_rule import MeetingRule, parse_rule
from models.network import Member, Network

DEFAULT_DURATION = timedelta(hours=2)  # the calendar needs an end; settings meeting.duration_minutes
LOOKAHEAD = timedelta(days=400)  # far enough to find the next meeting past several cancellations
ANSWERS = ("yes", "no", "maybe")


class MeetingSchedule(Base):
    __tablename__ = "meeting_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), unique=True)
    rule: Mapped[str] = mapped_column(String(40))  # canonical text, e.g. "毎月第4水曜 14:00"
    place: Mapped[str] = mapped_column(String(200), default="")
    link: Mapped[str | None] = mapped_column(String(500))  # online meeting URL
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingChange(Base):
    """One occurrence moved or cancelled (the rule itself stays as it is)."""

    __tablename__ = "meeting_changes"
    __table_args__ = (UniqueConstraint("network_id", "occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    occurrence: Mapped[date] = mapped_column(Date)  # the date the rule gives
    moved_to: Mapped[datetime | None]
    cancelled: Mapped[bool] = mapped_column(default=False)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingAttendance(Base):
    """One answer per organization and occurrence: the last member to answer wins."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("network_id", "occurrence", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    occurrence: Mapped[date] = mapped_column(Date)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    answer: Mapped[str] = mapped_column(String(8))  # yes | no | maybe
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgendaChange(Base):
    """An organizer added a thread to, or dropped it from, one occurrence's agenda."""

    __tablename__ = "meeting_agenda_changes"
    __table_args__ = (UniqueConstraint("network_id", "occurrence", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    occurrence: Mapped[date] = mapped_column(Date)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    action: Mapped[str] = mapped_column(String(8))  # add | drop
    by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingRecord(Base):
    """A thread discussed at a meeting (the 月報 lists them per meeting)."""

    __tablename__ = "meeting_records"
    __table_args__ = (UniqueConstraint("network_id", "meeting", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    meeting: Mapped[date] = mapped_column(Date)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingMinutes(Base):
    """議事録: the minutes of one meeting, written on the dashboard (masked like every stored text)."""

    __tablename__ = "meeting_minutes"
    __table_args__ = (UniqueConstraint("network_id", "meeting"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    meeting: Mapped[date] = mapped_column(Date)  # the occurrence, as in MeetingRecord
    text: Mapped[str | None] = mapped_column(Text)  # masked; None once erased
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarFeed(Base):
    """One organizer's iCalendar URL of one network: whoever has it can read the meeting dates,
    places and online links. Only a hash of its secret part is kept (issue 18, finding 6), so a
    copy of the database opens no feed; asking again issues a new URL and the old one stops;
    losing the organizer role ends it. ``line_user_id`` None: a URL issued before that (one per
    network), ended by the first new one or revoked role in its network."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("network_id", "line_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    line_user_id: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the URL's secret
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Read by every attendance button: built once, with bound parameters (see models/membership.py).
_SCHEDULE = select(MeetingSchedule).where(MeetingSchedule.network_id == bindparam("network_id"))
_CHANGES = select(MeetingChange).where(MeetingChange.network_id == bindparam("network_id"))


@dataclass(frozen=True)
class Occurrence:
    original: date  # identity: the date the rule gives
    start: datetime  # effective start, in the network's time zone
    end: datetime
    moved: bool = False

    @property
    def key(self) -> str:
        return self.original.isoformat()


# --- the rule ------------------------------------------------------------------
def zone(network: Network) -> ZoneInfo:
    return ZoneInfo(network.timezone or "Asia/Tokyo")


def duration(network: Network) -> timedelta:
    minutes = (network.settings or {}).get("meeting", {}).get("duration_minutes")
    return timedelta(minutes=int(minutes)) if minutes else DEFAULT_DURATION


def rule_of(schedule: MeetingSchedule) -> MeetingRule:
    rule = parse_rule(schedule.rule)
    if not isinstance(rule, MeetingRule):
        raise ValueError(f"stored meeting rule unreadable: {schedule.rule!r}")
    return rule


def rule_starts(rule: MeetingRule, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every start the rule gives in [start, end), in ``tz``."""
    trigger = CronTrigger(timezone=tz, **rule.cron_fields())
    found: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start.astimezone(tz))
    while fire is not None and fire < end:
        found.append(fire)
        fire = trigger.get_next_fire_time(None, fire + timedelta(seconds=1))
    return found


@lru_cache(maxsize=4096)  # pure, and every attendance button asks it twice (a CronTrigger each time)
def rule_start_on(rule: MeetingRule, tz: ZoneInfo, day: date) -> datetime | None:
    midnight = datetime.combine(day, time(), tz)
    starts = rule_starts(rule, tz, midnight, midnight + timedelta(days=1))
    return starts[0] if starts else None


def schedule_of(session: Session, network: Network) -> MeetingSchedule | None:
    return session.scalar(_SCHEDULE, {"network_id": network.id})


def set_schedule(
    session: Session,
    network: Network,
    rule: MeetingRule,
    place: str,
    link: str | None,
    member: Member | None,
    now: datetime,
) -> MeetingSchedule:
    """Store the rule; 隔月 is fixed to odd or even months from the first meeting after ``now``."""
    if rule.months == "alternate":
        monthly = MeetingRule("all", rule.hour, rule.minute, rule.day, rule.nth, rule.weekday)
        first = rule_starts(monthly, zone(network), now, now + LOOKAHEAD)[0]
        rule = rule.resolved(first.month)
    schedule = schedule_of(session, network) or MeetingSchedule(network_id=network.id)
    schedule.rule, schedule.place, schedule.link = rule.text(), place, link
    schedule.set_by_id, schedule.set_at = (member.id if member else None), now
    session.add(schedule)
    session.flush()
    return schedule


# --- occurrences ---------------------------------------------------------------------
def changes_of(session: Session, network: Network) -> dict[date, MeetingChange]:
    return {row.occurrence: row for row in session.scalars(_CHANGES, {"network_id": network.id})}


def occurrences(
    session: Session, network: Network, schedule: MeetingSchedule, start: datetime, end: datetime
) -> list[Occurrence]:
    """Meetings that take place in [start, end): the rule's dates with moves and cancellations applied."""
    tz, length, rule = zone(network), duration(network), rule_of(schedule)
    changes = changes_of(session, network)
    found = []
    for fire in rule_starts(rule, tz, start, end):
        change = changes.get(fire.date())
        if change is None or not (change.cancelled or change.moved_to):
            found.append(Occurrence(fire.date(), fire, fire + length))
    for change in changes.values():
        moved = change.moved_to.astimezone(tz) if change.moved_to else None
        if change.cancelled or moved is None or not start <= moved < end:
            continue
        if rule_start_on(rule, tz, change.occurrence) is not None:  # a change left by an older rule is ignored
            found.append(Occurrence(change.occurrence, moved, moved + length, moved=True))
    return sorted(found, key=lambda occurrence: occurrence.start)


def next_meeting(session: Session, network: Network, now: datetime) -> Occurrence | None:
    schedule = schedule_of(session, network)
    if schedule is None:
        return None
    upcoming = occurrences(session, network, schedule, now, now + LOOKAHEAD)
    return next((o for o in upcoming if o.start > now), None)


def previous_meeting(session: Session, network: Network, before: datetime) -> Occurrence | None:
    schedule = schedule_of(session, network)
    if schedule is None:
        return None
    past = occurrences(session, network, schedule, before - LOOKAHEAD, before)
    return past[-1] if past else None


def find_occurrence(session: Session, network: Network, day: date) -> tuple[date, Occurrence | None] | None:
    """The occurrence a typed date means: the rule's date, or the date it was moved to.

    Returns (original date, effective occurrence or None when cancelled), or None.
    """
    schedule = schedule_of(session, network)
    if schedule is None:
        return None
    tz, rule = zone(network), rule_of(schedule)
    changes = changes_of(session, network)
    original = day if rule_start_on(rule, tz, day) is not None else None
    if original is None:
        moved_here = [c for c in changes.values() if c.moved_to and c.moved_to.astimezone(tz).date() == day]
        if not moved_here:
            return None
        original = moved_here[0].occurrence
    start = rule_start_on(rule, tz, original)
    if start is None:
        return None
    change = changes.get(original)
    if change and change.cancelled:
        return original, None
    if change and change.moved_to:
        moved = change.moved_to.astimezone(tz)
        return original, Occurrence(original, moved, moved + duration(network), moved=True)
    return original, Occurrence(original, start, start + duration(network))


def change_occurrence(
    session: Session,
    network: Network,
    original: date,
    member: Member | None,
    now: datetime,
    *,
    moved_to: datetime | None = None,
    cancelled: bool = False,
) -> MeetingChange:
    change = changes_of(session, network).get(original) or MeetingChange(network_id=network.id, occurrence=original)
    change.moved_to, change.cancelled = moved_to, cancelled
    change.by_id, change.at = (member.id if member else None), now
    session.add(change)
    session.flush()
    return change


# --- attendance and the calendar token -------------------------------------------------------
def answer(session: Session, network: Network, original: date, member: Member, reply: str, now: datetime) -> None:
    """Record an organization's answer: the last member to answer for it wins, also when two race."""
    assert member.organization_id is not None and reply in ANSWERS
    upsert(
        session,
        MeetingAttendance,
        ("network_id", "occurrence", "organization_id"),
        network_id=network.id,
        occurrence=original,
        organization_id=member.organization_id,
        answer=reply,
        member_id=member.id,
        answered_at=now,
    )


def attendance(session: Session, network: Network, original: date) -> dict[int, str]:
    rows = session.scalars(
        select(MeetingAttendance).where(
            MeetingAttendance.network_id == network.id, MeetingAttendance.occurrence == original
        )
    )
    return {row.organization_id: row.answer for row in rows}


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_feed(session: Session, network: Network, line_user_id: str, now: datetime) -> str:
    """A new calendar URL's secret for this organizer; their earlier one (and a pre-hash one of the
    network) stops working."""
    revoke_feeds(session, network.id, line_user_id)
    # 24 random bytes = 192 bits: the URL is the only key to the feed, so it must not be guessable.
    token = secrets.token_urlsafe(24)
    session.add(
        CalendarFeed(
            network_id=network.id, line_user_id=line_user_id, token_hash=feed_token_hash(token), created_at=now
        )
    )
    session.flush()
    return token


def revoke_feeds(session: Session, network_id: int, line_user_id: str) -> None:
    """This person's calendar URL of the network stops (and the network's pre-hash one, whose
    holder is unknown)."""
    session.execute(
        delete(CalendarFeed).where(
            CalendarFeed.network_id == network_id,
            or_(CalendarFeed.line_user_id == line_user_id, CalendarFeed.line_user_id.is_(None)),
        )
    )


def network_of_feed(session: Session, token: str) -> Network | None:
    found = select(Network).join(CalendarFeed, CalendarFeed.network_id == Network.id)
    return session.scalar(found.where(CalendarFeed.token_hash == feed_token_hash(token)))
