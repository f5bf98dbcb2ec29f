"""``POST /callback``: verify, parse, record each event once, dispatch, answer fast.

One event = one transaction: the ``processed_events`` row (keyed by LINE's
webhookEventId), the handler's changes and its outbox rows commit together or not
at all. Nothing here calls LINE: LINE gives up on a webhook after 2 seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import Event
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import compose, messages
from bot.context import Context
from bot.registry import Registry
from models import ProcessedEvent

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # LINE's own bodies are far smaller; anything bigger is not LINE.

blueprint = Blueprint("webhook", __name__)


class DatabaseUnavailable(Exception):
    """The database failed: answer 500 so LINE redelivers later."""


def event_key(raw: dict[str, Any]) -> str:
    """LINE's webhookEventId; older payload shapes lack it, so fall back to a content hash."""
    event_id = raw.get("webhookEventId")
    if isinstance(event_id, str) and event_id:
        return event_id[:80]
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


LONE_SURROGATE = re.compile("[\ud800-\udfff\x00]")


def clean(value: Any) -> Any:
    """Replace lone UTF-16 surrogates and NUL (valid JSON, but not storable as text).

    json.loads joins proper surrogate pairs (LINE's escaped emoji) into one character, so
    any surrogate left is broken input: it would fail on the way into the database.
    """
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    return value


def parse_event(raw: dict[str, Any]) -> Any | None:
    """The SDK's typed event, or None when the SDK cannot validate this shape."""
    try:
        return Event.from_dict(raw)
    except Exception as exc:  # pydantic and the SDK raise several kinds here
        log.info("event %s (%s) not parsed by the SDK: %s", event_key(raw), raw.get("type"), exc.__class__.__name__)
        return None


@dataclass
class WebhookProcessor:
    sessions: sessionmaker[Session]
    registry: Registry
    channel_secret: str
    now: Callable[[], datetime]
    settings: Any = None
    after_commit: Callable[[], None] = lambda: None

    def verify(self, body: bytes, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return SignatureValidator(self.channel_secret).validate(text, signature)

    def handle_body(self, body: bytes) -> list[str]:
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise ValueError("not a LINE webhook payload")
        outcomes = [self.handle_event(raw) for raw in payload["events"]]
        if any(outcome in ("queued", "handled") for outcome in outcomes):
            self.after_commit()
        return outcomes

    def handle_event(self, raw: Any) -> str:
        if not isinstance(raw, dict):
            log.info("webhook: skipped an event that is not an object")
            return "invalid"
        raw = clean(raw)
        if not isinstance(raw.get("source", {}), dict):
            log.info("event %s: skipped, its source is not an object", event_key(raw))
            return "invalid"
        key = event_key(raw)
        if raw.get("mode") == "standby":
            # Another channel is active in this chat (module mode): acknowledge, do nothing.
            log.debug("event %s: standby, not acted on", key)
            return "standby"
        try:
            return self._handle_in_transaction(raw, key)
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, IntegrityError):
                return "duplicate"
            if isinstance(exc, DataError):
                # A value the database refuses (an over-long id): bad input, not an outage.
                # Answering 500 would make LINE redeliver it forever.
                log.warning("event %s: refused by the database as invalid data; skipped", key)
                return "invalid"
            log.error("event %s: database unavailable (%s)", key, exc.__class__.__name__)
            raise DatabaseUnavailable() from None
        except Exception:
            log.exception("event %s (%s): handler failed", key, raw.get("type"))
            return self._apologise(raw, key)

    def _handle_in_transaction(self, raw: dict[str, Any], key: str) -> str:
        with self.sessions.begin() as session:
            if not self._record(session, raw, key):
                log.info("event %s: already handled (redelivery=%s)", key, _is_redelivery(raw))
                return "duplicate"
            ctx = Context(session=session, raw=raw, event=parse_event(raw), now=self.now(), settings=self.settings)
            if ctx.event is None:
                return "unparsed"
            handled = dispatch(self.registry, ctx)
            if not handled:
                log.debug("event %s (%s): no handler", key, ctx.event_type)
            ctx.flush_replies()
            return "handled"

    def _record(self, session: Session, raw: dict[str, Any], key: str) -> bool:
        source = raw.get("source") or {}
        chat = source.get("groupId") or source.get("roomId") or source.get("userId")
        session.add(
            ProcessedEvent(
                event_key=key,
                event_type=str(raw.get("type", ""))[:40],
                chat_id=chat if isinstance(chat, str) else None,
                redelivery=_is_redelivery(raw),
                received_at=self.now(),
            )
        )
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            return False
        return True

    def _apologise(self, raw: dict[str, Any], key: str) -> str:
        """A bug must not leave the sender in silence: record the event and say sorry."""
        try:
            with self.sessions.begin() as session:
                if not self._record(session, raw, key):
                    return "duplicate"
                ctx = Context(session=session, raw=raw, event=None, now=self.now(), settings=self.settings)
                if raw.get("type") in ("message", "postback") and ctx.chat_id:
                    ctx.reply(compose.text(messages.SORRY_FAILED))
                    ctx.flush_replies()
            return "queued"
        except Exception:
            log.exception("event %s: could not record the failure", key)
            return "failed"


def _is_redelivery(raw: dict[str, Any]) -> bool:
    context = raw.get("deliveryContext")
    return bool(isinstance(context, dict) and context.get("isRedelivery"))


def dispatch(registry: Registry, ctx: Context) -> bool:
    """Route one event to its handlers: text commands, postbacks, or by event type."""
    event_type = ctx.event_type
    message = ctx.raw.get("message") or {}
    if event_type == "message" and message.get("type") == "text":
        return registry.dispatch_event(ctx) | registry.dispatch_text(ctx, str(message.get("text", "")))
    if event_type == "postback":
        data = (ctx.raw.get("postback") or {}).get("data", "")
        return registry.dispatch_postback(ctx, str(data))
    return registry.dispatch_event(ctx)


@blueprint.post("/callback")
def callback() -> Response | tuple[str, int]:
    processor: WebhookProcessor = current_app.extensions["kasane"].webhook
    if request.content_length is not None and request.content_length > MAX_BODY:
        return "payload too large", 413
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return "payload too large", 413
    # Header names are case-insensitive (LINE may send x-line-signature); Flask handles that.
    if not processor.verify(body, request.headers.get("X-Line-Signature")):
        log.warning("webhook: rejected a request with a missing or invalid signature (%d bytes)", len(body))
        return "invalid signature", 400
    try:
        processor.handle_body(body)
    except (ValueError, RecursionError):
        log.warning("webhook: signed body is not a LINE webhook payload (%d bytes)", len(body))
        return "bad request", 400
    except DatabaseUnavailable:
        return "temporarily unavailable", 500
    return "OK", 200
