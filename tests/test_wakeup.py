"""A worker in another process hears of a new webhook event at once, without querying the inbox in a loop."""

from __future__ import annotations

import threading

import pytest
from conftest import USING_POSTGRES, require_postgres
from harness import eventually
from sqlalchemy import text

from bot.store.db import make_engine, make_inbox_engine
from bot.store.inbox_writer import INBOX_CHANNEL
from bot.store.wakeup import LocalWakeup, PostgresWakeup, SqliteWakeup, database_wakeup


def waits_for(wakeup: LocalWakeup, commit) -> bool:  # type: ignore[no-untyped-def]
    """True when ``wakeup.wait`` (with a minute's timeout) returns because of ``commit``."""
    woken, waiting = threading.Event(), threading.Event()

    def wait() -> None:
        wakeup.clear()
        waiting.set()
        wakeup.wait(60)
        woken.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    assert waiting.wait(10)
    if isinstance(wakeup, SqliteWakeup):  # it has looked once: it knows where the database stood
        eventually(lambda: wakeup._version is not None, what="the watcher's first look")
    assert not woken.is_set(), "woke up with nothing new"
    commit()
    return woken.wait(30)


def test_sqlite_wakes_the_worker_when_the_web_process_commits(database_url):
    if USING_POSTGRES:
        pytest.skip("SQLite's data_version")
    engine = make_engine(database_url)
    inbox = make_inbox_engine(database_url, engine)
    wakeup = database_wakeup(inbox, INBOX_CHANNEL)
    assert isinstance(wakeup, SqliteWakeup)

    def commit() -> None:  # as the door does: another connection, another process in reality
        with inbox.begin() as connection:
            connection.execute(text("DELETE FROM inbox WHERE seq < 0"))
            connection.execute(
                text(
                    "INSERT INTO inbox (event_key, event_type, redelivery, received_at, payload)"
                    " VALUES ('k', 'message', 0, '2026-12-01 00:00:00', x'00')"
                )
            )

    try:
        assert waits_for(wakeup, commit)
    finally:
        wakeup.close()
        inbox.dispose()
        engine.dispose()


def test_postgresql_wakes_the_worker_on_notify():
    url = require_postgres()
    engine = make_engine(url)
    wakeup = database_wakeup(engine, INBOX_CHANNEL)
    assert isinstance(wakeup, PostgresWakeup)

    def commit() -> None:
        with engine.begin() as connection:
            connection.execute(text(f"NOTIFY {INBOX_CHANNEL}"))

    try:
        wakeup.wait(0.01)  # connects and listens
        assert waits_for(wakeup, commit)
    finally:
        wakeup.close()
        engine.dispose()


def test_a_wakeup_without_news_returns_after_its_timeout(database_url):
    engine = make_engine(database_url)
    wakeup = database_wakeup(make_inbox_engine(database_url, engine), INBOX_CHANNEL)
    try:
        wakeup.wait(0.05)  # no exception, no hang
    finally:
        wakeup.close()
        engine.dispose()


def test_postgresql_wakeup_also_wakes_on_a_local_set():
    """The sender's threads say "a delivery finished" with ``set``: its loop must not sleep
    through that until the next NOTIFY (or its poll interval) to record it and claim the next."""
    url = require_postgres()
    engine = make_engine(url)
    wakeup = database_wakeup(engine, "kasane_outbox")
    try:
        wakeup.wait(0.01)  # connects and listens
        assert waits_for(wakeup, wakeup.set)
    finally:
        wakeup.close()
        engine.dispose()


def test_postgresql_wakeup_close_ends_a_wait_at_once():
    url = require_postgres()
    engine = make_engine(url)
    wakeup = database_wakeup(engine, "kasane_outbox")
    try:
        wakeup.wait(0.01)
        assert waits_for(wakeup, wakeup.close)
    finally:
        wakeup.close()
        engine.dispose()


def test_a_transaction_that_queues_many_messages_notifies_the_sender_once_at_commit(postgres_migrated):
    """The worker handles up to a hundred events in one transaction: one NOTIFY for all of them,
    sent as it commits (none if it rolls back)."""
    from datetime import UTC, datetime

    from sqlalchemy import event

    from bot.pipeline import outbox
    from bot.pipeline.outbox import OUTBOX_CHANNEL
    from bot.replies import compose
    from bot.store.db import make_session_factory

    engine = make_engine(postgres_migrated)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    sessions = make_session_factory(engine)
    wakeup = database_wakeup(engine, OUTBOX_CHANNEL)
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def queue(session, n: int) -> None:  # type: ignore[no-untyped-def]
        for i in range(n):
            outbox.enqueue(session, f"C{i:032x}", [compose.text(f"m{i}")], now=now)

    try:
        wakeup.wait(0.01)  # listening
        with sessions() as session:
            queue(session, 3)
            session.rollback()
        assert not [s for s in sent if s.startswith("NOTIFY")]

        def commit() -> None:
            with sessions.begin() as session:
                queue(session, 3)

        assert waits_for(wakeup, commit)
        assert [s for s in sent if s.startswith("NOTIFY")] == [f"NOTIFY {OUTBOX_CHANNEL}"]
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM outbox WHERE chat_id LIKE 'C0000000%'"))
        wakeup.close()
        engine.dispose()
