"""SQLite writers take turns on a kernel lock beside the database, held exactly as long as a write transaction."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.store.db import make_engine, make_inbox_engine
from bot.store.inbox_writer import InboxWriteFailed, InboxWriter
from bot.store.writer_lock import WriterLockedConnection, lock_path


def lock_is_free(database: str) -> bool:
    """Try the writer lock from a descriptor of our own, as another process would."""
    fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also drops the lock if we got it
    return True


def inbox_row(key: str) -> dict:  # type: ignore[type-arg]
    return {
        "event_key": key,
        "event_type": "message",
        "chat_id": "C1",
        "redelivery": False,
        "received_at": datetime(2026, 12, 1, tzinfo=UTC),
        "payload": b"sealed",
    }


@pytest.fixture
def database(tmp_path):  # type: ignore[no-untyped-def]
    path = str(tmp_path / "kasane.db")
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield path, engine
    engine.dispose()


def test_a_write_transaction_holds_the_lock_until_commit(database):
    path, engine = database
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert not lock_is_free(path)
    assert lock_is_free(path)


def test_a_failed_transaction_lets_go_of_the_lock(database):
    path, engine = database
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        raise RuntimeError("handler bug")
    assert lock_is_free(path)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM notes")).scalar() == 0


def test_a_second_writer_waits_and_goes_as_soon_as_the_first_commits(database):
    path, engine = database
    other = make_engine(f"sqlite:///{path}")  # another process's engine, in effect
    order: list[str] = []
    started = threading.Event()

    def second_writer() -> None:
        started.set()
        with other.begin() as connection:
            order.append("second began")
            connection.execute(text("INSERT INTO notes (body) VALUES ('second')"))

    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            thread = threading.Thread(target=second_writer)
            thread.start()
            started.wait(5)
            thread.join(0.3)
            assert thread.is_alive(), "the second writer did not wait for the first"
            order.append("first commits")
        thread.join(10)
        assert order == ["first commits", "second began"]
        with engine.connect() as connection:
            bodies = connection.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all()
        assert bodies == ["first", "second"]
    finally:
        other.dispose()


def test_a_writer_that_dies_lets_go_of_the_lock(database):
    path, engine = database
    pid = os.fork()
    if pid == 0:  # the child: start writing, then die without a word
        child = make_engine(f"sqlite:///{path}")
        connection = child.connect()
        connection.begin()
        connection.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        os._exit(1)
    os.waitpid(pid, 0)
    assert lock_is_free(path)
    with engine.begin() as connection:  # and SQLite rolled the dead writer's work back
        assert connection.execute(text("SELECT count(*) FROM notes")).scalar() == 0


def test_the_webhook_door_takes_the_inbox_lock_for_its_write(tmp_path):
    url = f"sqlite:///{tmp_path / 'kasane.db'}"
    engine = make_engine(url)
    inbox = make_inbox_engine(url, engine)
    writer = InboxWriter(inbox)
    seen: list[bool] = []
    inbox_file = str(tmp_path / "kasane-inbox.db")
    original = WriterLockedConnection.begin_immediate

    def spying(self: WriterLockedConnection) -> None:
        original(self)
        seen.append(lock_is_free(inbox_file))

    try:
        WriterLockedConnection.begin_immediate = spying  # type: ignore[method-assign]
        writer.write([inbox_row("e1")])
    finally:
        WriterLockedConnection.begin_immediate = original  # type: ignore[method-assign]
        writer.close()
    assert seen == [False]  # held while writing
    assert lock_is_free(inbox_file)  # and let go with the commit
    inbox.dispose()
    engine.dispose()


def test_an_in_memory_database_has_no_lock_file(tmp_path):
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        assert not isinstance(connection.connection.dbapi_connection, WriterLockedConnection)
    engine.dispose()


def test_a_failed_webhook_write_leaves_the_inbox_free(tmp_path):
    url = f"sqlite:///{tmp_path / 'kasane.db'}"
    engine = make_engine(url)
    inbox = make_inbox_engine(url, engine)
    inbox_file = str(tmp_path / "kasane-inbox.db")
    writer = InboxWriter(inbox)
    with inbox.begin() as connection:
        connection.execute(text("ALTER TABLE inbox RENAME TO inbox_gone"))
    with pytest.raises(InboxWriteFailed) as failed:
        writer.write([inbox_row("e1")])
    kept = failed.value  # as a log record or the web framework may keep it, traceback and all
    try:
        assert lock_is_free(inbox_file)
        other = sqlite3.connect(inbox_file, timeout=0)  # SQLite's own lock is free too: no waiting
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
        other.close()
    finally:
        del kept
        writer.close()
        inbox.dispose()
        engine.dispose()


def test_closing_a_connection_mid_transaction_ends_the_transaction(database):
    # What the pool does to a connection it discards after an error. A statement still open on
    # it (a cursor kept alive by the error's traceback) would otherwise keep the closed
    # connection's transaction, and SQLite's write lock, until the collector freed it.
    path, engine = database
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO notes (body) VALUES ('a'), ('b')"))
    raw = engine.raw_connection()
    dbapi_connection = raw.dbapi_connection
    dbapi_connection.begin_immediate()
    reading = dbapi_connection.execute("SELECT body FROM notes")
    reading.fetchone()  # the statement stays open
    raw.invalidate()
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # at once: nobody holds the write lock any more
        other.rollback()
    finally:
        other.close()
        del reading
    assert lock_is_free(path)
