"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.store import writer_lock


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def normalise_url(url: str) -> str:
    # Operators paste "postgresql://..." URLs; we ship psycopg 3, not psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, synchronous: str = "NORMAL", **kwargs: Any) -> Engine:
    """``synchronous`` (SQLite): NORMAL survives a crash of the process; FULL also a power cut,
    at the price of an fsync per commit (about 0.7 ms of CPU on a small virtual machine)."""
    url = normalise_url(url)
    # A failed statement's message never carries its values (a summary, a user id) into a log.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        if "poolclass" not in kwargs:
            kwargs.update(pool_size=10, max_overflow=10)
        return create_engine(url, pool_pre_ping=True, **kwargs)
    connect_args: dict[str, Any] = {"timeout": 30, "check_same_thread": False}
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        connect_args["factory"] = writer_lock.connection_class(database)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (below) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # 500 KiB of page cache per connection instead of 2 MiB: with another process committing
        # every few milliseconds, SQLite empties a connection's cache at most transactions anyway
        # (the pages come back from the OS's cache), while a full one would cost each connection
        # of each process its 2 MiB (measured: 5 MB less for `kasane serve` after 20,000 events).
        cursor.execute("PRAGMA cache_size=-500")
        if ":memory:" not in url:
            # WAL is a property of the file: once set, it stays. Asking again takes a lock that
            # SQLite may refuse at once ("database is locked", no busy wait) while another process
            # opens the same file, so only the first connection to a new file changes it.
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                _switch_to_wal(cursor)
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # Web threads, the worker and the sender write concurrently: taking the write lock at
        # BEGIN waits for it instead of failing with "database is locked" on upgrade.
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, writer_lock.WriterLockedConnection):
            dbapi_connection.begin_immediate()
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    # Two processes opening a brand-new file at once: the loser is refused without a busy wait.
    for _ in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")


def inbox_path(url: str) -> Path | None:
    """SQLite's inbox file beside the database (``kasane.db`` → ``kasane-inbox.db``); None: no file of its own."""
    parsed = make_url(normalise_url(url))
    if not is_sqlite(url) or not parsed.database or parsed.database == ":memory:":
        return None
    main = Path(parsed.database)
    return main.with_name(f"{main.stem}-inbox{main.suffix or '.db'}")


def make_inbox_engine(url: str, engine: Engine) -> Engine:
    """Where webhook events wait (models/event.py ``InboxEvent``): a file of its own on SQLite,
    the same database elsewhere. The SQLite file holds only events in transit, so Kasane creates
    its one table itself instead of migrating it."""
    path = inbox_path(url)
    if path is None:
        return engine
    from sqlalchemy.schema import CreateTable

    from models import InboxEvent

    # FULL: the webhook's 200 promises LINE the event is kept (LINE will not send it again),
    # so that commit must survive a power cut too.
    inbox = make_engine(f"sqlite:///{path}", synchronous="FULL")
    with inbox.begin() as connection:  # IF NOT EXISTS: the web process and its worker may both get here first
        connection.execute(CreateTable(InboxEvent.__table__, if_not_exists=True))
    return inbox


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
