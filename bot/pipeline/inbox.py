"""The worker's half of the webhook: handle what the door recorded, in arrival order, exactly once.

One transaction takes a batch of waiting events; each event is handled in a savepoint, and
its webhookEventId is recorded in ``webhook_events`` in that same transaction, together with
the handler's changes and its outbox rows. Only then are the events removed from the inbox
(in the same transaction where the inbox is in the same database). A crash before the commit
leaves them waiting, to be handled from the start; a crash after it leaves them in the inbox,
and the next round finds their ids recorded and only removes them. Only one worker handles
the inbox at a time (SQLite: the write lock; PostgreSQL: an advisory lock), which keeps events
in the order they arrived.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from linebot.v3.webhooks import Event
from sqlalchemy import Engine, bindparam, delete, func, insert, select
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import logs, metrics
from bot.links import Links
from bot.pipeline.context import Context
from bot.pipeline.registry import Registry
from bot.pipeline.webhook import LONE_SURROGATE
from bot.replies import compose, messages
from bot.store.sealing import Sealer, Unsealable
from bot.store.wakeup import LocalWakeup
from models import EventOutcome, InboxEvent, WebhookEvent
from models.membership import seen_following

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "one inbox handler at a time" across worker processes.
INBOX_LOCK = 0x4B41_5341
OUTAGES = (OperationalError, InterfaceError)
# How long one transaction goes on taking events. SQLite has one write lock, which the sender
# needs to record each delivery: keep it short. On PostgreSQL a longer batch means fewer
# commits (each an fsync and a round of statements) while nothing else waits for it.
BUDGET_SQLITE = 0.02
BUDGET = 0.1


def clean(value: Any) -> Any:
    """Lone surrogates and NUL replaced throughout the event (see bot.pipeline.webhook.clean_text)."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


def parse_event(key: str, raw: dict[str, Any]) -> Any | None:
    """The SDK's typed event, or None when the SDK cannot validate this shape."""
    try:
        return Event.from_dict(raw)
    except Exception as exc:  # pydantic and the SDK raise several kinds here
        log.info("event %s (%s) not parsed by the SDK: %s", key, raw.get("type"), exc.__class__.__name__)
        return None


def dispatch(registry: Registry, ctx: Context) -> bool:
    """Route one event to its handlers: text commands, postbacks, or by event type."""
    if not registry.admits(ctx):
        return True  # handled: by doing nothing
    event_type = ctx.event_type
    message = ctx.raw.get("message") or {}
    if ctx.source.get("type") == "user" and ctx.user_id and event_type in ("message", "postback"):
        # Talking to the bot 1:1 shows it is followed (people who added it before the webhook
        # was on never sent a follow event): a 1:1 notice to them costs 1, a group push everyone.
        seen_following(ctx.session, ctx.user_id, ctx.now)
    if event_type == "message" and message.get("type") == "text":
        return registry.dispatch_event(ctx) | registry.dispatch_text(ctx, str(message.get("text", "")))
    if event_type == "postback":
        data = (ctx.raw.get("postback") or {}).get("data", "")
        return registry.dispatch_postback(ctx, str(data))
    return registry.dispatch_event(ctx)


WAITING = (
    select(
        InboxEvent.seq,
        InboxEvent.event_key,
        InboxEvent.event_type,
        InboxEvent.chat_id,
        InboxEvent.redelivery,
        InboxEvent.received_at,
        InboxEvent.payload,
    )
    .where(InboxEvent.seq > bindparam("after"))
    .order_by(InboxEvent.seq)
    .limit(bindparam("limit"))
)
ALREADY_HANDLED = select(WebhookEvent.event_key).where(WebhookEvent.event_key.in_(bindparam("keys", expanding=True)))
RECORD_HANDLED = insert(WebhookEvent)
FORGET = delete(InboxEvent).where(InboxEvent.seq.in_(bindparam("seqs", expanding=True)))


