"""What the running installation records about itself: process heartbeats and backup runs.

``kasane doctor``, ``/healthz?deep=1`` and ``/metrics`` read them; they may run on another host
than the worker, so the record is in the database both share, not in a local file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, upsert


class Heartbeat(Base):
    """The last sign of life of one worker or sender process (``role``), written every few seconds."""

    __tablename__ = "heartbeats"

    instance: Mapped[str] = mapped_column(String(120), primary_key=True)  # role:host:pid
    role: Mapped[str] = mapped_column(String(16), index=True)
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class BackupRun(Base):
    """One ``kasane backup`` or daily backup: when, where to, and how it ended (``ok`` None: running)."""

    __tablename__ = "backup_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # The daily job's day ("scheduled:2026-12-07"): unique, so that of several workers one backs up.
    slot: Mapped[str | None] = mapped_column(String(40), unique=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    path: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(String(500))


# --- heartbeats ---------------------------------------------------------------------------------


def beat(
    session: Session, *, role: str, instance: str, host: str, pid: int, started_at: datetime, now: datetime
) -> None:
    upsert(
        session,
        Heartbeat,
        ("instance",),
        instance=instance,
        role=role,
        host=host,
        pid=pid,
        started_at=started_at,
        beat_at=now,
    )


def forget_beats_before(session: Session, before: datetime) -> None:
    """Processes long gone (restarts leave one row each)."""
    session.execute(delete(Heartbeat).where(Heartbeat.beat_at < before))


def last_beats(session: Session) -> dict[str, datetime]:
    """The freshest heartbeat of each role ("worker", "sender")."""
    rows = session.execute(select(Heartbeat.role, func.max(Heartbeat.beat_at)).group_by(Heartbeat.role))
    return {role: at for role, at in rows}


# --- backups ------------------------------------------------------------------------------------


def start_backup(session: Session, now: datetime, slot: str | None = None) -> int | None:
    """A new run's id; None when ``slot`` was already taken (another worker backs up today)."""
    if slot is not None and session.scalar(select(BackupRun.id).where(BackupRun.slot == slot)) is not None:
        return None
    run = BackupRun(slot=slot, started_at=now)
    session.add(run)
    session.flush()
    return run.id


def finish_backup(
    session: Session, run_id: int, now: datetime, *, ok: bool, path: str | None, size: int | None, message: str
) -> None:
    session.execute(
        update(BackupRun)
        .where(BackupRun.id == run_id)
        .values(finished_at=now, ok=ok, path=path, size_bytes=size, message=message[:500])
    )


def last_finished_backup(session: Session) -> BackupRun | None:
    return session.scalars(
        select(BackupRun).where(BackupRun.finished_at.is_not(None)).order_by(BackupRun.finished_at.desc()).limit(1)
    ).first()


def last_successful_backup(session: Session) -> datetime | None:
    return session.scalar(select(func.max(BackupRun.finished_at)).where(BackupRun.ok.is_(True)))
