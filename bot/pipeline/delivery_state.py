"""The sender's writes to the outbox: claiming rows, and recording how each delivery went.

Every function here works inside a transaction the caller owns, so that the sender can record
a round of finished deliveries and claim the next rows in one commit. On SQLite all writers
share one lock: a commit per message, by a dozen sending threads, would keep the worker's
handling (and these threads) waiting for it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot import metrics
from bot.pipeline import outbox
from bot.pipeline.line_client import Outcome, Result
from bot.pipeline.lookups import store_lookup
from bot.replies import compose, messages
from models import Member, Network, OutboxMessage, OutboxStatus, ReplyState, SentMessage
from models.budget import channel_allowance, channel_spent
from models.ledger import (
    Kind,
    LedgerEntry,
    LedgerOutcome,
    month_of,
    next_month_start,
    quota_month,
    stale_reply_drop_reason,
)
from models.outbox import BEARER_TOPIC, without_bearer_links

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
# The sender answers itself for a push in a month LINE already said is spent: no call is made.
KNOWN_MONTHLY_LIMIT = "You have reached your monthly limit. (LINE said so a moment ago: not asked again)"
# How long after it was queued a message is still worth sending; LINE's monthly limit makes a
# push wait for the 1st, and one that would be older than this by then is dropped instead.
WORTH_SENDING = {Kind.MONTHLY_FIGURES: timedelta(days=7), Kind.ACCOMPANY: timedelta(days=7)}


def backoff_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; LINE's Retry-After (if any) is a floor."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


_earlier = aliased(OutboxMessage)
# An earlier row of the lane still to go: pending, or a late reply merged into another row's push
# that has not left yet (merge_stale_in): the lane's next row waits for it either way.
_EARLIER_TO_GO = or_(
    _earlier.status == OutboxStatus.PENDING,
    and_(_earlier.status == OutboxStatus.HELD, _earlier.reply_token.is_not(None), _earlier.carried_by.is_not(None)),
)
_FREE = or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < bindparam("now"))
# Built once: claiming runs after every send, and building the statement cost more than running it.
_DUE_FIRST_OF_LANE = (
    select(OutboxMessage)
    .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= bindparam("now"))
    .where(_FREE)
    .where(
        ~exists().where(
            and_(
                _earlier.lane == OutboxMessage.lane,
                _EARLIER_TO_GO,
                _earlier.id < OutboxMessage.id,
            )
        )
    )
    .order_by(OutboxMessage.id)
    .limit(bindparam("limit"))
)
CLAIMABLE = _DUE_FIRST_OF_LANE.with_for_update(skip_locked=True, of=OutboxMessage)
_REPLY_NOW = and_(
    OutboxMessage.reply_token.is_not(None),
    OutboxMessage.reply_deadline > bindparam("now"),
    OutboxMessage.reply_state == ReplyState.NONE,
)
TAKE = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)), _FREE)
    .values(
        locked_until=bindparam("until"),
        locked_by=bindparam("by"),
        reply_state=case((_REPLY_NOW, ReplyState.ATTEMPTED), else_=OutboxMessage.reply_state),
    )
)


@dataclass
class Attempt:
    """How one try went: LINE's answer, or ``error`` when the request could not even be made."""

    row: OutboxMessage
    result: Result | None  # None: our database failed mid-send; the lease lets the row be retried
    error: str | None = None  # a request we built that the SDK refuses: a bug, the row fails


def claimable_in(session: Session, now: datetime, limit: int, *, lock: bool = True) -> list[OutboxMessage]:
    """The rows a sender would claim now: due, free, first of their lane, one late reply per chat.
    ``lock`` False: only look (rows another sender is claiming this instant are seen, not skipped)."""
    query = CLAIMABLE if lock else _DUE_FIRST_OF_LANE
    return _one_late_reply_per_chat(session, list(session.scalars(query, {"now": now, "limit": limit})), now)


