"""見守り and 事例集: what was learned, shared across the city (情報発信).

A coordinator marks a closed thread 事例として共有 (a SHARED event; unmarking is another). The
事例集 lists the marked threads anonymised: number, 分野, 地区, the masked summary with the
network's organization names taken out, and how it went (the outcome, the kind of つなぎ, how many
伝手 and offers, days to the end) — never an organization's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.casework import OUTCOME_LABELS, record_event
from models.categories import categories_of
from models.connections import REFERRAL_KIND_LABELS
from models.network import Member, Network, Organization
from models.thread import EventKind, Outcome, Thread, ThreadEvent, ThreadState

ORGANIZATION = "（団体）"


def is_shared(session: Session, thread: Thread) -> bool:
    detail = session.scalar(
        select(ThreadEvent.detail)
        .where(ThreadEvent.thread_id == thread.id, ThreadEvent.kind == EventKind.SHARED)
        .order_by(ThreadEvent.id.desc())
        .limit(1)
    )
    return bool((detail or {}).get("shared"))


def set_shared(session: Session, thread: Thread, actor: Member | None, shared: bool, now: datetime) -> bool:
    """Mark (or unmark) a closed thread; False when it is open or already so."""
    if thread.state != ThreadState.CLOSED or is_shared(session, thread) == shared:
        return False
    record_event(session, thread, EventKind.SHARED, now, actor=actor, via="dashboard", shared=shared)
    return True


@dataclass(frozen=True)
class CaseStory:
    number: int
    categories: str
    area: str
    summary: str
    outcome: str
    connections: int
    offers: int
    days: int | None


def casebook(session: Session, network: Network) -> list[CaseStory]:
    """The threads marked 事例として共有 now, anonymised, by number."""
    last = (
        select(func.max(ThreadEvent.id))
        .join(Thread, Thread.id == ThreadEvent.thread_id)
        .where(Thread.network_id == network.id, ThreadEvent.kind == EventKind.SHARED)
        .group_by(ThreadEvent.thread_id)
    )
    marked = [
        thread_id
        for thread_id, detail in session.execute(
            select(ThreadEvent.thread_id, ThreadEvent.detail).where(ThreadEvent.id.in_(last))
        )
        if (detail or {}).get("shared")
    ]
    names = sorted(
        session.scalars(select(Organization.name).where(Organization.network_id == network.id)), key=len, reverse=True
    )
    stories = []
    for thread in session.scalars(select(Thread).where(Thread.id.in_(marked)).order_by(Thread.number)):
        summary = thread.summary or "（本文は保存期間を過ぎて消去されました）"
        for name in names:
            summary = summary.replace(name, ORGANIZATION)
        outcome = OUTCOME_LABELS[Outcome(thread.outcome)] if thread.outcome else "-"
        if thread.outcome == Outcome.REFERRED:
            kind = session.scalar(
                select(ThreadEvent.detail)
                .where(ThreadEvent.thread_id == thread.id, ThreadEvent.kind == EventKind.OUTCOME)
                .order_by(ThreadEvent.id.desc())
                .limit(1)
            )
            label = REFERRAL_KIND_LABELS.get((kind or {}).get("referral_kind") or "formal", "")
            outcome += f"（{label}）"  # the kind, never the destination's name
        days = (thread.closed_at - thread.posted_at).days if thread.closed_at else None
        stories.append(
            CaseStory(
                thread.number,
                "・".join(categories_of(session, thread)),
                thread.area or "-",
                summary,
                outcome,
                thread.connection_count,
                thread.offer_count,
                days,
            )
        )
    return stories
