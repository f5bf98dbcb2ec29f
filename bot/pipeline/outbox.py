"""Queueing outgoing messages. Handlers and jobs call these; only the sender talks to LINE."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.orm import Session

from models import OutboxMessage, OutboxStatus
from models.ledger import Kind, priority_of

# LINE: "use the reply token within one minute". Keep a margin for the sender's queue.
REPLY_TOKEN_LIFETIME = timedelta(seconds=50)
MAX_MESSAGES_PER_REQUEST = 5
# The sender (a process of its own) listens here on PostgreSQL; SQLite's commits wake it anyway.
OUTBOX_CHANNEL = "kasane_outbox"

Message = dict[str, Any]


def quick_replies_last(messages: list[Message]) -> list[Message]:
    """The batch as LINE must get it: quick replies only on its last message.

    LINE shows quick replies only while their message is the last one in the chat, so chips on
    a card followed by a notice would never be seen. Every batch passes here (replies, pushes,
    scheduled sends), also messages appended to a reply after its card: the latest chips of the
    batch move to its last message.
    """
    chips = None
    finished = []
    for message in messages:
        if "quickReply" in message:
            chips = message["quickReply"]
            message = {key: value for key, value in message.items() if key != "quickReply"}
        finished.append(message)
    if chips is not None and finished:
        finished[-1] = {**finished[-1], "quickReply": chips}
    return finished


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
    token_issued_at: datetime | None = None,
    lane: str | None = None,
    kind: str | None = None,
    network_id: int | None = None,
    hold_until: datetime | None = None,
) -> list[int]:
    """Add messages for one chat, in order (their ids); the reply token (single use) goes on the first row only.

    A reply token ages from when LINE sent the event (``token_issued_at``: when the webhook
    recorded it), not from when the worker got to it: after a burst, a token already too old
    is not tried. The message is then pushed, merged with the chat's other late replies, or
    dropped when it only acknowledged an action (``kind``; the sender decides, see
    ``models.ledger.stale_reply_drop_reason``).

    ``kind`` (models.ledger.Kind) says what the message is for: the ledger counts by it and, when
    the month's allowance runs low, its priority decides whether it may still be pushed. Without
    one, a message with a reply token is an answer and one without is a notice.

    ``hold_until``: not pushed; it waits for the next free reply in its chat to ride along on
    (``take_riders``) until then, and the settling job decides what becomes of it after that.

    With a ``dedupe_key`` the caller promises it checked ``already_queued`` in this
    transaction; the unique constraint still stops a concurrent twin (IntegrityError).
    """
    deadline = (token_issued_at or now) + REPLY_TOKEN_LIFETIME if reply_token else None
    messages = quick_replies_last(messages)
    kind = kind or (Kind.ANSWER if reply_token else Kind.NOTICE)
    priority = priority_of(kind)
    rows = [
        {
            "chat_id": chat_id,
            "lane": lane or chat_id,
            "messages": chunk,
            "reply_token": reply_token if index == 0 else None,
            "reply_deadline": deadline if index == 0 else None,
            "dedupe_key": dedupe_key if index == 0 or dedupe_key is None else f"{dedupe_key}#{index}",
            "topic": topic,
            "kind": kind,
            "priority": priority,
            "network_id": network_id,
            "created_at": now,
            "next_attempt_at": hold_until or now,
            **({"status": OutboxStatus.HELD} if hold_until is not None else {}),
        }
        for index, chunk in enumerate(_chunks(messages))
    ]
    return _queue(session, rows)


# A Core statement, not ORM objects: the worker queues a reply for nearly every event it handles,
# and nothing in the transaction refers to these rows afterwards, so the unit of work's
# bookkeeping for them (and the flush of everything else it forced) bought nothing.
QUEUE = insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True)


def _queue(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Every outbox row is written here; the new rows' ids, in order."""
    ids = list(session.connection().execute(QUEUE, rows).scalars())
    # One NOTIFY as the transaction commits (below), however many messages it queued: the
    # worker handles up to a hundred events in one transaction, and each NOTIFY statement is a
    # round trip to the server.
    session.info[NOTIFY_AT_COMMIT] = True
    return ids


NOTIFY_AT_COMMIT = "kasane_notify_sender"


@event.listens_for(Session, "before_commit")
def _notify_at_commit(session: Session) -> None:
    if session.info.pop(NOTIFY_AT_COMMIT, False) and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))


@event.listens_for(Session, "after_soft_rollback")
def _nothing_to_notify(session: Session, previous_transaction: Any) -> None:
    # The whole transaction, not a savepoint: nothing it queued remains. (``after_rollback`` runs
    # while the transaction is still current, so it cannot tell the two apart.)
    if previous_transaction.parent is None:
        session.info.pop(NOTIFY_AT_COMMIT, None)


_HELD = (
    select(OutboxMessage.id, OutboxMessage.messages)
    .where(
        OutboxMessage.chat_id == bindparam("chat_id"),
        OutboxMessage.status == OutboxStatus.HELD,
        OutboxMessage.carried_by.is_(None),
        OutboxMessage.next_attempt_at > bindparam("now"),  # past its time it is no longer news
    )
    .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
    .limit(MAX_MESSAGES_PER_REQUEST)
)


def take_riders(session: Session, chat_id: str, slots: int, now: datetime) -> list[tuple[int, list[Message]]]:
    """Held messages for ``chat_id`` that fit in ``slots`` balloons, most important first: (id, messages)."""
    if slots <= 0:
        return []
    riders = []
    for row_id, messages in session.execute(_HELD, {"chat_id": chat_id, "now": now}):
        if len(messages) <= slots:
            riders.append((row_id, messages))
            slots -= len(messages)
    return riders


def carry(session: Session, carrier_id: int, rider_ids: list[int]) -> None:
    """The riders go out with ``carrier_id``; they are marked sent when it is (delivery_state)."""
    if not rider_ids:
        return
    session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(rider_ids)).values(carried_by=carrier_id))
    session.execute(update(OutboxMessage).where(OutboxMessage.id == carrier_id).values(carries=len(rider_ids)))


def fold_into(session: Session, carrier_id: int, chat_id: str, now: datetime) -> int:
    """A push about to leave for a chat takes the held messages there with it (one request, ≤ 5 balloons)."""
    carrier = session.get(OutboxMessage, carrier_id)
    if carrier is None:
        return 0
    riders = take_riders(session, chat_id, MAX_MESSAGES_PER_REQUEST - len(carrier.messages), now)
    if not riders:
        return 0
    carrier.messages = quick_replies_last([*carrier.messages, *(m for _, ms in riders for m in ms)])
    session.flush()
    carry(session, carrier_id, [row_id for row_id, _ in riders])
    return len(riders)


def already_queued(session: Session, dedupe_key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None


def enqueue_lookup(session: Session, lookup: str, *, now: datetime, **params: str) -> None:
    """Ask the sender to fetch something from LINE later (group name, display name).

    The webhook must answer within LINE's 2 seconds without calling LINE, so reads
    go through the outbox too, on their own pseudo-chat so they never delay messages.
    """
    chat_id = ":".join(["lookup", lookup, *params.values()])
    _queue(
        session,
        [
            {
                "chat_id": chat_id,
                "messages": [{"lookup": lookup, **params}],
                "network_id": None,
                "kind": Kind.LOOKUP,
                "created_at": now,
                "next_attempt_at": now,
            }
        ],
    )
