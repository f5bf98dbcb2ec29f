"""The meeting's agenda, built from the case log, and the record of what was discussed.

The agenda goes to the LINE group, which is not the confidential 支援会議 (社会福祉法 第106条の6):
an item carries only the thread's number, 分野, 地区 and its already masked summary, and a
retracted or erased thread carries no text at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.casework import record_event
from models.consent import shown_in_group
from models.meeting import AgendaChange, MeetingRecord, Occurrence, previous_meeting
from models.network import Member, Network
from models.thread import EventKind, Outcome, Thread, ThreadEvent, ThreadState

CHECKIN_AFTER = timedelta(days=30)  # 伴走 threads come back to the table after a month of silence


@dataclass(frozen=True)
class AgendaItem:
    number: int
    category: str
    area: str | None
    summary: str | None  # masked; None when retracted or erased
    reasons: tuple[str, ...]  # flagged | requested | checkin | added
    consented: bool = False  # 本人同意 あり: only then may LINE messages show the summary


@dataclass(frozen=True)
class Agenda:
    items: list[AgendaItem]
    opened: int  # threads posted since the last meeting
    closed: int  # threads closed since the last meeting
    since: datetime | None


def _latest_events(session: Session, thread_ids: list[int]) -> dict[tuple[int, str], datetime]:
    if not thread_ids:
        return {}
    kinds = (EventKind.DISCUSSED, EventKind.MEETING_REQUESTED, EventKind.FOLLOWUP, EventKind.FLAGGED)
    rows = session.execute(
        select(ThreadEvent.thread_id, ThreadEvent.kind, func.max(ThreadEvent.at))
        .where(ThreadEvent.thread_id.in_(thread_ids), ThreadEvent.kind.in_(kinds))
        .group_by(ThreadEvent.thread_id, ThreadEvent.kind)
    )
    return {(thread_id, kind): at for thread_id, kind, at in rows}


def _reasons(thread: Thread, latest: dict[tuple[int, str], datetime], now: datetime) -> list[str]:
    def last(kind: EventKind) -> datetime | None:
        return latest.get((thread.id, kind))

    discussed = last(EventKind.DISCUSSED)
    reasons = []
    # A flag or a request is answered by discussing the thread once; a new flag brings it back.
    flagged = max(filter(None, [thread.flagged_at, last(EventKind.FLAGGED)]), default=None)
    if thread.is_open and flagged and not (discussed and discussed >= flagged):
        reasons.append("flagged")
    requested = last(EventKind.MEETING_REQUESTED)
    if thread.meeting_requested and not (discussed and requested and discussed >= requested):
        reasons.append("requested")
    if thread.is_open and thread.outcome == Outcome.ACCOMPANYING:
        # Setting 伴走 is itself recent news: count it as contact, like a follow-up or a discussion.
        touched = max(filter(None, [thread.outcome_at, last(EventKind.FOLLOWUP), discussed]), default=None)
        if touched is None or touched < now - CHECKIN_AFTER:
            reasons.append("checkin")
    return reasons


def agenda_changes(session: Session, network: Network, original: date) -> dict[int, str]:
    rows = session.scalars(
        select(AgendaChange).where(AgendaChange.network_id == network.id, AgendaChange.occurrence == original)
    )
    return {row.thread_id: row.action for row in rows}


def build_agenda(session: Session, network: Network, occurrence: Occurrence, now: datetime) -> Agenda:
    candidates = session.scalars(
        select(Thread).where(
            Thread.network_id == network.id,
            (Thread.flagged_at.is_not(None))
            | Thread.meeting_requested
            | ((Thread.outcome == Outcome.ACCOMPANYING) & (Thread.state == ThreadState.OPEN)),
        )
    ).all()
    changes = agenda_changes(session, network, occurrence.original)
    added = [t for t in session.scalars(select(Thread).where(Thread.id.in_(list(changes)))) if changes[t.id] == "add"]
    latest = _latest_events(session, [t.id for t in candidates])
    items: dict[int, AgendaItem] = {}
    consented = shown_in_group(session, [*candidates, *added])
    for thread in [*candidates, *added]:
        reasons = _reasons(thread, latest, now) if thread in candidates else []
        if changes.get(thread.id) == "add":
            reasons.append("added")
        if reasons and changes.get(thread.id) != "drop":
            summary = None if thread.retracted or thread.erased_at else thread.summary
            items[thread.number] = AgendaItem(
                thread.number, thread.category, thread.area, summary, tuple(reasons), thread.id in consented
            )
    previous = previous_meeting(session, network, occurrence.start)
    since = previous.start if previous else None
    return Agenda(sorted(items.values(), key=lambda i: i.number), *_counts(session, network, since, now), since)


def _counts(session: Session, network: Network, since: datetime | None, now: datetime) -> tuple[int, int]:
    since = since or now - CHECKIN_AFTER
    in_network = Thread.network_id == network.id
    opened = session.scalar(select(func.count(Thread.id)).where(in_network, Thread.posted_at >= since))
    closed = session.scalar(
        select(func.count(Thread.id)).where(in_network, Thread.closed_at >= since, Thread.state == ThreadState.CLOSED)
    )
    return opened or 0, closed or 0


def change_agenda(
    session: Session, network: Network, original: date, thread: Thread, action: str, member: Member, now: datetime
) -> None:
    """``議題追加`` / ``議題削除``: the last change to a thread for an occurrence wins."""
    row = session.scalar(
        select(AgendaChange).where(
            AgendaChange.network_id == network.id,
            AgendaChange.occurrence == original,
            AgendaChange.thread_id == thread.id,
        )
    ) or AgendaChange(network_id=network.id, occurrence=original, thread_id=thread.id)
    row.action, row.by_id, row.at = action, member.id, now
    session.add(row)
    session.flush()


def record_discussed(
    session: Session, network: Network, meeting: date, threads: list[Thread], member: Member | None, now: datetime
) -> list[Thread]:
    """``会議記録``: a DISCUSSED event on each thread's timeline, once per meeting; returns the new ones."""
    done = set(
        session.scalars(
            select(MeetingRecord.thread_id).where(
                MeetingRecord.network_id == network.id, MeetingRecord.meeting == meeting
            )
        )
    )
    recorded = []
    for thread in threads:
        if thread.id in done:
            continue
        done.add(thread.id)
        session.add(
            MeetingRecord(
                network_id=network.id,
                meeting=meeting,
                thread_id=thread.id,
                recorded_by_id=member.id if member else None,
                recorded_at=now,
            )
        )
        record_event(session, thread, EventKind.DISCUSSED, now, actor=member, meeting=meeting.isoformat())
        recorded.append(thread)
    session.flush()
    return recorded


def discussed_at(session: Session, network: Network, meeting: date) -> list[int]:
    """Thread numbers recorded for one meeting (for the 月報)."""
    rows = session.scalars(
        select(Thread.number)
        .join(MeetingRecord, MeetingRecord.thread_id == Thread.id)
        .where(MeetingRecord.network_id == network.id, MeetingRecord.meeting == meeting)
        .order_by(Thread.number)
    )
    return list(rows)
