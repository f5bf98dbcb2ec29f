"""The webhook door's one write: a batch of events recorded together, or not at all.

On PostgreSQL the batch is one autocommitted statement that also wakes the worker; on SQLite
one transaction in the inbox's own file. Either way: arrival order kept, a copy of an event
that already waits is not stored twice, and a refused batch leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import USING_POSTGRES, require_postgres
from sqlalchemy import select

from bot.store.db import make_engine, make_inbox_engine
from bot.store.inbox_writer import INBOX_CHANNEL, InboxWriteFailed, InboxWriter
from models import InboxEvent

RECEIVED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def row(key: str, chat: str | None = "C1") -> dict:  # type: ignore[type-arg]
    return {
        "event_key": key,
        "event_type": "message",
        "chat_id": chat,
        "redelivery": key.endswith("again"),
        "received_at": RECEIVED,
        "payload": b"sealed \x00\xff " + key.encode(),
    }


@pytest.fixture
def inbox(database_url):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    inbox = make_inbox_engine(database_url, engine)
    writer = InboxWriter(inbox)
    yield inbox, writer
    writer.close()
    if inbox is not engine:
        inbox.dispose()
    engine.dispose()


def stored(inbox) -> list:  # type: ignore[no-untyped-def]
    with inbox.connect() as connection:
        return list(connection.execute(select(InboxEvent).order_by(InboxEvent.seq)).all())


def test_a_batch_is_stored_in_arrival_order_with_every_field(inbox):
    engine, writer = inbox
    writer.write([row("e3"), row("e1", chat=None), row("e2")])
    rows = stored(engine)
    assert [r.event_key for r in rows] == ["e3", "e1", "e2"]
    first = rows[0]
    assert (first.event_type, first.chat_id, first.redelivery) == ("message", "C1", False)
    assert first.payload == b"sealed \x00\xff e3"
    assert rows[1].chat_id is None
    assert first.received_at.replace(tzinfo=first.received_at.tzinfo or UTC) == RECEIVED


def test_a_copy_of_a_waiting_event_is_not_stored_twice_even_within_one_batch(inbox):
    engine, writer = inbox
    writer.write([row("e1")])
    writer.write([row("e2"), row("e1"), row("e2"), row("e3")])
    assert [r.event_key for r in stored(engine)] == ["e1", "e2", "e3"]


def test_a_refused_batch_stores_nothing_and_the_writer_goes_on(inbox):
    engine, writer = inbox
    with pytest.raises(InboxWriteFailed):
        writer.write([row("e1"), row("e2") | {"payload": None}])
    assert stored(engine) == []
    writer.write([row("e3")])
    assert [r.event_key for r in stored(engine)] == ["e3"]


def test_on_postgresql_an_over_long_id_is_refused_not_cut(inbox):
    if not USING_POSTGRES:
        pytest.skip("SQLite does not enforce lengths")
    engine, writer = inbox
    with pytest.raises(InboxWriteFailed):
        writer.write([row("x" * 81)])  # the door cuts LINE's ids to 80 before it gets here
    assert stored(engine) == []


def test_on_postgresql_the_write_wakes_the_worker_only_when_it_stored_something():
    url = require_postgres()
    if not USING_POSTGRES:
        pytest.skip("the whole suite on PostgreSQL runs it (KASANE_TEST_DATABASE=postgres)")
    engine = make_engine(url)
    writer = InboxWriter(engine)
    key = f"wake-{datetime.now().timestamp()}"
    try:
        assert notifications_sent(url, lambda: writer.write([row(key)])) == 1
        # Only a copy of what waits: nothing new for the worker.
        assert notifications_sent(url, lambda: writer.write([row(key)])) == 0
    finally:
        writer.close()
        engine.dispose()


def notifications_sent(url: str, action) -> int:  # type: ignore[no-untyped-def]
    """How many NOTIFYs on the inbox channel ``action`` sent: heard by a listener of our own, up to
    a marker we send after it (PostgreSQL delivers notifications in commit order), so the count
    never depends on how long anything took."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as marker:
        listener.execute(f"LISTEN {INBOX_CHANNEL}")
        action()
        marker.execute("SELECT pg_notify(%s, 'test-marker')", (INBOX_CHANNEL,))
        heard = 0
        for notification in listener.notifies(timeout=30):
            if notification.payload == "test-marker":
                return heard
            heard += 1
    raise AssertionError("the marker notification never arrived")
