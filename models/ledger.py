"""The ledger of counted messages: what LINE bills this channel, month by month, and why.

LINE counts a push once per recipient (a group: its members) and a reply not at all
(LINE-NOTES "What messages cost"). Every push Kasane's sender gets accepted is one ledger row,
written in the same transaction as the outbox row's ``sent`` state, so the month's count
survives restarts and never counts a message LINE did not accept. Messages Kasane chose not
to push (dropped, folded into another, carried by a free reply) are rows too, with their
reason, so the 送信数 page can say what was saved and why.

Months are LINE's billing months: calendar months in Japan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import INSERTS, Base, utcnow

JAPAN = ZoneInfo("Asia/Tokyo")


class Kind(StrEnum):
    """What a message is for; the outbox row carries it and the ledger counts by it."""

    ANSWER = "answer"  # an answer to a member's own message or button
    ACK = "ack"  # an answer that only acknowledges an action (recorded, and visible in #N)
    NOTICE = "notice"  # a notice about a thread (the poster's 伝手 notice and the like)
    NUDGE = "nudge"  # 3 days without an answer
    FOLLOWUP_ASK = "followup_ask"  # その後いかがですか
    ACCOMPANY = "accompany"  # 伴走 check-in
    MEETING_WEEK = "meeting_week"  # the 7-day card with the agenda
    MEETING_DAY = "meeting_day"  # the day-before reminder
    MEETING_MORNING = "meeting_morning"
    MEETING_SUMMARY = "meeting_summary"  # for the organizers
    MEETING_HOLIDAY = "meeting_holiday"
    MONTHLY_FIGURES = "monthly_figures"
    LOOKUP = "lookup"  # a read from LINE, not a message
    BUDGET_NOTICE = "budget_notice"  # 80 % / 100 % of the month's allowance used


class Priority(IntEnum):
    """Which messages keep the last part of the month's allowance."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


PRIORITY = {
    Kind.MEETING_WEEK: Priority.HIGH,
    Kind.FOLLOWUP_ASK: Priority.HIGH,
    Kind.NOTICE: Priority.HIGH,
    Kind.BUDGET_NOTICE: Priority.HIGH,
    Kind.NUDGE: Priority.LOW,
    Kind.MEETING_MORNING: Priority.LOW,
    Kind.ANSWER: Priority.LOW,
    Kind.ACK: Priority.LOW,
}


def priority_of(kind: str) -> int:
    return int(PRIORITY.get(kind, Priority.NORMAL))  # type: ignore[call-overload]


# A reply whose token expired before it could be used (a backlog, an outage) would become a push,
# to the whole group in a group chat. What is worth that, by kind:
STALE_ACK = "stale_ack"  # only acknowledged an action: recorded, and visible in #N; dropped
# The reply call was made, its outcome was lost and the token has expired since: LINE most likely
# took it. An answer is dropped (at worst the member asks again); a notice is pushed (at worst twice).
REPLY_OUTCOME_UNKNOWN = "reply_outcome_unknown"


def stale_reply_drop_reason(kind: str, outcome_unknown: bool) -> str | None:
    """Why a reply that missed its token is not pushed, or None when it must still arrive.

    Pushed stale replies to one chat leave merged, in one request (bot/pipeline/sender.py).
    """
    if kind == Kind.ACK:
        return STALE_ACK
    if outcome_unknown and kind == Kind.ANSWER:
        return REPLY_OUTCOME_UNKNOWN
    return None


class LedgerOutcome(StrEnum):
    SENT = "sent"  # LINE accepted the push: ``counted`` is what it billed
    DROPPED = "dropped"  # not sent, with ``reason``
    RIDDEN = "ridden"  # carried by a free reply instead of a push
    FOLDED = "folded"  # joined another push to the same chat


class LedgerEntry(Base):
    __tablename__ = "message_ledger"
    __table_args__ = (Index("ix_message_ledger_month_outcome", "month", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # "2027-02", Japan time
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(index=True)  # no foreign key: retention may delete the row
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(12), default=LedgerOutcome.SENT)
    counted: Mapped[int] = mapped_column(default=0)  # what LINE billed (per recipient)
    recipients: Mapped[str] = mapped_column(String(8), default="group")  # "group" | "user"
    reason: Mapped[str | None] = mapped_column(String(200))


class QuotaMonth(Base):
    """The channel's month as LINE sees it: its limit and count (reconciled), and when it ran out."""

    __tablename__ = "message_quota"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    line_limit: Mapped[int | None]  # None: not read yet, or no limit
    line_usage: Mapped[int | None]  # LINE's own count when last read
    checked_at: Mapped[datetime | None]
    exhausted_at: Mapped[datetime | None]  # LINE answered "You have reached your monthly limit."
    told_80_at: Mapped[datetime | None]  # the organizers were told (once a month each)
    told_100_at: Mapped[datetime | None]


def month_of(at: datetime) -> str:
    return at.astimezone(JAPAN).strftime("%Y-%m")


def next_month_start(at: datetime) -> datetime:
    local = at.astimezone(JAPAN)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=JAPAN).astimezone(UTC)


def counted_in(session: Session, month: str) -> int:
    """What Kasane's own ledger says LINE counted in ``month``."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.counted), 0)).where(
            LedgerEntry.month == month, LedgerEntry.outcome == LedgerOutcome.SENT
        )
    )
    return int(total or 0)


def counted_this_month(session: Session, now: datetime) -> int:
    """The month's counted messages: the larger of Kasane's ledger and LINE's last answer."""
    month = month_of(now)
    own = counted_in(session, month)
    quota = session.get(QuotaMonth, month)
    line = quota.line_usage if quota is not None and quota.line_usage is not None else 0
    return max(own, line)


def quota_month(session: Session, month: str) -> QuotaMonth:
    """The month's row, made if missing (two senders may make it at once: the database decides)."""
    row = session.get(QuotaMonth, month)
    if row is None:
        dialect = session.get_bind().dialect.name
        session.execute(INSERTS[dialect](QuotaMonth).values(month=month).on_conflict_do_nothing())
        row = session.get(QuotaMonth, month)
    assert row is not None
    return row
