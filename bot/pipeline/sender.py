"""Delivers outbox rows to LINE: exactly once, in order per lane, surviving crashes and outages.

How "exactly once" holds:
- A push carries ``X-Line-Retry-Key`` = the row's UUID. If we crash after LINE accepted it
  but before we marked the row sent, the retried push gets 409 ("already accepted"): sent.
- A reply token is single use, so retrying a *reply* can never deliver twice. The claim that
  leases a reply commits ``reply_state=attempted``; if that attempt's outcome was lost (crash,
  timeout) and LINE later calls the token invalid while it cannot yet have expired, our own
  earlier call used it: the message was delivered.
- Rows are claimed with a lease (``locked_until``) by compare-and-set, and on PostgreSQL with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so two senders never take the same row.
- A lane's next row waits while an earlier row of that lane is pending, so order holds within
  a lane (a chat, or one member's answers in a group).

A reply whose token expired unused (a backlog, an outage) would be a push, to a whole group in a
group chat: a mere acknowledgement is dropped instead, and late replies to one chat leave in one
push (``models.ledger.stale_reply_drop_reason``, ``delivery_state.merge_stale_in``).

Every call to LINE waits for LINE's latency, so ``concurrency`` threads make the calls, side
by side, and one thread does all the database work: each round it records the deliveries that
finished and claims rows for the free threads, in one transaction (bot/pipeline/delivery_state.py).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.delivery_state import (
    KNOWN_MONTHLY_LIMIT,
    Attempt,
    claim_in,
    merge_stale_in,
    record_in,
    set_reply_state_in,
)
from bot.pipeline.line_client import LineGateway, Outcome, Result, without_mentions
from bot.pipeline.lookups import fetch_lookup
from bot.replies import messages
from bot.store.wakeup import LocalWakeup
from models import OutboxMessage, ReplyState
from models.ledger import month_of, stale_reply_drop_reason

log = logging.getLogger(__name__)


STOP_GRACE = 10.0  # seconds to record what is in flight when stopping
# A round (record what finished, claim what is due) is one transaction whatever it carries, and
# each finished send or commit elsewhere wakes the sender: rounds closer than this wait for the
# rest to gather. At 100 events/s: 3.8-4.2 -> 3.0 ms of the sender's CPU per event; a message
# waits 10 ms at most for it.
ROUND_GATHER = 0.01
# A group's member count (what a push there costs) is asked of LINE at most this often per group.
MEMBER_COUNT_TTL = 3600.0
ASK_AGAIN_AFTER = timedelta(minutes=1)  # after LINE's monthly limit, see ``Sender.exhausted_at``


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
        concurrency: int = 1,
        gather: float = ROUND_GATHER,
    ) -> None:
        self.sessions = session_factory
        self.gateway = gateway
        self.now = now
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = lease
        # LINE remembers a retry key for 24 hours; past that a retry could deliver twice.
        self.max_age = max_age
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self.gather = gather
        self.wakeup: LocalWakeup = LocalWakeup()  # bot.app puts a watch on the database here when alone
        self.on_round: Callable[[], None] = lambda: None  # each loop of run_forever (the heartbeat)
        # When LINE last said "You have reached your monthly limit.": for a minute after it, pushes
        # are answered here without asking LINE (a queue of them would be as many refused calls);
        # then one push asks again, since a plan changed mid-month lifts the limit.
        self.exhausted_at: datetime | None = None
        self._member_counts: dict[str, tuple[int, float]] = {}

    def wake(self) -> None:
        self.wakeup.set()

    # --- one row at a time (tests, the CLI) ---------------------------------------------
    def claim(self, limit: int | None = None) -> list[OutboxMessage]:
        with self.sessions.begin() as session:
            return claim_in(session, self.now(), limit or self.batch, self.lease, self.name)

    def run_once(self) -> int:
        try:
            rows = self.claim()
        except DBAPIError as exc:
            # The database is unreachable: nothing can be claimed; the next round tries again.
            log.warning("outbox sender: round failed, cannot claim messages (%s)", exc.__class__.__name__)
            return 0
        for row in rows:
            self.deliver(row)
        return len(rows)

    def drain(self, max_rounds: int = 100) -> None:
        """Send everything due now, one row after another."""
        for _ in range(max_rounds):
            if not self.run_once():
                return

    def deliver(self, row: OutboxMessage) -> bool:
        """Try one row; True when it reached a final state (sent or failed)."""
        return self._record(row, self._attempt(row))

    def _record(self, row: OutboxMessage, attempt: Attempt) -> bool:
        if attempt.result is None and attempt.error is None:
            return False
        with self.sessions.begin() as session:
            return record_in(session, attempt, self.now(), self.max_age)

    # --- many at once ----------------------------------------------------------------------
    def run_forever(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Keep up to ``concurrency`` rows in flight; record and claim in one transaction a round."""
        log.info("outbox sender %s started (%d at a time)", self.name, self.concurrency)
        finished: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        in_flight = 0
        grace = None
        last_round = 0.0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="send") as pool:
            while in_flight or not stop.is_set():
                self.on_round()
                if stop.is_set():
                    grace = grace or time.monotonic() + STOP_GRACE
                    if time.monotonic() > grace:
                        break  # their leases let another sender retry them
                pause = self.gather - (time.monotonic() - last_round)
                if pause > 0:
                    time.sleep(pause)
                self.wakeup.clear()  # before looking: a wake from now on is not lost
                done = _take_all(finished)
                in_flight -= len(done)
                free = 0 if stop.is_set() else self.concurrency - in_flight
                rows = self._round(done, free)
                last_round = time.monotonic()
                for row in rows:
                    in_flight += 1
                    pool.submit(self._attempt_in_thread, row, finished)
                if not rows:
                    self.wakeup.wait(poll_interval if not stop.is_set() else 0.05)

    def _round(self, done: list[Attempt], free: int) -> list[OutboxMessage]:
        if not done and not free:
            return []
        try:
            with self.sessions.begin() as session:
                now = self.now()
                for attempt in done:
                    record_in(session, attempt, now, self.max_age)
                return claim_in(session, now, free, self.lease, self.name) if free else []
        except DBAPIError as exc:
            # Nothing recorded, nothing claimed: the leases of ``done`` lapse and they are tried
            # again (a push with its retry key, a reply as "attempted"): never twice at LINE.
            log.warning("outbox sender: round failed, cannot claim messages (%s)", exc.__class__.__name__)
            return []

    def _attempt_in_thread(self, row: OutboxMessage, finished: queue.SimpleQueue[Attempt]) -> None:
        try:
            attempt = self._attempt(row)
        except Exception:  # a bug in one row must not stop the others; its lease lets it be retried
            log.exception("outbox #%s: delivery failed unexpectedly", row.id)
            attempt = Attempt(row, None)
        finished.put(attempt)
        self.wake()

    # --- one try ----------------------------------------------------------------------------
    def _attempt(self, row: OutboxMessage) -> Attempt:
        try:
            if row.chat_id.startswith("lookup:"):
                return Attempt(row, fetch_lookup(self.gateway, row.messages[0]))
            return Attempt(row, self._send(row))
        except DBAPIError as exc:
            # Our database blinked, not LINE: the row stays pending and is retried when its
            # lease lapses (a retried push carries the same retry key; a reply stays "attempted").
            log.warning("outbox #%s: database error while sending (%s); will retry", row.id, exc.__class__.__name__)
            return Attempt(row, None)
        except Exception as exc:  # a message we built that the SDK refuses: a bug, surface it
            log.exception("outbox #%s: cannot be sent", row.id)
            return Attempt(row, None, error=f"invalid request: {exc.__class__.__name__}")

    def _send(self, row: OutboxMessage) -> Result:
        now = self.now()
        token_fresh = row.reply_deadline is not None and now < row.reply_deadline
        if row.reply_token and token_fresh and row.reply_state != ReplyState.REJECTED:
            previous = row.reply_state  # before the claim, which marked it attempted
            result = self.gateway.reply(row.reply_token, row.messages)
            if result.outcome == Outcome.MENTION_REFUSED:  # someone mentioned has left: say it anyway
                log.warning("outbox #%s: a mentioned member left the chat; sent without the mention", row.id)
                result = self.gateway.reply(row.reply_token, without_mentions(row.messages, messages.MENTION_LEFT_NAME))
            if result.outcome == Outcome.INVALID_REPLY_TOKEN and previous == ReplyState.ATTEMPTED:
                log.warning("outbox #%s: reply token already used by an earlier attempt: delivered", row.id)
                return Result(Outcome.SENT, result.status, "reply token used by an earlier attempt", via="reply")
            if result.outcome == Outcome.INVALID_REPLY_TOKEN:
                # Written at once (rare): if we die while pushing, the next try must not read
                # this token's refusal as proof that it was delivered.
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
        if row.reply_token:  # a reply that missed its token (a backlog, an outage): worth a push?
            unknown = row.reply_state == ReplyState.ATTEMPTED
            reason = stale_reply_drop_reason(row.kind, unknown)
            if reason is not None:
                return Result(Outcome.NOT_SENT, 0, reason)
            if unknown:
                log.warning("outbox #%s: reply outcome unknown and token expired: pushing", row.id)
            if row.reply_state in (ReplyState.NONE, ReplyState.REJECTED):
                self._merge_stale(row, now)
        spent = self.exhausted_at
        if spent is not None and month_of(spent) == month_of(now) and now - spent < ASK_AGAIN_AFTER:
            return Result(Outcome.MONTHLY_LIMIT, 429, KNOWN_MONTHLY_LIMIT, via="push")
        recipients = self._recipients(row.chat_id)
        result = self.gateway.push(row.chat_id, row.messages, row.retry_key)
        if result.outcome == Outcome.MENTION_REFUSED:  # LINE took nothing: the same key is free
            log.warning("outbox #%s: a mentioned member left the chat; sent without the mention", row.id)
            result = self.gateway.push(
                row.chat_id, without_mentions(row.messages, messages.MENTION_LEFT_NAME), row.retry_key
            )
        result.via = "push"
        result.recipients = recipients
        self.exhausted_at = now if result.outcome == Outcome.MONTHLY_LIMIT else None
        return result

    def _merge_stale(self, row: OutboxMessage, now: datetime) -> None:
        """Other late replies to the same chat leave in this push (delivery_state.merge_stale_in)."""
        with self.sessions.begin() as session:
            merged = merge_stale_in(session, row, now)
        row.reply_state = ReplyState.EXPIRED
        if merged is not None:
            row.messages = merged

    def _recipients(self, chat_id: str) -> int | None:
        """What LINE counts a push to ``chat_id`` as: 1 for a user, a group's members (asked of LINE,
        kept for an hour). None when LINE could not say: the ledger then counts Kasane's known members."""
        if chat_id.startswith("U"):
            return 1
        known = self._member_counts.get(chat_id)
        if known is not None and time.monotonic() - known[1] < MEMBER_COUNT_TTL:
            return known[0]
        answer = self.gateway.member_count(chat_id)
        if answer.outcome != Outcome.SENT or answer.data is None:
            return None
        self._member_counts[chat_id] = (int(answer.data.count), time.monotonic())
        return int(answer.data.count)

    def _set_reply_state(self, row: OutboxMessage, state: ReplyState) -> None:
        with self.sessions.begin() as session:
            set_reply_state_in(session, row, state)


def _take_all(finished: queue.SimpleQueue[Attempt]) -> list[Attempt]:
    done = []
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            return done
