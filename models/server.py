"""What the server keeps for itself: a generated secret key when none is configured (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ServerKey(Base):
    """One generated key per name, shared by every process on the database (web processes on
    several hosts, the worker, ``kasane login-link``). On SQLite the key is a 0600 file beside
    the database instead, so that a copy of the database file does not carry it."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
