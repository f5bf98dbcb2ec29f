"""``POST /callback``: verify, record each event once in the inbox, answer 200. Nothing else.

LINE gives up on a webhook after 2 seconds and a burst (a meeting reminder answered by dozens
at once) must not be answered late, so the request only checks the signature (with the SDK),
seals each event and writes it to the inbox (models/event.py ``InboxEvent``; on SQLite a file of
its own, so these writes never wait behind the worker's). Once that commit returns, the event
cannot be lost; the worker (bot/pipeline/inbox.py) handles it, and its webhookEventId makes a redelivery
change nothing. A database failure answers 500, so that LINE redelivers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from linebot.v3.webhook import SignatureValidator
from sqlalchemy import Engine

from bot import metrics
from bot.store.group_commit import GroupCommit, GroupCommitTimeout
from bot.store.inbox_writer import InboxWriteFailed, InboxWriter
from bot.store.sealing import Sealer

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # LINE's own bodies are far smaller; anything bigger is not LINE.
# Well inside LINE's 2 seconds: past this, answer 500 and let LINE redeliver.
COMMIT_TIMEOUT = 1.5

blueprint = Blueprint("webhook", __name__)
CALLBACK_PATH = "/callback"


class DatabaseUnavailable(Exception):
    """The database failed: answer 500 so LINE redelivers later."""


LONE_SURROGATE = re.compile("[\ud800-\udfff\x00]")


def clean_text(value: str) -> str:
    """Replace lone UTF-16 surrogates and NUL (valid JSON, but not storable as text).

    json.loads joins proper surrogate pairs (LINE's escaped emoji) into one character, so
    any surrogate left is broken input: it would fail on the way into the database.
    """
    return LONE_SURROGATE.sub("\ufffd", value)


def event_key(raw: dict[str, Any]) -> str:
    """LINE's webhookEventId; older payload shapes lack it, so fall back to a content hash."""
    event_id = raw.get("webhookEventId")
    if isinstance(event_id, str) and event_id:
        return clean_text(event_id[:80])
    canonical = json.dumps(raw, sort_keys=True).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def is_redelivery(raw: dict[str, Any]) -> bool:
    context = raw.get("deliveryContext")
    return bool(isinstance(context, dict) and context.get("isRedelivery"))


def _chat_id(source: dict[str, Any]) -> str | None:
    chat = source.get("groupId") or source.get("roomId") or source.get("userId")
    return clean_text(chat[:64]) if isinstance(chat, str) else None


@dataclass
class WebhookDoor:
    """What ``/callback`` does, without Flask: tests and the benchmark call it directly too."""

    engine: Engine  # the inbox's (bot.store.db.make_inbox_engine)
    channel_secret: str
    now: Callable[[], datetime]
    after_commit: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self.sealer = Sealer(self.channel_secret)
        self.validator = SignatureValidator(self.channel_secret)
        self.writer = InboxWriter(self.engine)
        self.commits: GroupCommit[dict[str, Any]] = GroupCommit(self.writer.write, timeout=COMMIT_TIMEOUT)

    def verify(self, body: bytes, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self.validator.validate(text_body, signature)

    def rows(self, body: bytes) -> list[dict[str, Any]]:
        """The inbox rows for a signed body; ValueError when it is not a LINE webhook payload."""
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise ValueError("not a LINE webhook payload")
        received = self.now()
        rows = []
        for raw in payload["events"]:
            row = self._row(raw, received)
            if row is not None:
                rows.append(row)
        return rows

    def _row(self, raw: Any, received: datetime) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            log.info("webhook: skipped an event that is not an object")
            return None
        key = event_key(raw)
        source = raw.get("source", {})
        if not isinstance(source, dict):
            log.info("event %s: skipped, its source is not an object", key)
            return None
        if raw.get("mode") == "standby":
            # Another channel is active in this chat (module mode): acknowledge, do nothing.
            log.debug("event %s: standby, not acted on", key)
            return None
        # ensure_ascii keeps lone surrogates as escapes: the worker cleans them after opening.
        plain = json.dumps(raw, separators=(",", ":")).encode("ascii")
        return {
            "event_key": key,
            "event_type": clean_text(str(raw.get("type", ""))[:40]),
            "chat_id": _chat_id(source),
            "redelivery": is_redelivery(raw),
            "received_at": received,
            "payload": self.sealer.seal(key, plain),
        }

    def accept(self, rows: list[dict[str, Any]]) -> None:
        """Commit the rows (with other requests' rows, as one transaction); raise DatabaseUnavailable."""
        if not rows:
            return
        try:
            self.commits.submit(rows)
        except (InboxWriteFailed, GroupCommitTimeout) as exc:
            reason = str(exc) or exc.__class__.__name__
            log.error("webhook: cannot record %d event(s): database unavailable (%s)", len(rows), reason)
            raise DatabaseUnavailable() from None
        self.after_commit()


class SessionsExceptWebhook(SecureCookieSessionInterface):
    """The dashboard's signed-cookie sessions, not opened for LINE's POSTs (they carry no cookie).

    Opening one builds itsdangerous' serializer, which test-encodes a value: 4 % of the web
    process's CPU at saturation, for a session nobody reads.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path == CALLBACK_PATH:
            return None  # Flask's null session: empty, never saved
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure when the public address is https, or when this request came over HTTPS (a
        # trusted proxy said so: bot/web/https.py); a plain-http simulator must still sign in.
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


@blueprint.post(CALLBACK_PATH)
def callback() -> Response | tuple[str, int]:
    started = time.perf_counter()
    answer = _callback()
    status = answer[1] if isinstance(answer, tuple) else answer.status_code
    metrics.webhook_answered(status, time.perf_counter() - started)
    return answer


def _callback() -> Response | tuple[str, int]:
    door: WebhookDoor = current_app.extensions["kasane"].door
    if request.content_length is not None and request.content_length > MAX_BODY:
        return "payload too large", 413
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return "payload too large", 413
    # Header names are case-insensitive (LINE may send x-line-signature); Flask handles that.
    if not door.verify(body, request.headers.get("X-Line-Signature")):
        log.warning("webhook: rejected a request with a missing or invalid signature (%d bytes)", len(body))
        return "invalid signature", 400
    try:
        rows = door.rows(body)
    except (ValueError, RecursionError):
        log.warning("webhook: signed body is not a LINE webhook payload (%d bytes)", len(body))
        return "bad request", 400
    try:
        door.accept(rows)
    except DatabaseUnavailable:
        return "temporarily unavailable", 500
    return "OK", 200
