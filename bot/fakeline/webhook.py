"""Webhook bodies exactly as LINE sends them: event shapes, encoding and signature."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ulid import ULID

from bot.fakeline.ids import chat_kind, new_message_id
from bot.fakeline.platform import FakeLinePlatform

Event = dict[str, Any]
_OUTSIDE_BMP = re.compile("[\U00010000-\U0010ffff]")


def sign(body: bytes, channel_secret: str) -> str:
    """X-Line-Signature: base64 of HMAC-SHA256 over the raw body, keyed with the channel secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_body(payload: dict[str, Any]) -> bytes:
    """JSON as LINE writes it: compact UTF-8, but emoji escaped as surrogate pairs (`\\uD83E\\uDD28`).

    That escaping is why a bot must verify the signature over the raw bytes, never re-serialised JSON.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return _OUTSIDE_BMP.sub(_surrogate_escape, text).encode("utf-8")


def _surrogate_escape(match: re.Match[str]) -> str:
    offset = ord(match.group()) - 0x10000
    return f"\\u{0xD800 + (offset >> 10):04X}\\u{0xDC00 + (offset & 0x3FF):04X}"


def source(chat: str, user: str | None) -> dict[str, str]:
    """The event's `source`: its shape follows from the chat id's first letter."""
    kind = chat_kind(chat)
    if kind == "user":
        if user is not None and user != chat:
            raise ValueError(f"in a 1:1 chat the user is the chat itself ({chat}), not {user}")
        return {"type": "user", "userId": chat}
    shape = {"type": kind, f"{kind}Id": chat}
    if user is not None:  # LINE omits userId in group sources at times: pass None to mimic that
        shape["userId"] = user
    return shape


class WebhookBuilder:
    """Builds single webhook events; reply and quote tokens are issued by the platform.

    It only describes what happened: change the platform's world (add_group, add_member,
    add_friend, ...) separately so that LINE's API answers match the events.
    """

    def __init__(
        self, platform: FakeLinePlatform, *, destination: str | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.platform = platform
        self.destination = destination or platform.bot_user_id
        self.clock = clock or platform.clock

    # message events

    def text(
        self,
        chat: str,
        user: str | None,
        text: str,
        *,
        quoted_message_id: str | None = None,
        mentionees: list[dict[str, Any]] | None = None,
        message_id: str | None = None,
        mode: str = "active",
    ) -> Event:
        message: dict[str, Any] = {
            "id": message_id or new_message_id(),
            "type": "text",
            "quoteToken": self.platform.issue_quote_token(chat),
            "text": text,
        }
        if mentionees:
            message["mention"] = {"mentionees": [self._mentionee(m) for m in mentionees]}
        if quoted_message_id is not None:
            message["quotedMessageId"] = quoted_message_id
        return self._event("message", chat, user, replyable=True, mode=mode, message=message)

    def message_edited(self, chat: str, user: str | None, message_id: str, new_text: str) -> Event:
        """Same message id, new text, fresh reply and quote tokens."""
        if chat_kind(chat) == "user":
            raise ValueError("LINE sends messageEdited only from group chats, not from 1:1 chats")
        message = {
            "id": message_id,
            "type": "text",
            "quoteToken": self.platform.issue_quote_token(chat),
            "text": new_text,
        }
        return self._event("messageEdited", chat, user, replyable=True, message=message)

    def unsend(self, chat: str, user: str | None, message_id: str) -> Event:
        return self._event("unsend", chat, user, replyable=False, unsend={"messageId": message_id})

    def postback(
        self, chat: str, user: str | None, data: str, params: dict[str, str] | None = None, *, mode: str = "active"
    ) -> Event:
        postback: dict[str, Any] = {"data": data}
        if params is not None:
            postback["params"] = params
        return self._event("postback", chat, user, replyable=True, mode=mode, postback=postback)

    # membership events

    def join(self, group_id: str) -> Event:
        return self._event("join", group_id, None, replyable=True)

    def leave(self, group_id: str) -> Event:
        return self._event("leave", group_id, None, replyable=False)

    def member_joined(self, group_id: str, user_ids: list[str]) -> Event:
        return self._event("memberJoined", group_id, None, replyable=True, joined=_members(user_ids))

    def member_left(self, group_id: str, user_ids: list[str]) -> Event:
        return self._event("memberLeft", group_id, None, replyable=False, left=_members(user_ids))

    def follow(self, user_id: str, *, is_unblocked: bool = False) -> Event:
        return self._event("follow", user_id, None, replyable=True, follow={"isUnblocked": is_unblocked})

    def unfollow(self, user_id: str) -> Event:
        return self._event("unfollow", user_id, None, replyable=False)

    # request bodies

    def payload(self, *events: Event) -> dict[str, Any]:
        return {"destination": self.destination, "events": list(events)}

    def signed_request(self, channel_secret: str, *events: Event) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers of LINE's webhook POST carrying `events`."""
        body = encode_body(self.payload(*events))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": sign(body, channel_secret),
        }
        return body, headers

    def redelivery(self, event: Event) -> Event:
        """The same event redelivered: same webhookEventId and replyToken, isRedelivery true."""
        again = copy.deepcopy(event)
        again["deliveryContext"]["isRedelivery"] = True
        if "replyToken" in again:
            self.platform.redeliver_reply_token(again["replyToken"])
        return again

    # building blocks

    def _event(
        self, kind: str, chat: str, user: str | None, *, replyable: bool, mode: str = "active", **content: Any
    ) -> Event:
        now = self.clock()
        event: Event = {}
        if replyable and mode == "active":  # standby events carry no reply token
            event["replyToken"] = self.platform.issue_reply_token(chat)
        event.update(
            {
                "type": kind,
                "mode": mode,
                "timestamp": int(now.timestamp() * 1000),
                "source": source(chat, user),
                "webhookEventId": str(ULID.from_datetime(now)),
                "deliveryContext": {"isRedelivery": False},
            }
        )
        event.update(content)
        return event

    def _mentionee(self, mentionee: dict[str, Any]) -> dict[str, Any]:
        filled = dict(mentionee)
        if filled.get("type") == "user" and "userId" in filled:
            filled.setdefault("isSelf", filled["userId"] == self.platform.bot_user_id)
        return filled


def _members(user_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    return {"members": [{"type": "user", "userId": user_id} for user_id in user_ids]}
