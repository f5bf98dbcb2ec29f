"""Queueing outgoing messages. Handlers and jobs call these; only the sender talks to LINE."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import OutboxMessage

# LINE: "use the reply token within one minute". Keep a margin for the sender's queue.
REPLY_TOKEN_LIFETIME = timedelta(seconds=50)
MAX_MESSAGES_PER_REQUEST = 5

Message = dict[str, Any]


def _chunks(messages: list[Message]) -> list[list[Message]]:
    return [messages[i : i + MAX_MESSAGES_PER_REQUEST] for i in range(0, len(messages), MAX_MESSAGES_PER_REQUEST)]


def enqueue(
    session: Session,
    chat_id: str,
    messages: list[Message],
    *,
    now: datetime,
    reply_token: str | None = None,
    dedupe_key: str | None = None,
    topic: str | None = None,
) -> list[OutboxMessage]:
    """Add messages for one chat, in order; the reply token (single use) goes on the first row only.

    With a ``dedupe_key`` the caller promises it checked ``already_queued`` in this
    transaction; the unique constraint still stops a concurrent twin at commit.
    """
    rows = []
    for index, chunk in enumerate(_chunks(messages)):
        key = dedupe_key if index == 0 or dedupe_key is None else f"{dedupe_key}#{index}"
        row = OutboxMessage(
            chat_id=chat_id,
            messages=chunk,
            reply_token=reply_token if index == 0 else None,
            reply_deadline=now + REPLY_TOKEN_LIFETIME if reply_token and index == 0 else None,
            dedupe_key=key,
            topic=topic,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def already_queued(session: Session, dedupe_key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None


def enqueue_lookup(session: Session, lookup: str, *, now: datetime, **params: str) -> None:
    """Ask the sender to fetch something from LINE later (group name, display name).

    The webhook must answer within LINE's 2 seconds without calling LINE, so reads
    go through the outbox too, on their own pseudo-chat so they never delay messages.
    """
    session.add(
        OutboxMessage(
            chat_id=":".join(["lookup", lookup, *params.values()]),
            messages=[{"lookup": lookup, **params}],
            created_at=now,
            next_attempt_at=now,
        )
    )
