"""What a handler gets: the event, the database session of its transaction, and ways to answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import logs
from bot.links import Links
from bot.pipeline import outbox
from models import Member, Network
from models.ledger import Kind


@dataclass
class Context:
    session: Session
    raw: dict[str, Any]  # the event as LINE sent it (never stored)
    event: Any  # the SDK's typed event
    now: datetime
    settings: Any = None  # bot.config.Config
    links: Links | None = None  # addresses for messages (sign-in, calendar); None where no link is written
    received_at: datetime | None = None  # when the webhook door recorded the event (reply tokens age from then)
    replies: list[dict[str, Any]] = field(default_factory=list)
    # What the replies are for (models.ledger.Kind): decides what becomes of them if their reply
    # token expires before the sender gets to them (a backlog, an outage).
    reply_kinds: set[str] = field(default_factory=set)
    reply_topic: str | None = None  # what the reply is about ("thread:12"), for quote-replies
    # Answers to "which network, which member" found earlier in this event (handlers/access.py).
    memo: dict[Any, Any] = field(default_factory=dict)
    # The network this event turned out to be about: its messages are that network's (送信の状況).
    network_id: int | None = None

    # --- who and where ------------------------------------------------------
    @property
    def event_type(self) -> str:
        return str(self.raw.get("type", ""))

    @property
    def source(self) -> dict[str, Any]:
        return self.raw.get("source") or {}

    @property
    def user_id(self) -> str | None:
        return self.source.get("userId")

    @property
    def group_id(self) -> str | None:
        return self.source.get("groupId") or self.source.get("roomId")

    @property
    def in_group(self) -> bool:
        return self.group_id is not None

    @property
    def chat_id(self) -> str | None:
        return self.group_id or self.user_id

    @property
    def reply_token(self) -> str | None:
        return self.raw.get("replyToken")

    @property
    def event_time(self) -> datetime:
        millis = self.raw.get("timestamp")
        if isinstance(millis, int):
            return datetime.fromtimestamp(millis / 1000, UTC)
        return self.now

    @property
    def text(self) -> str:
        """The message text exactly as sent (commands are matched on an NFKC copy)."""
        return str((self.raw.get("message") or {}).get("text", ""))

    def text_after(self, prefix: str, fallback: str) -> str:
        """The original text after a command prefix, so stored text keeps the sender's own characters."""
        match = re.match(prefix, self.text, re.DOTALL | re.IGNORECASE)
        return self.text[match.end() :].strip() if match else fallback

    def network(self) -> Network | None:
        if not self.group_id:
            return None
        return self.session.scalar(select(Network).where(Network.group_id == self.group_id))

    def member(self, network: Network | None = None) -> Member | None:
        network = network or self.network()
        if network is None or not self.user_id:
            return None
        return self.session.scalar(
            select(Member).where(Member.network_id == network.id, Member.line_user_id == self.user_id)
        )

    def about(self, *, network_id: int | None = None, thread: int | None = None) -> None:
        """What this event turned out to be about: every log line written while it is handled says so."""
        if network_id is not None:
            self.network_id = network_id
        logs.note(network_id=network_id, thread=thread)

    # --- answering ------------------------------------------------------------
    def reply(self, *messages: dict[str, Any], kind: str = Kind.ANSWER) -> None:
        """Answer in the chat the event came from (sent with the reply token when fresh).

        ``kind``: an answer (what was asked for) by default; ``Kind.NOTICE`` when it tells
        someone something they must see (the poster's 伝手 notice). See ``acknowledge``.
        """
        self.replies.extend(messages)
        self.reply_kinds.add(kind)

    def acknowledge(self, *messages: dict[str, Any]) -> None:
        """A reply that only says an action was recorded (「#3 に伝手を記録しました」): if its reply
        token expires before it is sent, it is dropped, not pushed (the action shows in #N)."""
        self.reply(*messages, kind=Kind.ACK)

    @property
    def reply_kind(self) -> str:
        """The kind of the event's whole reply: a notice if any part is one, an acknowledgement
        only if every part is one."""
        for kind in (Kind.NOTICE, Kind.ANSWER):
            if kind in self.reply_kinds:
                return kind
        return Kind.ACK if self.reply_kinds == {Kind.ACK} else Kind.ANSWER

    def push(
        self, chat_id: str, *messages: dict[str, Any], dedupe_key: str | None = None, topic: str | None = None
    ) -> None:
        outbox.enqueue(
            self.session,
            chat_id,
            list(messages),
            now=self.now,
            dedupe_key=dedupe_key,
            topic=topic or self.reply_topic,  # a push while handling a thread is about that thread
            network_id=self.network_id,
        )

    @property
    def reply_lane(self) -> str | None:
        """In a group, each member's answers queue on their own: a crowd answering at once is answered at once."""
        if self.group_id and self.user_id:
            return f"{self.group_id}/{self.user_id}"
        return self.chat_id

    def flush_replies(self) -> None:
        if self.replies and self.chat_id:
            # A free reply in a group carries the notices held there (nudges, reminders): free.
            riders = []
            if self.in_group and self.reply_token and len(self.replies) < outbox.MAX_MESSAGES_PER_REQUEST:
                riders = outbox.take_riders(
                    self.session, self.chat_id, outbox.MAX_MESSAGES_PER_REQUEST - len(self.replies), self.now
                )
            ids = outbox.enqueue(
                self.session,
                self.chat_id,
                self.replies + [message for _, messages in riders for message in messages],
                now=self.now,
                reply_token=self.reply_token,
                token_issued_at=self.received_at,
                topic=self.reply_topic,
                lane=self.reply_lane,
                network_id=self.network_id,
                kind=self.reply_kind if self.reply_token else None,
            )
            outbox.carry(self.session, ids[0], [row_id for row_id, _ in riders])
        self.replies = []
        self.reply_kinds = set()
