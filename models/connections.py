"""つなぎ of every kind, and the resources a network found missing (地域づくり).

A つなぎ records its destination and its kind: a formal agency (フォーマル), an informal place or
person (インフォーマル), or 参加支援 — a place in the community the person joins (a 子ども食堂, a
居場所), counted apart as one of the three pillars of 重層的支援. Formal and informal resources have
no ranking. The kind is said (``#12 つなぎ 居場所カフェ 参加支援``), or read from the destination:
one of the network's own organizations gives its kind; anything else stays formal, as a つなぎ
meant before kinds existed. Both live in the OUTCOME event of the timeline.

足りなかった資源: each network keeps a short list (移動手段, 夜間の居場所…); a thread records the
ones it lacked as MISSING events, and the report counts them for the 地域づくり discussion.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.casework import record_event
from models.network import Member, Network, Organization, OrgKind
from models.thread import EventKind, Thread

RESOURCE_LIMIT = 30  # characters of one resource's name
DEFAULT_RESOURCES = ("移動手段", "夜間の居場所", "緊急の食料", "一時的な住まい", "通訳・手話")


class ReferralKind(StrEnum):
    FORMAL = "formal"
    INFORMAL = "informal"
    PARTICIPATION = "participation"  # 参加支援


REFERRAL_KIND_LABELS = {
    ReferralKind.FORMAL: "フォーマル（専門機関）",
    ReferralKind.INFORMAL: "インフォーマル（地域の人・場）",
    ReferralKind.PARTICIPATION: "参加支援（地域の居場所・活動へ）",
}
# The words people type after the destination.
REFERRAL_KIND_WORDS = {
    "フォーマル": ReferralKind.FORMAL,
    "インフォーマル": ReferralKind.INFORMAL,
    "参加支援": ReferralKind.PARTICIPATION,
}


def organizations_first(session: Session, network: Network, others: tuple[str, ...]) -> tuple[str, ...]:
    """Destinations to offer: the network's organizations first (by name), then ``others``."""
    names = tuple(
        session.scalars(
            select(Organization.name).where(Organization.network_id == network.id).order_by(Organization.name)
        )
    )
    return names + tuple(o for o in others if o not in names)


def split_kind(detail: str) -> tuple[str, ReferralKind | None]:
    """``居場所カフェ 参加支援`` → (居場所カフェ, participation); no kind word → (detail, None)."""
    head, _, last = detail.strip().rpartition(" ")
    kind = REFERRAL_KIND_WORDS.get(last.strip())
    return (head.strip(), kind) if kind and head.strip() else (detail.strip(), None)


def referral_kind(session: Session, network: Network, destination: str, said: ReferralKind | None) -> ReferralKind:
    if said is not None:
        return said
    org_kind = session.scalar(
        select(Organization.kind).where(Organization.network_id == network.id, Organization.name == destination)
    )
    return ReferralKind.INFORMAL if org_kind == OrgKind.INFORMAL else ReferralKind.FORMAL


def resources(network: Network) -> list[str]:
    """The network's list of 足りなかった資源 (the defaults until it keeps its own)."""
    kept = (network.settings or {}).get("resources")
    return list(kept) if isinstance(kept, list) else list(DEFAULT_RESOURCES)


def add_resource(network: Network, name: str) -> bool:
    name = name.strip()[:RESOURCE_LIMIT]
    current = resources(network)
    if not name or name in current:
        return False
    network.settings = {**(network.settings or {}), "resources": [*current, name]}
    return True


def record_missing(
    session: Session, thread: Thread, actor: Member | None, resource: str, now: datetime, *, via: str = "chat"
) -> None:
    record_event(session, thread, EventKind.MISSING, now, actor=actor, via=via, resource=resource)
