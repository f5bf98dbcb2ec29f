"""Plain functions that change threads, each leaving a timeline event (called inside one transaction).

Handlers (chat), the dashboard and jobs all go through these, so every change is
recorded the same way: who, when, through which door, and what changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from models.network import Member, Network, Organization
from models.outbox import erase_thread_messages
from models.privacy import Masked, mask
from models.thread import EventKind, Outcome, Response, ResponseKind, Thread, ThreadEvent, ThreadState

SUMMARY_LIMIT = 1000
RESPONSE_LIMIT = 500

OUTCOME_LABELS = {
    Outcome.RESOLVED: "解決",
    Outcome.EASED: "緩和",
    Outcome.REFERRED: "つなぎ",
    Outcome.ACCOMPANYING: "伴走",
    Outcome.ENDED: "終了",
    Outcome.WITHDRAWN: "取り下げ",
}
OUTCOME_BY_LABEL = {label: outcome for outcome, label in OUTCOME_LABELS.items()}

# Built once, with bound parameters: on the per-event path, building a statement and its
# cache key costs more CPU than SQLite takes to run it.
_THREAD_BY_NUMBER = select(Thread).where(
    Thread.network_id == bindparam("network_id"), Thread.number == bindparam("number")
)
_TIMELINE_TAIL = (
    select(ThreadEvent.at, ThreadEvent.kind, ThreadEvent.detail, Organization.name.label("organization"))
    .outerjoin(Organization, Organization.id == ThreadEvent.organization_id)
    .where(ThreadEvent.thread_id == bindparam("thread_id"))
    .order_by(ThreadEvent.id.desc())
    .limit(bindparam("limit"))
)
# One UPDATE takes the row lock on PostgreSQL, so concurrent posts get distinct numbers;
# RETURNING reads the new value in the same statement.
_NEXT_NUMBER = (
    update(Network)
    .where(Network.id == bindparam("network_id"))
    .values(thread_counter=Network.thread_counter + 1)
    .returning(Network.thread_counter)
)
_OPEN = (Thread.network_id == bindparam("network_id"), Thread.state == ThreadState.OPEN)
_OPEN_OLDEST_FIRST = select(Thread).where(*_OPEN).order_by(Thread.posted_at).limit(bindparam("limit"))
_OPEN_COUNT = select(func.count(Thread.id)).where(*_OPEN)
_THREADS_OF_MESSAGE = select(Thread).where(
    Thread.network_id == bindparam("network_id"), Thread.message_id == bindparam("message_id")
)
_RESPONSES_OF_MESSAGE = (
    select(Response)
    .join(Thread)
    .where(Thread.network_id == bindparam("network_id"), Response.message_id == bindparam("message_id"))
)
_WATCHING = select(Response.id).where(
    Response.thread_id == bindparam("thread_id"),
    Response.member_id == bindparam("member_id"),
    Response.kind == ResponseKind.WATCH,
)


def record_event(
    session: Session,
    thread: Thread,
    kind: EventKind,
    now: datetime,
    *,
    actor: Member | None = None,
    via: str = "chat",
    **detail: Any,
) -> ThreadEvent:
    event = ThreadEvent(
        thread_id=thread.id,
        at=now,
        kind=kind,
        actor_id=actor.id if actor else None,
        organization_id=actor.organization_id if actor else None,
        via=via,
        detail=detail,
    )
    session.add(event)
    return event


def next_number(session: Session, network: Network) -> int:
    number = session.execute(
        _NEXT_NUMBER, {"network_id": network.id}, execution_options={"synchronize_session": False}
    ).scalar_one()
    set_committed_value(network, "thread_counter", number)
    return number


def post_thread(
    session: Session,
    network: Network,
    poster: Member,
    text: str,
    now: datetime,
    *,
    message_id: str | None = None,
    category: str = "その他",
    area: str | None = None,
    also: list[str] | None = None,
) -> tuple[Thread, Masked]:
    """Open a thread; only the masked text is kept. ``also``: further 分野 (models.categories)."""
    masked = mask(text[:SUMMARY_LIMIT])
    thread = Thread(
        network_id=network.id,
        number=next_number(session, network),
        poster_id=poster.id,
        organization_id=poster.organization_id,
        summary=masked.text,
        masked_kinds=list(masked.kinds),
        message_id=message_id,
        category=category,
        area=area,
        posted_at=now,
    )
    session.add(thread)
    session.flush()
    extra = {"also": also} if also else {}
    record_event(session, thread, EventKind.POSTED, now, actor=poster, category=category, area=area, **extra)
    return thread, masked


def open_threads(session: Session, network_id: int, limit: int) -> tuple[list[Thread], int]:
    """Open threads oldest first, at most ``limit``, and how many are open in all."""
    threads = list(session.scalars(_OPEN_OLDEST_FIRST, {"network_id": network_id, "limit": limit}))
    total = len(threads)
    if total == limit:  # only a full page can hide more: most networks have fewer open threads
        total = session.scalar(_OPEN_COUNT, {"network_id": network_id}) or total
    return threads, total


def threads_of_message(session: Session, network_id: int, message_id: str) -> list[Thread]:
    """The threads a LINE message posted (unsend and edit follow the message)."""
    return list(session.scalars(_THREADS_OF_MESSAGE, {"network_id": network_id, "message_id": message_id}))


def responses_of_message(session: Session, network_id: int, message_id: str) -> list[Response]:
    return list(session.scalars(_RESPONSES_OF_MESSAGE, {"network_id": network_id, "message_id": message_id}))


def thread_by_number(session: Session, network: Network, number: int) -> Thread | None:
    return session.scalar(_THREAD_BY_NUMBER, {"network_id": network.id, "number": number})


# (at, kind, detail, organization): one line of a thread's timeline, the organization's name or None.
TimelineEntry = Row[tuple[datetime, str, dict[str, Any], str | None]]


def timeline_tail(session: Session, thread: Thread, limit: int) -> list[TimelineEntry]:
    """The thread's last ``limit`` timeline events, oldest first, without loading the rest."""
    rows = session.execute(_TIMELINE_TAIL, {"thread_id": thread.id, "limit": limit}).all()
    return list(reversed(rows))