def claim_in(session: Session, now: datetime, limit: int, lease: timedelta, by: str) -> list[OutboxMessage]:
    """Lease the next due rows, at most one per lane (its oldest pending one).

    A reply about to be tried is marked ``attempted`` in the same write: if the process dies
    before it learns LINE's answer, the next try knows the token may have been used.
    The rows come back detached, with ``reply_state`` as it was before this claim.
    """
    rows = claimable_in(session, now, limit)
    if not rows:
        return []
    params = {"ids": [row.id for row in rows], "now": now, "until": now + lease, "by": by}
    taken = session.execute(TAKE, params, execution_options={"synchronize_session": False}).rowcount
    if taken != len(rows):  # another sender won some (compare-and-set): keep only ours
        before = {row.id: row.reply_state for row in rows}
        session.expire_all()
        mine = OutboxMessage.id.in_(list(before)), OutboxMessage.locked_by == by
        rows = list(session.scalars(select(OutboxMessage).where(*mine).order_by(OutboxMessage.id)).all())
        session.expunge_all()
        for row in rows:
            row.reply_state = before[row.id]
    session.expunge_all()
    return rows


def _late(row: OutboxMessage, now: datetime) -> bool:
    """A reply whose token expired unused: it may take the chat's other late replies along."""
    expired = row.reply_deadline is not None and row.reply_deadline <= now
    pushed = stale_reply_drop_reason(row.kind, outcome_unknown=False) is None  # not a dropped acknowledgement
    return row.reply_token is not None and row.reply_state == ReplyState.NONE and expired and pushed


_LATE_IN_FLIGHT = select(OutboxMessage.chat_id).where(
    OutboxMessage.chat_id.in_(bindparam("chats", expanding=True)),
    OutboxMessage.status == OutboxStatus.PENDING,
    OutboxMessage.reply_token.is_not(None),
    OutboxMessage.reply_deadline <= bindparam("now"),
    OutboxMessage.locked_until >= bindparam("now"),
)


def _one_late_reply_per_chat(session: Session, rows: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """Late replies to one chat are claimed one at a time: the one sent takes the others along
    in its push (``merge_stale_in``) instead of each becoming a push of its own."""
    late_chats = {row.chat_id for row in rows if _late(row, now)}
    if not late_chats:
        return rows
    busy = set(session.scalars(_LATE_IN_FLIGHT, {"chats": list(late_chats), "now": now}))
    kept = []
    for row in rows:
        if _late(row, now):
            if row.chat_id in busy:
                continue
            busy.add(row.chat_id)
        kept.append(row)
    return kept


def record_in(session: Session, attempt: Attempt, now: datetime, max_age: timedelta) -> bool:
    """Write how the attempt went; True when the row reached a final state (sent or failed)."""
    row, result = attempt.row, attempt.result
    if attempt.error is not None or result is not None:
        settled = session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == row.id))
        if settled != OutboxStatus.PENDING:
            # Its lease lapsed mid-try (a stalled process) and another try already settled it:
            # a final state never changes, or a message LINE took would read as dropped or failed.
            log.warning("outbox #%s: already %s by another try; this try's answer is not recorded", row.id, settled)
            return True
    if attempt.error is not None:
        mark_in(session, row, OutboxStatus.FAILED, now, error=attempt.error)
        return True
    if result is None:
        return False
    if row.chat_id.startswith("lookup:"):
        return _record_lookup(session, row, result, now, max_age)
    if result.outcome in (Outcome.SENT, Outcome.ALREADY_ACCEPTED):
        via = result.via or "push"
        mark_in(session, row, OutboxStatus.SENT, now, request_id=result.request_id, via=via, sent_ids=result.sent_ids)
        if via == "push":
            count_push_in(session, row, result.recipients, now)
        if row.carries:
            riders_sent_in(session, row, via, now)
        log.info("outbox #%s: sent to %s by %s", row.id, row.chat_id, via)
        metrics.message_sent((now - row.created_at).total_seconds())
        return True
    if result.outcome in (Outcome.RETRY, Outcome.AMBIGUOUS):
        return retry_later_in(session, row, result, now, max_age)
    if result.outcome == Outcome.MONTHLY_LIMIT:
        return wait_for_next_month_in(session, row, result, now, max_age)
    if result.outcome == Outcome.NOT_SENT:
        drop_in(session, row, result.message, now)
        return True
    log.error("outbox #%s: LINE refused it (%s %s)", row.id, result.status, result.message)
    error = f"{result.outcome}: {result.status} {result.message}".strip()
    mark_in(session, row, OutboxStatus.FAILED, now, error=error)
    return True


