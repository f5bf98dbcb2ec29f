"""Delivers outbox rows to LINE: exactly once, in order per chat, surviving crashes and outages.

How "exactly once" holds:
- A push carries ``X-Line-Retry-Key`` = the row's UUID. If we crash after LINE accepted it
  but before we marked the row sent, the retried push gets 409 ("already accepted"): sent.
- A reply token is single use, so retrying a *reply* can never deliver twice. Before a reply
  we commit ``reply_state=attempted``; if that attempt's outcome was lost (crash, timeout) and
  LINE later calls the token invalid while it cannot yet have expired, our own earlier call
  used it: the message was delivered.
- Rows are claimed with a lease (``locked_until``) by compare-and-set, and on PostgreSQL with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so two senders never take the same row.
- A chat's next row waits while an earlier row of that chat is pending, so order holds.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.line_client import LineGateway, Outcome, Result
from bot.lookups import run_lookup
from models import OutboxMessage, OutboxStatus, ReplyState, SentMessage

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0


def backoff_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; LINE's Retry-After (if any) is a floor."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class Sender:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        gateway: LineGateway,
        now: Callable[[], datetime],
        *,
        name: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        max_age: timedelta = timedelta(hours=23),
        batch: int = 20,
    ) -> None:
        self.sessions = session_factory
        self.gateway = gateway
        self.now = now
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = lease
        # LINE remembers a retry key for 24 hours; past that a retry could deliver twice.
        self.max_age = max_age
        self.batch = batch
        self.wakeup = threading.Event()

    # --- claiming ---------------------------------------------------------------
    def claim(self) -> list[OutboxMessage]:
        now = self.now()
        earlier = aliased(OutboxMessage)
        blocked = exists().where(
            and_(
                earlier.chat_id == OutboxMessage.chat_id,
                earlier.status == OutboxStatus.PENDING,
                earlier.id < OutboxMessage.id,
            )
        )
        free = or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now)
        with self.sessions.begin() as session:
            ids = session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
                .where(free, ~blocked)
                .order_by(OutboxMessage.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True, of=OutboxMessage)
            ).all()
            if not ids:
                return []
            # Compare-and-set: only rows still free become ours (the guard on SQLite).
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), free)
                .values(locked_until=now + self.lease, locked_by=self.name)
                .execution_options(synchronize_session=False)
            )
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.locked_by == self.name)
                    .order_by(OutboxMessage.id)
                ).all()
            )

    # --- running ------------------------------------------------------------------
    def run_once(self) -> int:
        try:
            rows = self.claim()
        except DBAPIError as exc:
            # The database is unreachable: nothing can be claimed; the next round tries again.
            log.warning("outbox sender: round failed, cannot claim messages (%s)", exc.__class__.__name__)
            return 0
        blocked_chats: set[str] = set()
        for row in rows:
            if row.chat_id in blocked_chats:
                self._release(row)
                continue
            if not self.deliver(row):
                # Keep per-chat order: later rows of this chat wait for this one.
                blocked_chats.add(row.chat_id)
        return len(rows)

    def drain(self, max_rounds: int = 100) -> None:
        """Send everything due now (tests and the CLI)."""
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        log.info("outbox sender %s started", self.name)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database may be down; keep the thread alive
                log.exception("outbox sender: round failed; retrying")
                busy = 0
            if not busy:
                self.wakeup.wait(poll_interval)
                self.wakeup.clear()

    def wake(self) -> None:
        self.wakeup.set()

    # --- one row --------------------------------------------------------------------
    def deliver(self, row: OutboxMessage) -> bool:
        """Try one row; True when it reached a final state (sent or failed)."""
        try:
            if row.chat_id.startswith("lookup:"):
                return self._finish_lookup(row)
            result = self._send(row)
        except DBAPIError as exc:
            # Our database blinked, not LINE: the row stays pending and is retried when its
            # lease lapses (a retried push carries the same retry key; a reply stays "attempted").
            log.warning("outbox #%s: database error while sending (%s); will retry", row.id, exc.__class__.__name__)
            return False
        except Exception as exc:  # a message we built that the SDK refuses: a bug, surface it
            log.exception("outbox #%s: cannot be sent", row.id)
            self._mark(row, OutboxStatus.FAILED, error=f"invalid request: {exc.__class__.__name__}")
            return True
        return self._record(row, result)

    def _send(self, row: OutboxMessage) -> Result:
        now = self.now()
        token_fresh = row.reply_deadline is not None and now < row.reply_deadline
        if row.reply_token and token_fresh and row.reply_state != ReplyState.REJECTED:
            previous = row.reply_state
            if previous == ReplyState.NONE:
                self._set_reply_state(row, ReplyState.ATTEMPTED)
            result = self.gateway.reply(row.reply_token, row.messages)
            if result.outcome == Outcome.INVALID_REPLY_TOKEN and previous == ReplyState.ATTEMPTED:
                log.warning("outbox #%s: reply token already used by an earlier attempt: delivered", row.id)
                return Result(Outcome.SENT, result.status, "reply token used by an earlier attempt", via="reply")
            if result.outcome == Outcome.INVALID_REPLY_TOKEN:
                self._set_reply_state(row, ReplyState.REJECTED)
            elif result.outcome == Outcome.RETRY:
                # LINE answered without taking it. Only if no earlier attempt is in doubt is
                # the next one unambiguous; otherwise the earlier one may have used the token.
                if previous == ReplyState.NONE:
                    self._set_reply_state(row, ReplyState.NONE)
                return result
            else:
                result.via = "reply"
                return result
        if row.reply_token and row.reply_state == ReplyState.ATTEMPTED:
            log.warning("outbox #%s: reply outcome unknown and token expired: pushing", row.id)
        result = self.gateway.push(row.chat_id, row.messages, row.retry_key)
        result.via = "push"
        return result

    def _record(self, row: OutboxMessage, result: Result) -> bool:
        if result.outcome in (Outcome.SENT, Outcome.ALREADY_ACCEPTED):
            via = result.via or "push"
            self._mark(row, OutboxStatus.SENT, request_id=result.request_id, via=via, sent_ids=result.sent_ids)
            log.info("outbox #%s: sent to %s by %s", row.id, row.chat_id, via)
            return True
        if result.outcome in (Outcome.RETRY, Outcome.AMBIGUOUS):
            return self._retry_later(row, result)
        log.error("outbox #%s: LINE refused it (%s %s)", row.id, result.status, result.message)
        self._mark(row, OutboxStatus.FAILED, error=f"{result.outcome}: {result.status} {result.message}".strip())
        return True

    def _retry_later(self, row: OutboxMessage, result: Result) -> bool:
        now = self.now()
        if now - row.created_at > self.max_age:
            self._mark(row, OutboxStatus.FAILED, error=f"gave up after {row.attempts + 1} attempts: {result.message}")
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
        with self.sessions.begin() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=delay),
                    last_error=f"{result.status} {result.message}".strip(),
                    locked_until=None,
                    locked_by=None,
                )
            )
        return False

    def _finish_lookup(self, row: OutboxMessage) -> bool:
        with self.sessions.begin() as session:
            result = run_lookup(session, self.gateway, row.messages[0])
            if result.outcome in (Outcome.RETRY, Outcome.AMBIGUOUS):
                session.rollback()
            else:
                self._mark_in(session, row, OutboxStatus.SENT, request_id=result.request_id, via="lookup")
                return True
        return self._retry_later(row, result)

    # --- state writes -------------------------------------------------------------
    def _set_reply_state(self, row: OutboxMessage, state: ReplyState) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(reply_state=state))
        row.reply_state = state

    def _release(self, row: OutboxMessage) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id).values(locked_until=None, locked_by=None)
            )

    def _mark(self, row: OutboxMessage, status: OutboxStatus, **kwargs: Any) -> None:
        with self.sessions.begin() as session:
            self._mark_in(session, row, status, **kwargs)

    def _mark_in(
        self,
        session: Session,
        row: OutboxMessage,
        status: OutboxStatus,
        *,
        error: str | None = None,
        request_id: str | None = None,
        via: str | None = None,
        sent_ids: list[str] | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status, "locked_until": None, "locked_by": None}
        if status == OutboxStatus.SENT:
            values.update(sent_at=self.now(), line_request_id=request_id, sent_via=via)
            if row.topic:
                # Remember what the bot's messages were about, for quote-replies to them.
                for line_id in sent_ids or []:
                    session.merge(SentMessage(line_message_id=line_id[:32], outbox_id=row.id))
        if error is not None:
            values["last_error"] = error
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
        row.status = status
