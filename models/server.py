"""What the server keeps for itself: a generated secret key when none is configured (PostgreSQL),
and the address ``kasane serve`` last listened on (for ``kasane login-link``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, upsert

LISTEN_ADDRESS = "listen_address"


class ServerKey(Base):
    """One generated key per name, shared by every process on the database (web processes on
    several hosts, the worker, ``kasane login-link``). On SQLite the key is a 0600 file beside
    the database instead, so that a copy of the database file does not carry it."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


def remember_address(session: Session, url: str, now: datetime) -> None:
    """``kasane serve`` records where it listens, so that ``kasane login-link`` prints a link that
    reaches it (the port it was started with, not the configured default)."""
    upsert(session, ServerKey, ("name",), name=LISTEN_ADDRESS, value=url[:128], created_at=now)


def remembered_address(session: Session) -> str | None:
    return session.scalar(select(ServerKey.value).where(ServerKey.name == LISTEN_ADDRESS))