def can_manage(member: Member | None, thread: Thread) -> bool:
    """The poster's organization, a coordinator or an organizer may record outcomes."""
    if member is None:
        return False
    if member.can_coordinate:
        return True
    if thread.poster_id == member.id:
        return True
    return member.organization_id is not None and member.organization_id == thread.organization_id


def correct(session: Session, thread: Thread, actor: Member | None, now: datetime, **changes: str | None) -> None:
    """Change 分野 or 地区; the previous values stay in the timeline."""
    before = {key: getattr(thread, key) for key in changes}
    for key, value in changes.items():
        setattr(thread, key, value)
    record_event(session, thread, EventKind.CORRECTED, now, actor=actor, before=before, after=changes)


COUNTERS = {
    ResponseKind.CONNECTION: "connection_count",
    ResponseKind.OFFER: "offer_count",
    ResponseKind.COMMENT: "comment_count",
    ResponseKind.WATCH: "watcher_count",
}
EVENT_FOR = {
    ResponseKind.CONNECTION: EventKind.RESPONSE,
    ResponseKind.OFFER: EventKind.RESPONSE,
    ResponseKind.COMMENT: EventKind.COMMENT,
    ResponseKind.WATCH: EventKind.WATCH,
}


def add_response(
    session: Session,
    thread: Thread,
    member: Member,
    kind: ResponseKind,
    text: str | None,
    now: datetime,
    *,
    message_id: str | None = None,
) -> tuple[Response, Masked | None]:
    masked = mask(text[:RESPONSE_LIMIT]) if text else None
    response = Response(
        thread_id=thread.id,
        member_id=member.id,
        organization_id=member.organization_id,
        kind=kind,
        text=masked.text if masked else None,
        message_id=message_id,
        created_at=now,
    )
    session.add(response)
    counter = COUNTERS[kind]
    setattr(thread, counter, getattr(thread, counter) + 1)
    if kind in (ResponseKind.CONNECTION, ResponseKind.OFFER) and thread.first_response_at is None:
        thread.first_response_at = now
    session.flush()
    record_event(session, thread, EVENT_FOR[kind], now, actor=member, response_id=response.id, response_kind=str(kind))
    return response, masked


SAME_RESPONSE_WINDOW = timedelta(days=1)
_SAME_RESPONSE = select(Response.id).where(
    Response.thread_id == bindparam("thread_id"),
    Response.organization_id == bindparam("organization_id"),
    Response.kind == bindparam("kind"),
    Response.text == bindparam("text"),
    Response.created_at >= bindparam("since"),
)


