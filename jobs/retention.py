"""Retention: a thread's text is erased five years after the 1st of April that follows its end.

The contracts keep business records 「完結の日の属する年度の翌年度の4月1日から5年間」: a thread
closed on 2020-05-01 (fiscal year 2020) is kept until 2026-03-31 and erased from 2026-04-01;
one closed on 2021-03-31 (still fiscal 2020) likewise; one closed on 2021-04-01 (fiscal 2021)
from 2027-04-01. Dates are read in the network's time zone. Open threads (伴走 too) are kept.

Only text goes: the summary, the responses' text, coordinator notes and correction reasons, and
the minutes of meetings held before the same cutoff.
Rows, categories, outcomes, dates and counters stay, so old reports still add up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from jobs import scheduled
from models import EventKind, Network, Response, Thread, ThreadEvent, ThreadState
from models.contract import Contract
from models.dashboard import DashboardSession, LoginToken, ThreadNote
from models.meeting import MeetingMinutes
from models.outbox import erase_thread_messages, trim_delivered

KEEP_YEARS = 5
BATCH = 500
# Sign-in links last ten minutes; the rate limit looks back one hour. Two days is plenty.
KEEP_LOGIN_LINKS = timedelta(days=2)


def fiscal_year(moment: datetime) -> int:
    """Japanese fiscal year (年度): April to March."""
    return moment.year if moment.month >= 4 else moment.year - 1


def erase_from(closed_at: datetime, tz: str) -> datetime:
    """The first moment a thread closed at ``closed_at`` may no longer be kept."""
    fy = fiscal_year(closed_at.astimezone(ZoneInfo(tz)))
    return datetime(fy + 1 + KEEP_YEARS, 4, 1, tzinfo=ZoneInfo(tz))


def cutoff(now: datetime, tz: str) -> datetime:
    """Threads closed before this moment are past retention at ``now``.

    erase_from(c) <= now  ⇔  FY(c) + 6 <= FY(now)  ⇔  c < 1 April of FY(now) - 5.
    """
    return datetime(fiscal_year(now.astimezone(ZoneInfo(tz))) - KEEP_YEARS, 4, 1, tzinfo=ZoneInfo(tz))


def _expired(network: Network, now: datetime, contract: Contract | None = None):  # type: ignore[no-untyped-def]
    tz = network.timezone or "Asia/Tokyo"
    conditions = [
        Thread.network_id == network.id,
        Thread.state == ThreadState.CLOSED,
        Thread.closed_at < cutoff(now, tz),
        Thread.erased_at.is_(None),
    ]
    kept = contract.keeps(tz) if contract else None
    if kept is not None and now < kept[2]:
        # Closed inside the contract period: kept until five years after the April following its end.
        first, after, _ = kept
        conditions.append(or_(Thread.closed_at >= after, *([Thread.closed_at < first] if first else [])))
    return conditions


def count_expired(session: Session, network: Network, now: datetime, contract: Contract | None = None) -> int:
    return session.scalar(select(func.count(Thread.id)).where(*_expired(network, now, contract))) or 0


def erase_threads(session: Session, ids: list[int], now: datetime) -> None:
    session.execute(
        update(Thread).where(Thread.id.in_(ids)).values(summary=None, masked_kinds=[], erased_at=now),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(Response).where(Response.thread_id.in_(ids)).values(text=None),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(ThreadNote).where(ThreadNote.thread_id.in_(ids)).values(text=None),
        execution_options={"synchronize_session": False},
    )
    erase_thread_messages(session, ids, now)  # what the bot said about them, kept in the outbox
    # A correction's reason is free text a coordinator typed: it goes too; the outcome stays.
    events = session.scalars(
        select(ThreadEvent).where(ThreadEvent.thread_id.in_(ids), ThreadEvent.kind == EventKind.OUTCOME)
    )
    for event in events:
        if "reason" in (event.detail or {}):
            event.detail = {k: v for k, v in event.detail.items() if k != "reason"}


def erase_network(
    session: Session,
    network: Network,
    now: datetime,
    *,
    commit: bool = False,
    progress: Callable[[int], None] | None = None,
    contract: Contract | None = None,
) -> int:
    """Erase every expired thread of the network in batches, and the minutes of meetings held
    before the same cutoff; returns how many threads."""
    limit = cutoff(now, network.timezone or "Asia/Tokyo").date()
    session.execute(
        update(MeetingMinutes)
        .where(
            MeetingMinutes.network_id == network.id, MeetingMinutes.meeting < limit, MeetingMinutes.text.is_not(None)
        )
        .values(text=None),
        execution_options={"synchronize_session": False},
    )
    done = 0
    while True:
        expired = _expired(network, now, contract)
        ids = list(session.scalars(select(Thread.id).where(*expired).order_by(Thread.id).limit(BATCH)))
        if not ids:
            return done
        erase_threads(session, ids, now)
        session.flush()
        done += len(ids)
        if commit:
            session.commit()
        if progress:
            progress(done)


@scheduled("cron", hour=3, minute=41)
def erase_expired(session: Session, now: datetime, contract: Contract | None = None) -> int:
    """Daily, not monthly, though every erasure date is a 1st of April: one indexed count per
    network is cheap, and a server down on the night of the 1st must not keep records a
    month longer than the rule allows."""
    networks = session.scalars(select(Network).order_by(Network.id)).all()
    return sum(erase_network(session, network, now, contract=contract) for network in networks)


@scheduled("cron", hour=3, minute=43)
def forget_login_links(session: Session, now: datetime) -> int:
    result = session.execute(delete(LoginToken).where(LoginToken.created_at < now - KEEP_LOGIN_LINKS))
    # Dashboard sessions end after 12 hours at most: their rows are kept no longer than links.
    session.execute(delete(DashboardSession).where(DashboardSession.created_at < now - KEEP_LOGIN_LINKS))
    return result.rowcount or 0


@scheduled("cron", hour=3, minute=47)
def trim_delivered_messages(session: Session, now: datetime) -> int:
    """Delivered messages older than 30 days keep only their kinds, chat, state and times."""
    done = 0
    while batch := trim_delivered(session, now, BATCH):
        session.flush()
        done += batch
    return done
