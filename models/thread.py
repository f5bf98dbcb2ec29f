"""困りごと threads, the responses to them, and each thread's timeline.

Stored text (``summary``, ``Response.text``) is always masked by ``models.privacy``
before it reaches these tables; the raw text of a trouble is never stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.network import Member, Organization


class ThreadState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Outcome(StrEnum):
    RESOLVED = "resolved"  # 解決
    EASED = "eased"  # 緩和: eased, not gone; counts as a success
    REFERRED = "referred"  # つなぎ: handed to a formal agency (record which)
    ACCOMPANYING = "accompanying"  # 伴走: stays open with slower follow-ups
    ENDED = "ended"  # 終了: ended without those (record why)
    WITHDRAWN = "withdrawn"  # 取り下げ

    @property
    def closes(self) -> bool:
        return self is not Outcome.ACCOMPANYING


class ResponseKind(StrEnum):
    CONNECTION = "connection"  # 伝手: "I know who can help"
    OFFER = "offer"  # 手伝えます
    COMMENT = "comment"  # a quote-reply to the thread's card
    WATCH = "watch"  # 気にかけています (no text)


CATEGORIES = ("高齢", "障害", "子ども", "困窮", "住まい", "仕事", "健康", "孤立", "その他")


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        UniqueConstraint("network_id", "number"),
        Index("ix_threads_network_state_posted", "network_id", "state", "posted_at"),
        Index("ix_threads_network_posted", "network_id", "posted_at"),
        Index("ix_threads_network_closed", "network_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    number: Mapped[int]  # "#12": counts up per network
    poster_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    summary: Mapped[str | None] = mapped_column(Text)  # masked; None once erased (unsend, retention)
    masked_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    message_id: Mapped[str | None] = mapped_column(String(32), index=True)  # LINE message id of the post
    category: Mapped[str] = mapped_column(String(16), default="その他")
    area: Mapped[str | None] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(16), default=ThreadState.OPEN)
    outcome: Mapped[str | None] = mapped_column(String(16))
    referred_to: Mapped[str | None] = mapped_column(String(100))  # つなぎ先
    end_reason: Mapped[str | None] = mapped_column(String(200))  # 終了の理由
    retracted: Mapped[bool] = mapped_column(default=False)  # 取り消し: the post was unsent
    meeting_requested: Mapped[bool] = mapped_column(default=False)  # 「会議で相談」
    flagged_at: Mapped[datetime | None]  # no response for N days: for the next meeting's agenda
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None]
    outcome_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    connection_count: Mapped[int] = mapped_column(default=0)
    offer_count: Mapped[int] = mapped_column(default=0)
    comment_count: Mapped[int] = mapped_column(default=0)
    watcher_count: Mapped[int] = mapped_column(default=0)
    erased_at: Mapped[datetime | None]  # retention: text gone, counts kept

    organization: Mapped[Organization | None] = relationship()
    poster: Mapped[Member | None] = relationship()
    responses: Mapped[list[Response]] = relationship(back_populates="thread", order_by="Response.id")
    events: Mapped[list[ThreadEvent]] = relationship(back_populates="thread", order_by="ThreadEvent.id")

    @property
    def is_open(self) -> bool:
        return self.state == ThreadState.OPEN

    @property
    def response_count(self) -> int:
        return self.connection_count + self.offer_count


class Response(Base):
    __tablename__ = "thread_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)  # masked
    message_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    thread: Mapped[Thread] = relationship(back_populates="responses")
    organization: Mapped[Organization | None] = relationship()


class EventKind(StrEnum):
    POSTED = "posted"
    CORRECTED = "corrected"  # 分野 / 地区 changed
    RESPONSE = "response"
    COMMENT = "comment"
    WATCH = "watch"
    OUTCOME = "outcome"
    REOPENED = "reopened"
    RETRACTED = "retracted"  # the post was unsent: text erased
    EDITED = "edited"
    FOLLOWUP = "followup"  # a follow-up was sent (detail: step)
    FLAGGED = "flagged"  # put on the next meeting's agenda
    MEETING_REQUESTED = "meeting_requested"
    DISCUSSED = "discussed"  # discussed at a meeting
    NOTE = "note"  # coordinator note (dashboard only)
    CONSENT = "consent"  # 本人同意 set (detail: consent, before)
    MISSING = "missing"  # a resource the network lacked for this thread (detail: resource)
    SHARED = "shared"  # marked (or unmarked) 事例として共有 (detail: shared)


class Consent(StrEnum):
    """本人同意: whether the person agreed to their case going to a 重層的支援会議 (and the group)."""

    YES = "yes"  # あり
    NO = "no"  # なし
    UNKNOWN = "unknown"  # 未確認 (every thread starts here)


CONSENT_LABELS = {Consent.YES: "あり", Consent.NO: "なし", Consent.UNKNOWN: "未確認"}


class ThreadEvent(Base):
    """One entry of a thread's timeline: never updated, never deleted (except retention of text)."""

    __tablename__ = "thread_events"
    __table_args__ = (Index("ix_thread_events_thread_at", "thread_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))  # None: the bot itself
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    via: Mapped[str] = mapped_column(String(16), default="chat")  # chat | dashboard | job | cli
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    thread: Mapped[Thread] = relationship(back_populates="events")
    actor: Mapped[Member | None] = relationship()
    organization: Mapped[Organization | None] = relationship()


class Area(Base):
    """地区: each network keeps its own list (e.g. 校区)."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("network_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))


class PendingAnswer(Base):
    """After 「伝手あり」/「手伝えます」, the presser's next message in that group is the answer."""

    __tablename__ = "pending_answers"
    __table_args__ = (UniqueConstraint("network_id", "line_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    line_user_id: Mapped[str] = mapped_column(String(64))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    kind: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
