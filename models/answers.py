"""Which thread a person's next line answers: a pending answer after a button press, or a
quote-reply to the bot's card or to the original post."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from models.base import upsert
from models.outbox import OutboxMessage, SentMessage
from models.thread import PendingAnswer, ResponseKind, Thread

# Every text message that no command matched runs these: built once (see models/membership.py).
_PENDING = select(PendingAnswer).where(
    PendingAnswer.network_id == bindparam("network_id"), PendingAnswer.line_user_id == bindparam("line_user_id")
)
_QUOTED_TOPIC = (
    select(OutboxMessage.topic)
    .join(SentMessage, SentMessage.outbox_id == OutboxMessage.id)
    .where(SentMessage.line_message_id == bindparam("quoted"))
)
_QUOTED_POST = select(Thread).where(
    Thread.network_id == bindparam("network_id"), Thread.message_id == bindparam("quoted")
)


def await_answer(
    session: Session, network_id: int, line_user_id: str, thread: Thread, kind: ResponseKind, expires_at: datetime
) -> None:
    """One pending answer per person and group: pressing another button replaces it."""
    upsert(
        session,
        PendingAnswer,
        ("network_id", "line_user_id"),
        network_id=network_id,
        line_user_id=line_user_id,
        thread_id=thread.id,
        kind=kind,
        expires_at=expires_at,
    )


def take_pending_answer(session: Session, network_id: int, line_user_id: str) -> PendingAnswer | None:
    """The person's pending answer, removed (used or expired, it is asked once)."""
    pending = session.scalar(_PENDING, {"network_id": network_id, "line_user_id": line_user_id})
    if pending is not None:
        session.delete(pending)
    return pending


def quoted_thread(session: Session, network_id: int, quoted_message_id: str) -> Thread | None:
    """The thread of a quoted bot message (its outbox topic) or of a quoted original post."""
    topic = session.scalar(_QUOTED_TOPIC, {"quoted": quoted_message_id})
    if topic and topic.startswith("thread:"):
        thread = session.get(Thread, int(topic.split(":", 1)[1]))
        return thread if thread is not None and thread.network_id == network_id else None
    return session.scalar(_QUOTED_POST, {"network_id": network_id, "quoted": quoted_message_id})
