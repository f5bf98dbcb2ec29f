"""More than one 分野 per thread: 困り事はきれいに分類できない (the national guidebook).

``Thread.category`` stays the main 分野 (lists, filters and the case log use it); the others a
thread also concerns are kept in the timeline as ``also``: in the POSTED event (what the guess
proposed) and in CORRECTED events (``after.also``) when people add or remove one. The report reads
them as they stood at the period's end and counts a thread under each of its 分野, and as 複合
when it has two or more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.casework import correct, record_event
from models.network import Member
from models.thread import EventKind, Thread, ThreadEvent


def also_of(session: Session, thread: Thread) -> list[str]:
    """The 分野 besides the main one, as the timeline last set them."""
    for kind, detail in session.execute(
        select(ThreadEvent.kind, ThreadEvent.detail)
        .where(ThreadEvent.thread_id == thread.id, ThreadEvent.kind.in_((EventKind.POSTED, EventKind.CORRECTED)))
        .order_by(ThreadEvent.id.desc())
    ):
        detail = detail or {}
        if kind == EventKind.POSTED:
            return [c for c in detail.get("also") or [] if c != thread.category]
        if "also" in (detail.get("after") or {}):
            return [c for c in detail["after"]["also"] or [] if c != thread.category]
    return []


def categories_of(session: Session, thread: Thread) -> list[str]:
    return [thread.category, *also_of(session, thread)]


def _set_also(
    session: Session, thread: Thread, actor: Member | None, before: list[str], after: list[str], now: datetime
) -> None:
    record_event(session, thread, EventKind.CORRECTED, now, actor=actor, before={"also": before}, after={"also": after})


def add_category(session: Session, thread: Thread, actor: Member | None, category: str, now: datetime) -> bool:
    """Add a 分野; False when the thread already has it."""
    also = also_of(session, thread)
    if category == thread.category or category in also:
        return False
    _set_also(session, thread, actor, also, [*also, category], now)
    return True


def remove_category(
    session: Session, thread: Thread, actor: Member | None, category: str, now: datetime
) -> bool | None:
    """Remove a 分野: False when the thread does not have it, None when it is the only one.
    Removing the main 分野 makes the next one main."""
    also = also_of(session, thread)
    if category == thread.category:
        if not also:
            return None
        correct(session, thread, actor, now, category=also[0])
        _set_also(session, thread, actor, also, also[1:], now)
        return True
    if category not in also:
        return False
    _set_also(session, thread, actor, also, [c for c in also if c != category], now)
    return True
