"""The coordinators' dashboard: one-time sign-in links and coordinator notes on threads.

Sign-in links are bearer secrets, so only a hash of the token is stored: a copy of the
database (a backup, a support dump) never lets anyone sign in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base
from models.casework import record_event
from models.network import Member, Network, Role
from models.privacy import mask
from models.thread import EventKind, Response, Thread, ThreadEvent

LOGIN_LINK_LIFETIME = timedelta(minutes=10)
LOGIN_LINKS_PER_HOUR = 5
NOTE_LIMIT = 2000
COORDINATING_ROLES = (Role.COORDINATOR, Role.ORGANIZER)

# Indexes the case log needs on tables of other features, declared here so that the
# dashboard's migration (0004) and the models agree without touching models/thread.py.
# They are covering indexes: SQLite has no hash joins and reads a table row per index entry,
# so with 200,000 threads a count that must visit the rows takes seconds, one that reads
# only the index takes milliseconds (bench/dashboard_bench.py). Threads are written at a
# human pace, so the extra index upkeep costs nothing that matters.
# - every filter of the thread list and every figure of the month's threads:
Index(
    "ix_threads_caselog",
    Thread.network_id,
    Thread.posted_at,
    Thread.retracted,
    Thread.state,
    Thread.outcome,
    Thread.category,
    Thread.area,
    Thread.organization_id,
    Thread.first_response_at,
    Thread.closed_at,
    Thread.connection_count,
    Thread.offer_count,
    Thread.referred_to,
    Thread.end_reason,
    Thread.id,
)
# - threads open at the end of a month (carried over), by closing date:
Index("ix_threads_closed_caselog", Thread.network_id, Thread.closed_at, Thread.retracted, Thread.posted_at)
# - a response's thread, by id, without reading the thread's row (its network, poster):
Index("ix_threads_id_scope", Thread.id, Thread.network_id, Thread.retracted, Thread.organization_id)
# - responses given in a period (伝手・申し出 figures, the 重なり map):
Index("ix_thread_responses_caselog", Response.created_at, Response.kind, Response.thread_id, Response.organization_id)
# - who took part in a thread (formal × informal overlap):
Index("ix_thread_responses_thread_kind", Response.thread_id, Response.kind, Response.organization_id)
# - meeting discussions across a network (the meetings page):
Index("ix_thread_events_kind_at", ThreadEvent.kind, ThreadEvent.at)


class LoginToken(Base):
    __tablename__ = "login_tokens"
    __table_args__ = (Index("ix_login_tokens_user_created", "line_user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret part
    line_user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    via: Mapped[str] = mapped_column(String(16), default="chat")  # chat | cli


class DashboardSession(Base):
    """A signed-in browser, kept on the server so that it can be ended: ログアウト, "sign out
    everywhere" and a revoked role end every copy of its cookie. Only a hash of the id is kept."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's id
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]


def start_session(session: Session, line_user_id: str, now: datetime) -> str:
    """A new session id (never one the browser had before: rotated at every sign-in)."""
    secret = secrets.token_urlsafe(32)
    session.add(DashboardSession(id_hash=token_hash(secret), line_user_id=line_user_id, created_at=now))
    return secret


def session_user(session: Session, secret: str | None) -> str | None:
    if not secret:
        return None
    return session.scalar(select(DashboardSession.line_user_id).where(DashboardSession.id_hash == token_hash(secret)))


def end_session(session: Session, secret: str | None) -> None:
    if secret:
        session.execute(delete(DashboardSession).where(DashboardSession.id_hash == token_hash(secret)))


def end_all_sessions(session: Session, line_user_id: str) -> int:
    """Every browser this person is signed in on (sign out everywhere; a role revoked)."""
    result = session.execute(delete(DashboardSession).where(DashboardSession.line_user_id == line_user_id))
    return result.rowcount or 0


class ThreadNote(Base):
    """A coordinator's note on a thread: shown on the dashboard only, never in the group."""

    __tablename__ = "thread_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str | None] = mapped_column(Text)  # masked; None once erased (retention)
    created_at: Mapped[datetime]

    author: Mapped[Member | None] = relationship()


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def coordinated_networks(session: Session, line_user_id: str) -> list[Network]:
    """Networks where this LINE user is a coordinator or organizer (left networks included:
    their case log is still needed)."""
    return list(
        session.scalars(
            select(Network)
            .join(Member, Member.network_id == Network.id)
            .where(Member.line_user_id == line_user_id, Member.role.in_(COORDINATING_ROLES))
            .order_by(Network.id)
        )
    )


def coordinator_in(session: Session, network_id: int, line_user_id: str) -> Member | None:
    return session.scalar(
        select(Member).where(
            Member.network_id == network_id,
            Member.line_user_id == line_user_id,
            Member.role.in_(COORDINATING_ROLES),
        )
    )


def links_issued_recently(session: Session, line_user_id: str, now: datetime) -> int:
    since = now - timedelta(hours=1)
    return (
        session.scalar(
            select(func.count(LoginToken.id)).where(
                LoginToken.line_user_id == line_user_id, LoginToken.created_at > since
            )
        )
        or 0
    )


def store_token(session: Session, line_user_id: str, secret: str, now: datetime, *, via: str = "chat") -> LoginToken:
    row = LoginToken(
        token_hash=token_hash(secret),
        line_user_id=line_user_id,
        created_at=now,
        expires_at=now + LOGIN_LINK_LIFETIME,
        via=via,
    )
    session.add(row)
    session.flush()
    return row


def find_usable_token(session: Session, secret: str, now: datetime) -> LoginToken | None:
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == token_hash(secret)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def consume_token(session: Session, secret: str, now: datetime) -> str | None:
    """Mark the token used and return its user; None when unknown, used or expired.

    A conditional UPDATE, not read-then-write: two tabs pressing at once cannot both win.
    """
    result = session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == token_hash(secret),
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginToken.line_user_id)
    )
    return result.scalar_one_or_none()


def add_note(session: Session, thread: Thread, author: Member, text: str, now: datetime) -> ThreadNote:
    """Keep the note (masked like every stored text); the timeline only says that a note was added."""
    masked = mask(text[:NOTE_LIMIT])
    note = ThreadNote(thread_id=thread.id, author_id=author.id, text=masked.text, created_at=now)
    session.add(note)
    session.flush()
    record_event(session, thread, EventKind.NOTE, now, actor=author, via="dashboard", note_id=note.id)
    return note
