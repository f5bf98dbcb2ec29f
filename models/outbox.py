"""Outgoing messages: written in the same transaction as the change that causes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Waits for a free reply in its chat to ride along on (``next_attempt_at``: until when);
    # then models.ledger decides: pushed, or dropped with its reason (never pushed by habit).
    HELD = "held"
    DROPPED = "dropped"  # not sent, on purpose: ``last_error`` says why
    # Went out inside another row's request (``carried_by``): a free reply it rode on ("ride"),
    # or a push it was folded into ("fold"); ``sent_at`` says when.
    CARRIED = "carried"


class ReplyState(StrEnum):
    NONE = "none"  # no reply token, or not tried yet
    ATTEMPTED = "attempted"  # a reply call started; its outcome is unknown until recorded
    REJECTED = "rejected"  # LINE refused the token: push instead
    EXPIRED = "expired"  # the token expired unused: pushed (once the other late replies joined it)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat_status", "chat_id", "status", "id"),
        Index("ix_outbox_lane_status", "lane", "status", "id"),
        Index("ix_outbox_topic", "topic"),  # a thread's rows, erased with its text
        Index("ix_outbox_sent_trimmed", "trimmed_at", "sent_at"),  # delivered rows not yet trimmed
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # also the send order per chat
    retry_key: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    # For scheduled sends: one row per (thread, step) or (meeting, kind), ever.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    # Rows of one lane are sent one after another, in id order; lanes are sent side by side.
    # A lane is a chat, or in a group one member's answers: dozens of people pressing 出席 at
    # once each get their answer without waiting behind everyone else's.
    lane: Mapped[str] = mapped_column(String(200), default=lambda context: context.get_current_parameters()["chat_id"])
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reply_token: Mapped[str | None] = mapped_column(String(64))
    reply_deadline: Mapped[datetime | None]
    reply_state: Mapped[str] = mapped_column(String(16), default=ReplyState.NONE)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    line_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    sent_via: Mapped[str | None] = mapped_column(String(8))
    # What the message is about ("thread:12"), so a quote-reply to it finds its subject.
    topic: Mapped[str | None] = mapped_column(String(64))
    # The network whose business it is (None: the person's own 1:1 business, a lookup): the
    # dashboard's 送信の状況 lists only its own network's, even to a member of several, and
    # whose budget a push spends.
    # (No foreign key: adding one to SQLite's outbox would copy the table; see migration 0012.)
    network_id: Mapped[int | None] = mapped_column(index=True)
    # When a delivered row's contents were cut down to its kinds (``trim_delivered``).
    trimmed_at: Mapped[datetime | None]
    # What it is for (models.ledger.Kind) and how much it matters when the month's allowance runs low.
    kind: Mapped[str] = mapped_column(String(24), default="answer", server_default="answer")
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    # A held row rides on (or is folded into) the row with this id; a carrier counts its riders.
    carried_by: Mapped[int | None] = mapped_column(index=True)
    carries: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class SentMessage(Base):
    """Ids LINE gave to what the bot sent (``sentMessages`` in the send's response).

    Only the response tells the bot its own message ids; a member quoting the bot's card
    sends back one of these as ``quotedMessageId``.
    """

    __tablename__ = "sent_messages"

    line_message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)


# --- nothing sensitive outlives its purpose (issue 18, finding 3) ---------------------------------
# Rows carrying a bearer link (a sign-in link, a calendar URL) are queued with this topic: once
# LINE took them (or refused them for good) the link in the row becomes a placeholder.
BEARER_TOPIC = "bearer-link"
BEARER_PATHS = ("/dashboard/login/", "/calendar/")
BEARER_PLACEHOLDER = "(link sent; not kept)"
ERASED_ERROR = "erased: the text it carried was removed (unsend or retention)"
# Delivered rows older than this keep only their kinds, chat, state and times.
KEEP_DELIVERED_TEXT = timedelta(days=30)


def without_bearer_links(value: Any) -> Any:
    """``value`` (a message, a list of them) with every string holding a bearer link replaced."""
    if isinstance(value, str):
        return BEARER_PLACEHOLDER if any(path in value for path in BEARER_PATHS) else value
    if isinstance(value, list):
        return [without_bearer_links(item) for item in value]
    if isinstance(value, dict):
        return {key: without_bearer_links(item) for key, item in value.items()}
    return value


def kinds_only(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": str(message.get("type", ""))} for message in messages if isinstance(message, dict)]


def thread_topic(thread_id: int) -> str:
    return f"thread:{thread_id}"


def erase_thread_messages(session: Session, thread_ids: list[int], now: datetime) -> None:
    """The outbox's copies of what the bot said about these threads go with the threads' text:
    sent or failed rows keep their kinds only; a row still waiting is not sent any more."""
    if not thread_ids:
        return
    topics = [thread_topic(thread_id) for thread_id in thread_ids]
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.messages, OutboxMessage.status).where(OutboxMessage.topic.in_(topics))
    ).all()
    changes: list[dict[str, Any]] = []
    for row_id, messages, status in rows:
        change: dict[str, Any] = {"id": row_id, "messages": kinds_only(messages or []), "trimmed_at": now}
        if status == OutboxStatus.PENDING:
            change.update(status=OutboxStatus.FAILED, last_error=ERASED_ERROR, reply_token=None)
        changes.append(change)
    if changes:
        session.execute(update(OutboxMessage), changes, execution_options={"synchronize_session": False})


def trim_delivered(session: Session, now: datetime, limit: int = 500) -> int:
    """Delivered rows older than ``KEEP_DELIVERED_TEXT``: only kind, chat, state and times stay
    (their ids and keys too: a scheduled send's key must stay unique for ever). One batch."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.messages)
        .where(
            OutboxMessage.trimmed_at.is_(None),
            OutboxMessage.sent_at < now - KEEP_DELIVERED_TEXT,
            OutboxMessage.status == OutboxStatus.SENT,
        )
        .limit(limit)
    ).all()
    changes = [
        {"id": row_id, "messages": kinds_only(messages or []), "trimmed_at": now, "reply_token": None}
        for row_id, messages in rows
    ]
    if changes:
        session.execute(update(OutboxMessage), changes, execution_options={"synchronize_session": False})
    return len(changes)