def _record_lookup(session: Session, row: OutboxMessage, result: Result, now: datetime, max_age: timedelta) -> bool:
    if result.outcome in (Outcome.RETRY, Outcome.AMBIGUOUS):
        return retry_later_in(session, row, result, now, max_age)
    store_lookup(session, row.messages[0], result, now)
    mark_in(session, row, OutboxStatus.SENT, now, request_id=result.request_id, via="lookup")
    return True


def retry_later_in(session: Session, row: OutboxMessage, result: Result, now: datetime, max_age: timedelta) -> bool:
    if now - row.created_at > max_age:
        # LINE remembers a retry key for 24 hours; past that a retry could deliver twice.
        error = f"gave up after {row.attempts + 1} attempts: {result.message}"
        mark_in(session, row, OutboxStatus.FAILED, now, error=error)
        return True
    delay = backoff_delay(row.attempts + 1, result.retry_after)
    log.warning(
        "outbox #%s: %s (%s); retry %d in %.1fs",
        row.id,
        result.message or result.outcome,
        result.status,
        row.attempts + 1,
        delay,
    )
    values = {
        "id": row.id,
        "attempts": row.attempts + 1,
        "next_attempt_at": now + timedelta(seconds=delay),
        "last_error": f"{result.status} {result.message}".strip(),
        "locked_until": None,
        "locked_by": None,
    }
    session.execute(update(OutboxMessage), [values])
    return False


def count_push_in(session: Session, row: OutboxMessage, recipients: int | None, now: datetime) -> None:
    """The ledger row for a push LINE accepted: what it counts, in the transaction that marks it sent."""
    to_user = row.chat_id.startswith("U")
    network_id = row.network_id
    if network_id is None and not to_user:
        network_id = session.scalar(select(Network.id).where(Network.group_id == row.chat_id))
    if recipients is None:  # LINE could not say: the members Kasane knows
        recipients = 1 if to_user else _known_members(session, network_id)
    session.execute(
        insert(LedgerEntry),
        [
            {
                "month": month_of(now),
                "at": now,
                "outbox_id": row.id,
                "network_id": network_id,
                "kind": row.kind,
                "outcome": LedgerOutcome.SENT,
                "counted": recipients,
                "recipients": "user" if to_user else "group",
            }
        ],
    )
    tell_when_spent_in(session, now)


def tell_when_spent_in(session: Session, now: datetime, *, spent_up: bool = False) -> None:
    """At 80 % and at 100 % of the month's allowance, every network's group is told once, in its
    next free reply (a held notice, most important first); the 送信数 page shows it too."""
    allowance = channel_allowance(session, now)
    spent = allowance if spent_up else channel_spent(session, now)
    if spent * 100 < allowance * 80:
        return  # nothing to tell: the quota row is not touched (a push is recorded without it)
    quota = quota_month(session, month_of(now))
    for share, told in ((100, "told_100_at"), (80, "told_80_at")):
        if spent * 100 >= allowance * share and getattr(quota, told) is None:
            setattr(quota, told, now)
            if share == 100:
                quota.told_80_at = quota.told_80_at or now  # one notice, not two at once
            _hold_budget_notice(session, now, share, spent, allowance)
            return


def _hold_budget_notice(session: Session, now: datetime, share: int, spent: int, allowance: int) -> None:
    text = (messages.BUDGET_SPENT if share == 100 else messages.BUDGET_80).format(spent=spent, allowance=allowance)
    for network_id, group_id in session.execute(select(Network.id, Network.group_id).where(Network.active)):
        key = f"budget:{month_of(now)}:{share}:{network_id}"
        if outbox.already_queued(session, key):
            continue
        try:
            with session.begin_nested():  # another sender may tell at the same moment: once, by the key
                outbox.enqueue(
                    session,
                    group_id,
                    [compose.text(text)],
                    now=now,
                    kind=Kind.BUDGET_NOTICE,
                    network_id=network_id,
                    hold_until=next_month_start(now),
                    dedupe_key=key,
                )
        except IntegrityError:
            log.info("budget notice %s was queued by another sender", key)


def riders_sent_in(session: Session, row: OutboxMessage, via: str, now: datetime) -> None:
    """Held messages that went out with ``row``: sent now, by a free reply ("ride") or in its push ("fold")."""
    riders = list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.carried_by == row.id, OutboxMessage.status == OutboxStatus.HELD)
        )
    )
    how = "ride" if via == "reply" else "fold"
    for rider in riders:
        rider.status, rider.sent_at, rider.sent_via = OutboxStatus.CARRIED, now, how
        outcome = LedgerOutcome.RIDDEN if how == "ride" else LedgerOutcome.FOLDED
        record_unsent_in(session, rider, outcome, f"{how}:{row.id}", now)
    session.flush()


