"""Webhook events already handled, keyed by LINE's webhookEventId (never their content)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ProcessedEvent(Base):
    __tablename__ = "processed_events"

    # LINE redelivers with the same webhookEventId; the primary key makes a second
    # handling of the same event fail inside its own transaction.
    event_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    redelivery: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
