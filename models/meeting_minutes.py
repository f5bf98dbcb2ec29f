"""Minutes (議事録) and the meetings of a period, as the 月報 includes them (Kurume's specification
§6(5): 出席した会議の議事録等).

A meeting is known by its original date (as attendance and 会議記録 are): the rule's occurrences
that took place in the period, plus any date with a 会議記録 or minutes (a meeting since dropped
from the rule is still reported). Minutes are masked like every stored text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import upsert
from models.meeting import (
    MeetingAttendance,
    MeetingMinutes,
    MeetingRecord,
    Occurrence,
    occurrences,
    schedule_of,
)
from models.meeting_extra import extras_between
from models.network import Member, Network, Organization
from models.privacy import Masked, mask
from models.thread import Thread

MINUTES_LIMIT = 8000


@dataclass
class MeetingOfPeriod:
    original: date
    start: datetime | None  # when it took place (None: known only from its records)
    attended: list[str] = field(default_factory=list)  # organizations that answered 出席
    absent: list[str] = field(default_factory=list)  # answered 欠席
    discussed: list[tuple[int, str]] = field(default_factory=list)  # (number, 分野)
    minutes: str | None = None
    extra: bool = False  # 臨時会議


def write_minutes(
    session: Session, network: Network, meeting: date, text: str, member: Member | None, now: datetime
) -> Masked:
    """Store (or replace) one meeting's minutes, masked."""
    masked = mask(text[:MINUTES_LIMIT])
    upsert(
        session,
        MeetingMinutes,
        ("network_id", "meeting"),
        network_id=network.id,
        meeting=meeting,
        text=masked.text,
        written_by_id=member.id if member else None,
        written_at=now,
    )
    return masked


def minutes_of(session: Session, network: Network, meeting: date) -> str | None:
    return session.scalar(
        select(MeetingMinutes.text).where(MeetingMinutes.network_id == network.id, MeetingMinutes.meeting == meeting)
    )


def meetings_in(session: Session, network: Network, start: datetime, end: datetime) -> list[MeetingOfPeriod]:
    """The meetings held in [start, end), oldest first, with attendance, threads and minutes."""
    zone_start, zone_end = start.date(), end.date()
    found: dict[date, MeetingOfPeriod] = {}
    schedule = schedule_of(session, network)
    # The rule gives dates before the network existed too: those meetings were never held here.
    since = max(start, network.created_at)
    held: list[Occurrence] = occurrences(session, network, schedule, since, end) if schedule and since < end else []
    for occurrence in held:
        found[occurrence.original] = MeetingOfPeriod(occurrence.original, occurrence.start)
    for extra in extras_between(network, since, end):  # 臨時会議
        found[extra.occurrence.original] = MeetingOfPeriod(
            extra.occurrence.original, extra.occurrence.start, extra=True
        )
    recorded = session.execute(
        select(MeetingRecord.meeting, Thread.number, Thread.category)
        .join(Thread, Thread.id == MeetingRecord.thread_id)
        .where(MeetingRecord.network_id == network.id)
        .order_by(Thread.number)
    ).all()
    minutes = dict(
        session.execute(
            select(MeetingMinutes.meeting, MeetingMinutes.text).where(MeetingMinutes.network_id == network.id)
        ).all()
    )
    dated = {day for day, _, _ in recorded} | set(minutes)
    for day in dated:
        # A meeting the rule does not (or no longer) gives: by its own date.
        if day not in found and zone_start <= day < zone_end:
            found[day] = MeetingOfPeriod(day, None)
    for day, number, category in recorded:
        if day in found:
            found[day].discussed.append((number, category))
    answers = session.execute(
        select(MeetingAttendance.occurrence, MeetingAttendance.answer, Organization.name)
        .join(Organization, Organization.id == MeetingAttendance.organization_id)
        .where(MeetingAttendance.network_id == network.id, MeetingAttendance.occurrence.in_(list(found)))
        .order_by(Organization.name)
    ).all()
    for day, answer, name in answers:
        if answer == "yes":
            found[day].attended.append(name)
        elif answer == "no":
            found[day].absent.append(name)
    for day, meeting in found.items():
        meeting.minutes = minutes.get(day)
    return sorted(found.values(), key=lambda m: m.start.date() if m.start else m.original)