def _known_members(session: Session, network_id: int | None) -> int:
    if network_id is None:
        return 0
    count = session.scalar(
        select(func.count(Member.id)).where(Member.network_id == network_id, Member.left_at.is_(None))
    )
    return int(count or 0)


def wait_for_next_month_in(
    session: Session, row: OutboxMessage, result: Result, now: datetime, max_age: timedelta
) -> bool:
    """LINE's monthly limit: not a rate limit, so never retried this month. The row waits for the
    1st, or is dropped (failed, with the reason, and a ledger row) when it would be stale by then."""
    quota = quota_month(session, month_of(now))
    quota.exhausted_at = quota.exhausted_at or now
    if quota.told_100_at is None:
        tell_when_spent_in(session, now, spent_up=True)
    first = next_month_start(now)
    worth = WORTH_SENDING.get(row.kind, max_age)  # type: ignore[call-overload]
    if first - row.created_at > worth:
        log.warning("outbox #%s: the month's messages are used up; dropped (stale by the 1st)", row.id)
        mark_in(session, row, OutboxStatus.FAILED, now, error=f"monthly_limit: 429 {result.message}")
        record_unsent_in(session, row, LedgerOutcome.DROPPED, "monthly_limit", now)
        return True
    log.warning("outbox #%s: the month's messages are used up; waits for the 1st", row.id)
    values = {
        "id": row.id,
        "next_attempt_at": first,
        "last_error": f"monthly_limit: 429 {result.message}",
        "locked_until": None,
        "locked_by": None,
    }
    session.execute(update(OutboxMessage), [values])
    return False


def record_unsent_in(session: Session, row: OutboxMessage, outcome: str, reason: str, now: datetime) -> None:
    """A ledger row for a message Kasane did not push (dropped, carried by a reply, folded): counts 0."""
    network_id = row.network_id
    if network_id is None and not row.chat_id.startswith("U"):
        network_id = session.scalar(select(Network.id).where(Network.group_id == row.chat_id))
    session.execute(
        insert(LedgerEntry),
        [
            {
                "month": month_of(now),
                "at": now,
                "outbox_id": row.id,
                "network_id": network_id,
                "kind": row.kind,
                "outcome": outcome,
                "counted": 0,
                "recipients": "user" if row.chat_id.startswith("U") else "group",
                "reason": reason[:200],
            }
        ],
    )


def drop_in(session: Session, row: OutboxMessage, reason: str, now: datetime) -> None:
    """Not sent, on purpose (a stale acknowledgement): dropped with its reason, in the ledger too.
    What rode on it waits again for another reply (or its own deadline)."""
    if row.carries:
        session.execute(update(OutboxMessage).where(OutboxMessage.carried_by == row.id).values(carried_by=None))
    values = {
        "id": row.id,
        "status": OutboxStatus.DROPPED,
        "last_error": reason,
        "locked_until": None,
        "locked_by": None,
    }
    session.execute(update(OutboxMessage), [values])
    row.status = OutboxStatus.DROPPED
    record_unsent_in(session, row, LedgerOutcome.DROPPED, reason, now)
    log.info("outbox #%s (%s): its reply token expired; dropped (%s)", row.id, row.kind, reason)


_earlier_in_lane = aliased(OutboxMessage)
# Other replies to the same chat that missed their tokens too, and could leave now: unleased, the
# oldest pending of their lane (or next after the push that takes them), not themselves carriers.
STALE_SIBLINGS = (
    select(OutboxMessage)
    .where(
        OutboxMessage.chat_id == bindparam("chat_id"),
        OutboxMessage.id != bindparam("carrier"),
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.reply_token.is_not(None),
        or_(OutboxMessage.reply_deadline <= bindparam("now"), OutboxMessage.reply_state == ReplyState.REJECTED),
        # Never tried by push (an unknown reply outcome, or a push in doubt, is decided on its own).
        OutboxMessage.reply_state.in_([ReplyState.NONE, ReplyState.REJECTED]),
        OutboxMessage.kind != Kind.ACK,  # dropped on its own
        OutboxMessage.carries == 0,
        OutboxMessage.next_attempt_at <= bindparam("now"),
        _FREE,
        ~exists().where(
            and_(
                _earlier_in_lane.lane == OutboxMessage.lane,
                _earlier_in_lane.status == OutboxStatus.PENDING,
                _earlier_in_lane.id < OutboxMessage.id,
                _earlier_in_lane.id != bindparam("carrier"),
            )
        ),
    )
    .order_by(OutboxMessage.id)
    .with_for_update(skip_locked=True, of=OutboxMessage)
)
TAKE_SIBLING = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("row_id"), OutboxMessage.status == OutboxStatus.PENDING, _FREE)
    .values(status=OutboxStatus.HELD, carried_by=bindparam("carrier"), next_attempt_at=bindparam("now"))
)


