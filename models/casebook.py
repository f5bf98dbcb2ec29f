"""見守り and 事例集: what was learned, shared across the city (情報発信).

A coordinator marks a closed thread 事例として共有 (a SHARED event; unmarking is another). The
事例集 lists the marked threads anonymised: number, 分野, 地区, the masked summary with the
network's organization names taken out, and how it went (the outcome, the kind of つなぎ, how many
伝手 and offers, days to the end) — no organization's name unless it agreed to be named.

Agreeing (or withdrawing) is recorded in ``network.settings["casebook_naming"]``, a list only ever
appended to: ``{"org": id, "named": bool, "by": member id, "at": ISO datetime}``; the last entry of
an organization stands. By default an organization is not named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.casework import OUTCOME_LABELS, record_event
from models.categories import categories_of
from models.connections import REFERRAL_KIND_LABELS
from models.network import Member, Network, Organization
from models.thread import EventKind, Outcome, Thread, ThreadEvent, ThreadState

ORGANIZATION = "（団体）"
NAMING = "casebook_naming"


def naming_log(network: Network) -> list[dict[str, Any]]:
    return list((network.settings or {}).get(NAMING, []))


def named_organizations(network: Network) -> set[int]:
    """The organizations that agreed, as things stand (the last entry of each)."""
    named: dict[int, bool] = {}
    for entry in naming_log(network):
        if isinstance(entry, dict) and isinstance(entry.get("org"), int):
            named[entry["org"]] = bool(entry.get("named"))
    return {org for org, yes in named.items() if yes}


def set_named(network: Network, organization: Organization, actor: Member | None, named: bool, now: datetime) -> bool:
    """Record that ``organization`` agrees (or no longer agrees) to be named; False when it already stood so."""
    if (organization.id in named_organizations(network)) == named:
        return False
    entry = {"org": organization.id, "named": named, "by": actor.id if actor else None, "at": now.isoformat()}
    network.settings = {**(network.settings or {}), NAMING: [*naming_log(network), entry]}
    return True


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
    organization: str = ""  # the poster's organization, only when it agreed to be named


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
    organizations = list(session.scalars(select(Organization).where(Organization.network_id == network.id)))
    named = named_organizations(network)
    agreed = {o.id: o.name for o in organizations if o.id in named}
    # Longest first, so 東部包括支援センター goes before 東部包括; a name that agreed stays.
    names = sorted((o.name for o in organizations if o.id not in named), key=len, reverse=True)
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
                agreed.get(thread.organization_id or 0, ""),
            )
        )
    return stories
