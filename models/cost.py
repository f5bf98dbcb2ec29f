"""What the month cost, as LINE counts it: by kind and by network, the plan and what is left, a
projection to the month's end, and what Kasane did not push (dropped, carried by a reply, folded)
and why. Read by ``kasane cost`` and the dashboard's 送信数 page."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.budget import channel_allowance
from models.ledger import JAPAN, LedgerEntry, LedgerOutcome, QuotaMonth, month_of
from models.network import Network


@dataclass
class MonthCost:
    month: str
    counted: int  # Kasane's ledger
    line_usage: int | None  # LINE's own count when last read (this month only)
    allowance: int
    by_kind: list[tuple[str, int, int]] = field(default_factory=list)  # kind, counted, pushes
    by_network: list[tuple[str, int]] = field(default_factory=list)  # network name, counted
    not_pushed: list[tuple[str, str, str, int]] = field(default_factory=list)  # outcome, kind, reason, how many
    projection: int | None = None  # the month's end at this pace (the current month only)

    @property
    def spent(self) -> int:
        return max(self.counted, self.line_usage or 0)

    @property
    def left(self) -> int:
        return max(0, self.allowance - self.spent)


def month_cost(session: Session, month: str, now: datetime) -> MonthCost:
    sent = (LedgerEntry.month == month, LedgerEntry.outcome == LedgerOutcome.SENT)
    counted = int(session.scalar(select(func.coalesce(func.sum(LedgerEntry.counted), 0)).where(*sent)) or 0)
    quota = session.get(QuotaMonth, month)
    cost = MonthCost(
        month=month,
        counted=counted,
        line_usage=quota.line_usage if quota is not None else None,
        allowance=channel_allowance(session, now) if month == month_of(now) else (quota and quota.line_limit) or 0,
    )
    cost.by_kind = [
        (kind, int(total), int(pushes))
        for kind, total, pushes in session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.counted), func.count(LedgerEntry.id))
            .where(*sent)
            .group_by(LedgerEntry.kind)
            .order_by(func.sum(LedgerEntry.counted).desc(), LedgerEntry.kind)
        )
    ]
    cost.by_network = [
        (name or f"#{network_id}" if network_id else "（1:1・ネットワーク外）", int(total))
        for network_id, name, total in session.execute(
            select(LedgerEntry.network_id, Network.name, func.sum(LedgerEntry.counted))
            .outerjoin(Network, Network.id == LedgerEntry.network_id)
            .where(*sent)
            .group_by(LedgerEntry.network_id, Network.name)
            .order_by(func.sum(LedgerEntry.counted).desc())
        )
    ]
    cost.not_pushed = [
        (outcome, kind, (reason or "").split(":")[0], int(n))
        for outcome, kind, reason, n in session.execute(
            select(LedgerEntry.outcome, LedgerEntry.kind, LedgerEntry.reason, func.count(LedgerEntry.id))
            .where(LedgerEntry.month == month, LedgerEntry.outcome != LedgerOutcome.SENT)
            .group_by(LedgerEntry.outcome, LedgerEntry.kind, LedgerEntry.reason)
            .order_by(LedgerEntry.outcome, LedgerEntry.kind)
        )
    ]
    if month == month_of(now):
        local = now.astimezone(JAPAN)
        days = calendar.monthrange(local.year, local.month)[1]
        elapsed = (local.day - 1) + (local.hour * 60 + local.minute) / 1440
        cost.projection = round(cost.spent * days / elapsed) if elapsed >= 1 else None
    return cost
