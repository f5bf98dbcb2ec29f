"""Webhook events: the inbox they wait in, and the record of each one handled.

The webhook acknowledges LINE as soon as an event is in the inbox (LINE gives up after 2 s);
the worker handles it later and records its webhookEventId in ``webhook_events``, in the
transaction of the handler's own changes: a redelivered event finds its id there and changes
nothing. The inbox holds an event only until then, sealed with a key the database never holds
(bot/store/sealing.py), so raw text is never readable from the database.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class EventOutcome(StrEnum):
    HANDLED = "handled"
    UNPARSED = "unparsed"  # the SDK cannot validate its shape: acknowledged, not acted on
    INVALID = "invalid"  # a value the database refuses (an over-long id): bad input
    FAILED = "failed"  # a handler bug: the sender got an apology
    UNREADABLE = "unreadable"  # sealed with another key (the channel secret changed)


class WebhookEvent(Base):
    """Every event handled, by LINE's webhookEventId (never its content)."""

    __tablename__ = "webhook_events"

    event_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    redelivery: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))


class InboxEvent(Base):
    """An event acknowledged to LINE and not yet handled, in arrival order.

    On PostgreSQL this table sits beside the others. On SQLite it lives in a file of its own
    (``kasane-inbox.db`` beside ``kasane.db``): SQLite has one write lock per file, and the
    webhook's writes must never wait behind the worker's long handling transactions.
    """

    __tablename__ = "inbox"
    # Never reuse a number (SQLite would, once the table is empty): on SQLite the worker reads
    # only numbers above the last one it handled (bot/pipeline/inbox.py).
    __table_args__ = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # A redelivery that arrives while the first copy still waits is not stored twice.
    event_key: Mapped[str] = mapped_column(String(80), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    redelivery: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
