"""On the 1st of each month at 9:00 (network time), last month's figures go 1:1 to the
network's coordinators and organizers, for the 月報 due on the 15th.

A tick every 15 minutes decides per network whether the push is due, so a network in
another time zone, or a server that was down at 9:00, still gets it. Each push has the key
``report:{network}:{YYYY-MM}:{user}``: once, ever, however many processes tick.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.links import Links
from bot.pipeline import outbox
from bot.replies import compose, messages
from jobs import scheduled
from models import Member, Network
from models.dashboard import COORDINATING_ROLES
from models.ledger import Kind, counted_in
from models.membership import is_friend
from models.quiet_days import first_business_day, keeps_quiet_days, quiet_for
from models.report import MonthlyReport, month_period, monthly_report, previous_month

SEND_AT_HOUR = 9
SEND_UNTIL_HOUR = 18  # a late tick waits for the next day rather than pushing in the evening
CATCH_UP_DAYS = 7  # after a week the figures are better read on the dashboard


def due(local: datetime, network: Network | None = None) -> bool:
    """From 9:00 on the 1st, or on the month's first business day for a network keeping quiet days."""
    first = 1
    if network is not None and keeps_quiet_days(network):
        if quiet_for(network, local.date()):
            return False
        first = first_business_day(local.year, local.month).day
    return first <= local.day < first + CATCH_UP_DAYS and SEND_AT_HOUR <= local.hour < SEND_UNTIL_HOUR


def dedupe_key(network: Network, month: str, user: str) -> str:
    return f"report:{network.id}:{month}:{user}"


def coordinators(session: Session, network: Network) -> list[str]:
    return list(
        session.scalars(
            select(Member.line_user_id)
            .where(Member.network_id == network.id, Member.role.in_(COORDINATING_ROLES))
            .order_by(Member.id)
        )
    )


def figures_card(
    network: Network, report: MonthlyReport, year: int, month: int, links: Links, counted: int | None = None
) -> dict[str, Any]:
    label = messages.month_label(year, month)
    values = {
        "received": report.received,
        "connections": report.connections,
        "offers": report.offers,
        "overlap": report.overlap,
        "referred": sum(n for _, n in report.handovers),
        "carried": report.carried_over,
    }
    lines = [line.format(**values) for line in messages.MONTHLY_LINES]
    if counted is not None:  # what the month cost in LINE's counted messages (the whole channel)
        lines.append(messages.MONTHLY_COUNTED.format(counted=counted))
    lines.append(messages.MONTHLY_FOOTER)
    buttons = [
        compose.uri(messages.MONTHLY_OPEN, links.monthly_report(network.id, year, month)),
        # Opening the dashboard needs a fresh one-time link: this button asks for one in this chat.
        {"type": "message", "label": messages.MONTHLY_LOGIN, "text": messages.MONTHLY_LOGIN_TEXT},
    ]
    return compose.card(
        messages.MONTHLY_ALT.format(network=network.name or f"#{network.id}", month=label),
        messages.MONTHLY_TITLE.format(month=label),
        lines,
        buttons,
        subtitle=network.name or None,
    )


def push_network(session: Session, network: Network, now: datetime, links: Links) -> int:
    local = now.astimezone(ZoneInfo(network.timezone or "Asia/Tokyo"))
    if not due(local, network):
        return 0
    year, month = previous_month(local.year, local.month)
    label = f"{year:04d}-{month:02d}"
    waiting = [
        user
        for user in dict.fromkeys(coordinators(session, network))
        if not outbox.already_queued(session, dedupe_key(network, label, user)) and is_friend(session, user)
    ]
    if not waiting:
        return 0
    period = month_period(year, month, network.timezone or "Asia/Tokyo")
    if network.created_at >= period.end:
        return 0  # a network an hour old had no January: its all-zero card is not worth a message
    report = monthly_report(session, network, period)
    card = figures_card(network, report, year, month, links, counted_in(session, label))
    for user in waiting:
        key = dedupe_key(network, label, user)
        outbox.enqueue(session, user, [card], now=now, dedupe_key=key, kind=Kind.MONTHLY_FIGURES, network_id=network.id)
    return len(waiting)


@scheduled("interval", minutes=15)
def push_monthly_figures(session: Session, now: datetime, links: Links) -> int:
    networks = session.scalars(select(Network).where(Network.active).order_by(Network.id)).all()
    return sum(push_network(session, network, now, links) for network in networks)