def merge_stale_in(session: Session, row: OutboxMessage, now: datetime) -> list[dict[str, Any]] | None:
    """A reply that missed its token is about to be pushed: the other stale replies waiting for the
    same chat go in the same push (one request, up to 5 balloons, a line saying why they are late),
    not one push each. Their rows are held, carried by ``row``: marked sent when it is, or waiting
    again if it fails (delivery_state.mark_in). The push's new messages, or None when nothing joined.
    Called once per row (it leaves the row ``expired``, written with the merge, before the push), so
    a retried push keeps its content under its retry key."""
    room = outbox.MAX_MESSAGES_PER_REQUEST - len(row.messages) - 1  # one balloon for the header
    session.execute(update(OutboxMessage), [{"id": row.id, "reply_state": ReplyState.EXPIRED}])
    params = {"chat_id": row.chat_id, "carrier": row.id, "now": now}
    taken: list[OutboxMessage] = []
    for sibling in session.scalars(STALE_SIBLINGS, params):
        if len(sibling.messages) > room:
            continue
        took = session.execute(
            TAKE_SIBLING,
            {"row_id": sibling.id, "carrier": row.id, "now": now},
            execution_options={"synchronize_session": False},
        ).rowcount
        if took:
            taken.append(sibling)
            room -= len(sibling.messages)
    if not taken:
        return None
    merged = outbox.quick_replies_last(
        [compose.text(messages.STALE_REPLIES_HEADER), *row.messages, *(m for s in taken for m in s.messages)]
    )
    session.execute(update(OutboxMessage), [{"id": row.id, "messages": merged, "carries": len(taken)}])
    row.carries = len(taken)
    log.info("outbox #%s: its reply token expired; %d other late replies join its push", row.id, len(taken))
    return merged


def set_reply_state_in(session: Session, row: OutboxMessage, state: ReplyState) -> None:
    session.execute(update(OutboxMessage), [{"id": row.id, "reply_state": state}])
    row.reply_state = state


def mark_in(
    session: Session,
    row: OutboxMessage,
    status: OutboxStatus,
    now: datetime,
    *,
    error: str | None = None,
    request_id: str | None = None,
    via: str | None = None,
    sent_ids: list[str] | None = None,
) -> None:
    if status == OutboxStatus.FAILED and row.carries:
        # What rode on it waits again for another reply (or its own deadline).
        session.execute(update(OutboxMessage).where(OutboxMessage.carried_by == row.id).values(carried_by=None))
    values: dict[str, object] = {"id": row.id, "status": status, "locked_until": None, "locked_by": None}
    if row.topic == BEARER_TOPIC:
        # A sign-in link or calendar URL: LINE has it now (or refused it for good); the row keeps
        # a placeholder, so a copy of the database never signs anyone in (issue 18, finding 3).
        values["messages"] = without_bearer_links(row.messages)
    if status == OutboxStatus.SENT:
        values.update(sent_at=now, line_request_id=request_id, sent_via=via)
        if row.topic and sent_ids:
            # Remember what the bot's messages were about, for quote-replies to them.
            known = [{"line_message_id": line_id[:32], "outbox_id": row.id} for line_id in sent_ids]
            session.execute(_insert_new(session, SentMessage), known)
    if error is not None:
        values["last_error"] = error
    session.execute(update(OutboxMessage), [values])  # by primary key: one cached statement
    row.status = status


def _insert_new(session: Session, model: Any) -> Any:
    """INSERT that leaves rows already there alone (a 409 replay returns the same message ids)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(model).on_conflict_do_nothing()
    return sqlite_insert(model).on_conflict_do_nothing()
