"""A network's share of the channel's counted messages, and what it may spend them on.

LINE's allowance is the channel's (one LINE Official Account, however many networks' groups it
is in): each active network gets an equal share. The plan is what LINE said (/quota, read by
the reconciling job) or, until then, the largest plan an organizer set (``プラン``); without
either, the free plan's 200.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.ledger import LedgerEntry, LedgerOutcome, Priority, QuotaMonth, counted_in, month_of
from models.network import Member, Network

FREE_PLAN = 200
# コミュニケーションプラン, ライトプラン, スタンダードプラン: counted messages a month.
PLANS = {"無料": FREE_PLAN, "ライト": 5_000, "スタンダード": 30_000}
PLAN_WORDS = {
    "無料": "無料",
    "フリー": "無料",
    "コミュニケーション": "無料",
    "ライト": "ライト",
    "スタンダード": "スタンダード",
}
MAX_PLAN = 10_000_000
# A group notice is pushed straight away only when a push to the whole group costs less than
# this share of the network's month: otherwise it waits for a free reply first.
HOLD_SHARE = 20
RESERVE = 0.2  # the last fifth of the month's share is kept for high-priority messages


def parse_plan(text: str) -> int | None:
    """「無料」「ライト」「スタンダード」 (with or without プラン) or a number of messages; None otherwise."""
    word = unicodedata.normalize("NFKC", text).strip().removesuffix("プラン").strip()
    if word in PLAN_WORDS:
        return PLANS[PLAN_WORDS[word]]
    digits = word.replace(",", "").removesuffix("通")
    if re.fullmatch(r"\d{1,8}", digits) and 0 < int(digits) <= MAX_PLAN:
        return int(digits)
    return None


def set_plan(network: Network, allowance: int) -> None:
    network.settings = {**(network.settings or {}), "plan": allowance}


def channel_allowance(session: Session, now: datetime) -> int:
    quota = session.get(QuotaMonth, month_of(now))
    if quota is not None and quota.line_limit:
        return quota.line_limit
    plans = [
        int(settings["plan"])
        for settings in session.scalars(select(Network.settings).where(Network.active.is_(True)))
        if isinstance(settings, dict) and isinstance(settings.get("plan"), int)
    ]
    return max(plans) if plans else FREE_PLAN


def active_networks(session: Session) -> int:
    return int(session.scalar(select(func.count(Network.id)).where(Network.active.is_(True))) or 0)


def network_share(session: Session, network: Network, now: datetime) -> int:
    return channel_allowance(session, now) // max(1, active_networks(session))


def known_members(session: Session, network: Network) -> int:
    count = session.scalar(
        select(func.count(Member.id)).where(Member.network_id == network.id, Member.left_at.is_(None))
    )
    return max(int(count or 0), int((network.settings or {}).get("member_count") or 0))


def worth_holding(session: Session, network: Network, now: datetime, priority: int = Priority.NORMAL) -> bool:
    """True when a push to the whole group is dear for this network, or the month is into its last
    fifth (kept for high-priority messages): group notices then wait for a free reply."""
    if known_members(session, network) * HOLD_SHARE >= network_share(session, network, now):
        return True
    allowance = channel_allowance(session, now)
    return priority < Priority.HIGH and channel_spent(session, now) >= allowance * (1 - RESERVE)


def spent_by(session: Session, network: Network, month: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.counted), 0)).where(
            LedgerEntry.month == month,
            LedgerEntry.outcome == LedgerOutcome.SENT,
            LedgerEntry.network_id == network.id,
        )
    )
    return int(total or 0)


def channel_spent(session: Session, now: datetime) -> int:
    month = month_of(now)
    quota = session.get(QuotaMonth, month)
    line = quota.line_usage if quota is not None and quota.line_usage is not None else 0
    return max(counted_in(session, month), line)
