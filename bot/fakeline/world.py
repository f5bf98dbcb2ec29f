"""What the fake LINE platform knows: chats, friends and the tokens and keys it handed out.

Plain state with no locking of its own: FakeLinePlatform guards every call with its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.fakeline.ids import new_quote_token, new_reply_token

# LINE-NOTES: a reply token works for 1 minute; after a redelivery it works for 1 minute
# from the redelivery, but never once 20 minutes have passed since the event.
REPLY_TOKEN_TTL = timedelta(seconds=60)
REDELIVERED_TOKEN_MAX_AGE = timedelta(minutes=20)
# LINE remembers an accepted X-Line-Retry-Key for 24 hours.
RETRY_KEY_TTL = timedelta(hours=24)


@dataclass
class Member:
    display_name: str
    picture_url: str | None = None


@dataclass
class Chat:
    """A group chat or a multi-person chat (room) the bot is in."""

    name: str
    picture_url: str | None = None
    members: dict[str, Member] = field(default_factory=dict)


@dataclass
class ReplyToken:
    chat_id: str
    issued_at: datetime
    redelivered_at: datetime | None = None
    used: bool = False

    def usable(self, now: datetime) -> bool:
        if self.used:
            return False
        if now - self.issued_at <= REPLY_TOKEN_TTL:
            return True
        return (
            self.redelivered_at is not None
            and now - self.redelivered_at <= REPLY_TOKEN_TTL
            and now - self.issued_at <= REDELIVERED_TOKEN_MAX_AGE
        )


@dataclass(frozen=True)
class AcceptedKey:
    request_id: str
    sent_messages: list[dict[str, Any]]
    at: datetime


class World:
    def __init__(self) -> None:
        self.chats: dict[str, Chat] = {}
        self.friends: dict[str, Member] = {}
        # Every user LINE knows on this channel (a member of some chat, a friend now or before):
        # a push to one who is not a friend is answered 200 and not delivered; to anyone else, 400.
        self.known_users: set[str] = set()
        self.reply_tokens: dict[str, ReplyToken] = {}
        self.quote_tokens: dict[str, str] = {}
        self.retry_keys: dict[str, AcceptedKey] = {}
        self.rich_menus: dict[str, Any] = {}  # id -> bot.fakeline.rich_menus.RichMenu
        self.default_rich_menu: str | None = None

    # chats and friends

    def chat(self, chat_id: str) -> Chat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"the bot is not in chat {chat_id}; call add_group first") from None

    def is_member(self, chat_id: str, user_id: str) -> bool:
        chat = self.chats.get(chat_id)
        return chat is not None and user_id in chat.members

    def recipients(self, to: str) -> int | None:
        """How many people a push to ``to`` reaches, as LINE counts them; None: no such chat or user.

        A chat the bot is in: its members (the bot not counted). A user who follows the bot: 1.
        A user LINE knows who does not follow the bot (never added it, blocked it): 0, since LINE
        answers 200, delivers nothing and counts nothing ("Conditions for sending push messages").
        """
        chat = self.chats.get(to)
        if chat is not None:
            return len(chat.members)
        if to in self.friends:
            return 1
        if to in self.known_users:
            return 0
        return None

    # reply tokens

    def issue_reply_token(self, chat_id: str, now: datetime) -> str:
        token = new_reply_token()
        self.reply_tokens[token] = ReplyToken(chat_id, issued_at=now)
        return token

    def redeliver_reply_token(self, token: str, now: datetime) -> None:
        if token in self.reply_tokens:
            self.reply_tokens[token].redelivered_at = now

    def usable_reply_token(self, token: str, now: datetime) -> ReplyToken | None:
        entry = self.reply_tokens.get(token)
        return entry if entry is not None and entry.usable(now) else None

    # quote tokens

    def issue_quote_token(self, chat_id: str) -> str:
        token = new_quote_token()
        self.quote_tokens[token] = chat_id
        return token

    def quote_token_chat(self, token: str) -> str | None:
        return self.quote_tokens.get(token)

    # retry keys

    def accepted_key(self, key: str, now: datetime) -> AcceptedKey | None:
        accepted = self.retry_keys.get(key)
        if accepted is not None and now - accepted.at > RETRY_KEY_TTL:
            del self.retry_keys[key]
            return None
        return accepted
