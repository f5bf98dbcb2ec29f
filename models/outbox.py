"""Outgoing messages: written in the same transaction as the change that causes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
    # What it is for (models.ledger.Kind) and how much it matters when the month's allowance runs low.
    kind: Mapped[str] = mapped_column(String(24), default="answer", server_default="answer")
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    network_id: Mapped[int | None]  # whose budget a push spends (no foreign key: lookups have none)
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