@dataclass
class InboxProcessor:
    sessions: sessionmaker[Session]
    inbox: Engine  # where the door records events (bot.store.db.make_inbox_engine)
    registry: Registry
    sealer: Sealer
    now: Callable[[], datetime]
    settings: Any = None
    links: Links | None = None
    after_commit: Callable[[], None] = lambda: None
    on_round: Callable[[], None] = lambda: None  # each loop of run_forever (the heartbeat)
    batch: int = 100
    # An inbox of its own (SQLite): events handled but not yet removed from it, and the highest
    # number handled, below which nothing is read again. (SQLite hands numbers out in commit
    # order; PostgreSQL's sequences do not, and there the inbox is emptied in the same transaction.)
    forget_every: float = 0.5
    _handled_seqs: list[int] = field(default_factory=list)
    _high_water: int = 0
    _forgotten_at: float = field(default_factory=time.monotonic)

    # --- running ----------------------------------------------------------------------------
    def run_once(self) -> int:
        """Handle one batch of waiting events in one transaction; how many were taken."""
        done: list[int] = []
        with self.sessions.begin() as session:
            same_database = session.get_bind() is self.inbox
            if session.get_bind().dialect.name == "postgresql":
                if not session.scalar(select(func.pg_try_advisory_xact_lock(INBOX_LOCK))):
                    return 0  # another worker is handling the inbox right now
            waiting = self._waiting(session if same_database else None)
            if not waiting:
                return 0
            budget = BUDGET_SQLITE if session.get_bind().dialect.name == "sqlite" else BUDGET
            # Handled before a crash kept them in the inbox, or redelivered by LINE later.
            known = set(session.scalars(ALREADY_HANDLED, {"keys": [row.event_key for row in waiting]}))
            handled: list[dict[str, Any]] = []
            started = time.monotonic()
            for row in waiting:
                if row.event_key in known:
                    log.info("event %s: already handled (redelivery=%s)", row.event_key, row.redelivery)
                else:
                    handled.append(self._record(row, self.handle(session, row.event_key, row.payload, row.received_at)))
                done.append(row.seq)
                if time.monotonic() - started > budget:
                    break
            if handled:
                session.execute(RECORD_HANDLED, handled)
            if same_database:
                session.execute(FORGET, {"seqs": done})
        if not same_database:
            self._handled_seqs += done
            self._high_water = max(self._high_water, *done)
            if time.monotonic() - self._forgotten_at > self.forget_every:
                self.forget_handled()
        self.after_commit()
        return len(done)

    def _record(self, row: Any, outcome: EventOutcome) -> dict[str, Any]:
        return {
            "event_key": row.event_key,
            "event_type": row.event_type,
            "chat_id": row.chat_id,
            "redelivery": row.redelivery,
            "received_at": row.received_at,
            "handled_at": self.now(),
            "outcome": outcome,
        }

    def forget_handled(self) -> None:
        """Remove handled events from an inbox of its own, once their handling is on disk.

        The main SQLite database commits without an fsync each time (``synchronous=NORMAL``),
        so a power cut could undo the last handlings: a checkpoint first makes them durable
        (SQLite syncs its log before each checkpoint), then the sealed events go. Their ids are
        recorded, so a crash in between only means they are skipped and removed next time.
        """
        self._forgotten_at = time.monotonic()
        seqs, self._handled_seqs = self._handled_seqs, []
        if not seqs:
            return
        main = self.sessions.kw["bind"].raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            main.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            main.close()
        self._forget(seqs)

    def _forget(self, seqs: list[int]) -> None:
        with self.inbox.begin() as connection:
            connection.execute(FORGET, {"seqs": seqs})

    def _waiting(self, session: Session | None) -> list[Any]:
        if session is not None:
            return list(session.execute(WAITING, {"limit": self.batch, "after": 0}).all())
        with self.inbox.connect() as connection:
            return list(connection.execute(WAITING, {"limit": self.batch, "after": self._high_water}).all())

    def drain(self, max_rounds: int = 1000) -> int:
        """Handle everything waiting now, and empty the inbox of it (tests and the CLI)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            if not handled:
                break
            total += handled
        self.forget_handled()
        return total

    def run_forever(self, stop: threading.Event, wakeup: LocalWakeup, poll_interval: float = 1.0) -> None:
        """Handle the inbox until ``stop``; ``wakeup`` tells when new events may be in."""
        log.info("inbox: handling webhook events")
        failures = 0
        while not stop.is_set():
            self.on_round()
            wakeup.clear()  # before looking: a wake from now on is not lost
            try:
                busy = self.run_once()
                failures = 0
            except OUTAGES as exc:
                failures += 1
                delay = min(30.0, poll_interval * 2 ** min(failures, 5))
                log.warning("inbox: database unavailable (%s); retrying in %.1fs", exc.__class__.__name__, delay)
                stop.wait(delay)
                continue
            except Exception:
                log.exception("inbox: round failed; retrying")
                busy = 0
            if not busy:
                self._forget_quietly()
                wakeup.wait(poll_interval)
        self._forget_quietly()

    def _forget_quietly(self) -> None:
        try:
            self.forget_handled()
        except OUTAGES as exc:  # they stay until the next time; their ids are recorded
            log.warning("inbox: cannot remove handled events yet (%s)", exc.__class__.__name__)

    # --- one event --------------------------------------------------------------------------
    def handle(self, session: Session, key: str, payload: bytes | None, received_at: datetime) -> EventOutcome:
        with logs.event_context(key):
            outcome = self._handle(session, key, payload, received_at)
            log.debug("event %s: %s", key, outcome)  # with the network and thread the handler found
        metrics.event_handled(outcome)
        return outcome

    def _handle(self, session: Session, key: str, payload: bytes | None, received_at: datetime) -> EventOutcome:
        try:
            raw = clean(json.loads(self.sealer.open(key, payload or b"")))
        except Unsealable as exc:
            log.error("event %s: cannot open its sealed payload (%s); not handled", key, exc)
            return EventOutcome.UNREADABLE
        except (ValueError, RecursionError):
            # Signed by LINE's secret yet absurd (nested thousands deep): never let it block the inbox.
            log.warning("event %s: payload cannot be read back; skipped", key)
            return EventOutcome.INVALID
        event = parse_event(key, raw)
        if event is None:
            return EventOutcome.UNPARSED
        for attempt in (1, 2):
            ctx = Context(session, raw, event, self.now(), self.settings, self.links, received_at=received_at)
            try:
                with session.begin_nested():
                    if not dispatch(self.registry, ctx):
                        log.debug("event %s (%s): no handler", key, ctx.event_type)
                    ctx.flush_replies()
                return EventOutcome.HANDLED
            except OUTAGES:
                raise  # the whole batch waits for the database to come back
            except DataError:
                # A value the database refuses (an over-long id): bad input, not an outage.
                log.warning("event %s: refused by the database as invalid data; skipped", key)
                return EventOutcome.INVALID
            except IntegrityError:
                if attempt == 1:
                    # A twin committed first (a scheduled job queued the same message): look again.
                    log.info("event %s: a unique key was taken meanwhile; handling it again", key)
                    continue
                log.exception("event %s (%s): handler failed", key, raw.get("type"))
            except Exception:
                log.exception("event %s (%s): handler failed", key, raw.get("type"))
            break
        self._apologise(session, raw, received_at)
        return EventOutcome.FAILED

    def _apologise(self, session: Session, raw: dict[str, Any], received_at: datetime) -> None:
        """A bug must not leave the sender in silence."""
        ctx = Context(session, raw, None, self.now(), self.settings, received_at=received_at)
        if raw.get("type") in ("message", "postback") and ctx.chat_id:
            ctx.reply(compose.text(messages.SORRY_FAILED))
            ctx.flush_replies()