def own_thread(thread: Thread, member: Member) -> bool:
    """The thread is the member's own organization's: its 伝手 would not be a response to it."""
    if thread.poster_id is not None and thread.poster_id == member.id:
        return True
    return member.organization_id is not None and member.organization_id == thread.organization_id


def same_response_recently(
    session: Session, thread: Thread, member: Member, kind: ResponseKind, text: str, now: datetime
) -> bool:
    """The member's organization already gave this thread the same answer within a day (a line sent
    twice, or two colleagues pasting the same note): it counts once."""
    params = {
        "thread_id": thread.id,
        "organization_id": member.organization_id,
        "kind": kind,
        "text": mask(text[:RESPONSE_LIMIT]).text,
        "since": now - SAME_RESPONSE_WINDOW,
    }
    return member.organization_id is not None and session.scalar(_SAME_RESPONSE, params) is not None


def watching(session: Session, thread: Thread, member: Member) -> bool:
    return session.scalar(_WATCHING, {"thread_id": thread.id, "member_id": member.id}) is not None


def set_outcome(
    session: Session,
    thread: Thread,
    actor: Member | None,
    outcome: Outcome,
    now: datetime,
    *,
    referred_to: str | None = None,
    end_reason: str | None = None,
    reason: str | None = None,
    via: str = "chat",
    referral_kind: str | None = None,
) -> ThreadEvent:
    """Record how a thread ended (or that it is accompanied: 伴走 keeps it open).

    ``reason`` is the justification of a correction (the dashboard requires one);
    ``end_reason`` is why a thread ended (終了).
    """
    before = {
        "state": thread.state,
        "outcome": thread.outcome,
        "referred_to": thread.referred_to,
        "end_reason": thread.end_reason,
    }
    thread.outcome = outcome
    thread.outcome_at = now
    thread.referred_to = referred_to if outcome == Outcome.REFERRED else None
    thread.end_reason = end_reason if outcome == Outcome.ENDED else None
    if outcome.closes:
        thread.state = ThreadState.CLOSED
        thread.closed_at = now
    else:
        thread.state = ThreadState.OPEN
        thread.closed_at = None
    detail: dict[str, Any] = {"before": before, "outcome": str(outcome)}
    if thread.referred_to:
        detail["referred_to"] = thread.referred_to
        # formal | informal | participation (models.connections); absent: formal, as before kinds
        detail["referral_kind"] = referral_kind or "formal"
    if thread.end_reason:
        detail["end_reason"] = thread.end_reason
    if reason:
        detail["reason"] = reason
    return record_event(session, thread, EventKind.OUTCOME, now, actor=actor, via=via, **detail)


def reopen(session: Session, thread: Thread, actor: Member | None, now: datetime, *, via: str = "chat") -> ThreadEvent:
    before = {"state": thread.state, "outcome": thread.outcome}
    thread.state = ThreadState.OPEN
    thread.outcome = None
    thread.outcome_at = None
    thread.closed_at = None
    thread.referred_to = None
    thread.end_reason = None
    return record_event(session, thread, EventKind.REOPENED, now, actor=actor, via=via, before=before)


def retract(session: Session, thread: Thread, now: datetime, actor: Member | None = None) -> None:
    """LINE's unsend (by ``actor``, the poster): the stored text goes; the number, state and timeline stay."""
    thread.summary = None
    thread.retracted = True
    record_event(session, thread, EventKind.RETRACTED, now, actor=actor)
    erase_thread_messages(session, [thread.id], now)  # the outbox's copies of its text go too


def edit_summary(session: Session, thread: Thread, text: str, now: datetime) -> Masked:
    masked = mask(text[:SUMMARY_LIMIT])
    thread.summary = masked.text
    thread.masked_kinds = list(masked.kinds)
    record_event(session, thread, EventKind.EDITED, now, masked=list(masked.kinds))
    return masked


def request_meeting(session: Session, thread: Thread, actor: Member | None, now: datetime) -> bool:
    if thread.meeting_requested:
        return False
    thread.meeting_requested = True
    record_event(session, thread, EventKind.MEETING_REQUESTED, now, actor=actor)
    return True
