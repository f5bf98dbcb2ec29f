"""The bot's only door to LINE's Messaging API: the SDK's client, with a timeout on every call.

Errors are sorted into what the sender must do about them (``Outcome``), so the
sender's logic reads as policy, not as HTTP plumbing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TestWebhookEndpointRequest,
)

from bot import metrics

log = logging.getLogger(__name__)
MENTION_NOT_MEMBER = "The mentioned user is not a member of the chat"


def without_mentions(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The same messages with every user mention written as ``name`` (plain text, no mention)."""
    plain = []
    for message in messages:
        if message.get("type") != "textV2":
            plain.append(message)
            continue
        substitution = dict(message.get("substitution") or {})
        text = message["text"]
        for key, value in list(substitution.items()):
            if isinstance(value, dict) and value.get("type") == "mention":
                text = text.replace("{" + key + "}", name.replace("{", "{{").replace("}", "}}"))
                del substitution[key]
        plain.append(
            {**message, "text": text, "substitution": substitution}
            if substitution
            else {
                key: v
                for key, v in {**message, "type": "text", "text": _literal(text)}.items()
                if key != "substitution"
            }
        )
    return plain


def _literal(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


class Outcome(StrEnum):
    SENT = "sent"  # 2xx
    ALREADY_ACCEPTED = "already_accepted"  # 409 on a retry key LINE already accepted
    INVALID_REPLY_TOKEN = "invalid_reply_token"
    RETRY = "retry"  # 429 rate limit, 5xx: LINE did not take it; try again later
    AMBIGUOUS = "ambiguous"  # timeout or dropped connection: LINE may or may not have taken it
    MONTHLY_LIMIT = "monthly_limit"  # not retryable this month: surface it
    REJECTED = "rejected"  # other 4xx: LINE will never accept this request
    NOT_FOUND = "not_found"
    MENTION_REFUSED = "mention_refused"  # 400: a mentioned user is not in the chat (left it)
    NOT_SENT = "not_sent"  # Kasane did not ask LINE: a stale reply not worth a push (``message``: why)


@dataclass
class Result:
    outcome: Outcome
    status: int = 0
    message: str = ""
    request_id: str | None = None
    retry_after: float | None = None
    data: Any = None
    via: str = ""
    sent_ids: list[str] = field(default_factory=list)  # ids LINE gave the messages (sentMessages)
    recipients: int | None = None  # a push: how many people LINE counts it for (None: not known)


def _error_body(body: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _error_message(body: Any) -> str:
    return str(_error_body(body).get("message", ""))


def classify(exc: Exception) -> Result:
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = _error_message(exc.body)
        headers = exc.headers or {}
        request_id = headers.get("x-line-accepted-request-id") or headers.get("x-line-request-id")
        if status == 0:
            return Result(Outcome.AMBIGUOUS, 0, str(exc.reason or "connection error"))
        if status == 409:
            # LINE returns the original sentMessages with a replayed retry key.
            sent = _error_body(exc.body).get("sentMessages") or []
            ids = [str(m["id"]) for m in sent if isinstance(m, dict) and "id" in m]
            return Result(Outcome.ALREADY_ACCEPTED, status, message, request_id, sent_ids=ids)
        if status == 429 and "monthly limit" in message.lower():
            return Result(Outcome.MONTHLY_LIMIT, status, message, request_id)
        if status == 429 or status >= 500:
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            try:
                seconds = float(retry_after) if retry_after else None
            except ValueError:
                seconds = None
            return Result(Outcome.RETRY, status, message or str(exc.reason), request_id, seconds)
        if status == 400 and "reply token" in message.lower():
            return Result(Outcome.INVALID_REPLY_TOKEN, status, message, request_id)
        if status == 404:
            return Result(Outcome.NOT_FOUND, status, message, request_id)
        details = _error_body(exc.body).get("details") or []
        if status == 400 and any(
            MENTION_NOT_MEMBER in str(d.get("message", "")) for d in details if isinstance(d, dict)
        ):
            return Result(Outcome.MENTION_REFUSED, status, MENTION_NOT_MEMBER, request_id)
        return Result(Outcome.REJECTED, status, message or str(exc.reason), request_id)
    if isinstance(exc, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
        # The request never left: safe to retry anything, reply tokens included.
        return Result(Outcome.RETRY, 0, f"connection failed ({exc.__class__.__name__})")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return classify(exc.reason)
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return Result(Outcome.AMBIGUOUS, 0, f"{exc.__class__.__name__}")
    raise exc


class LineGateway:
    def __init__(self, api_base_url: str, access_token: str, timeout: float = 5.0, connections: int = 10) -> None:
        configuration = Configuration(host=api_base_url.rstrip("/"), access_token=access_token)
        # Our outbox owns retries (with backoff and retry keys); urllib3's silent ones would hide them.
        configuration.retries = False
        # One kept-alive connection per sending thread: more would be opened and thrown away.
        configuration.connection_pool_maxsize = max(1, connections)
        self._client = ApiClient(configuration)
        self._api = MessagingApi(self._client)
        self.timeout = timeout

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Result:
        endpoint = getattr(fn, "__name__", "call").removesuffix("_with_http_info")
        try:
            response = fn(*args, _request_timeout=self.timeout, **kwargs)
        except Exception as exc:  # sorted by classify; anything else re-raises there
            result = classify(exc)
            metrics.line_answered(endpoint, result.status)
            return result
        metrics.line_answered(endpoint, response.status_code)
        headers = response.headers or {}
        sent = getattr(response.data, "sent_messages", None) or []
        return Result(
            Outcome.SENT,
            response.status_code,
            "",
            headers.get("x-line-request-id"),
            data=response.data,
            sent_ids=[str(m.id) for m in sent],
        )

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> Result:
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        return self._call(self._api.reply_message_with_http_info, request)

    def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> Result:
        request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        return self._call(self._api.push_message_with_http_info, request, x_line_retry_key=retry_key)

    def group_summary(self, group_id: str) -> Result:
        return self._call(self._api.get_group_summary_with_http_info, group_id)

    def profile(self, user_id: str) -> Result:
        """A user's profile: answered only for users who follow the bot (404 otherwise)."""
        return self._call(self._api.get_profile_with_http_info, user_id)

    def member_count(self, chat_id: str) -> Result:
        """How many members a group ("C…") or room ("R…") has, the bot not counted: what a push there costs."""
        if chat_id.startswith("R"):
            return self._call(self._api.get_room_member_count_with_http_info, chat_id)
        return self._call(self._api.get_group_member_count_with_http_info, chat_id)

    def group_member_profile(self, group_id: str, user_id: str) -> Result:
        return self._call(self._api.get_group_member_profile_with_http_info, group_id, user_id)

    def leave_group(self, group_id: str) -> Result:
        return self._call(self._api.leave_group_with_http_info, group_id)

    def close(self) -> None:
        self._client.close()

    # --- the channel's settings (kasane doctor) ---------------------------------------------------
    def bot_info(self) -> Result:
        return self._call(self._api.get_bot_info_with_http_info)

    def webhook_endpoint(self) -> Result:
        return self._call(self._api.get_webhook_endpoint_with_http_info)

    def test_webhook(self, endpoint: str) -> Result:
        """LINE POSTs to ``endpoint`` as its console's Verify does, and says how that went."""
        return self._call(self._api.test_webhook_endpoint_with_http_info, TestWebhookEndpointRequest(endpoint=endpoint))

    def message_quota(self) -> Result:
        return self._call(self._api.get_message_quota_with_http_info)

    def message_quota_consumption(self) -> Result:
        return self._call(self._api.get_message_quota_consumption_with_http_info)
