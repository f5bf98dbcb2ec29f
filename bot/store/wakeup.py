"""Waking a process when another one has committed work for it.

The web process records webhook events for the worker, and the worker queues messages for
its sender: each in a process of its own, so none can simply set an event for the other.
PostgreSQL has LISTEN/NOTIFY (a notification sent in the transaction that commits the work).
SQLite has ``PRAGMA data_version``, which changes when another connection commits: reading
it is a look at shared memory, cheap enough to do every few milliseconds. Either way the work
starts within milliseconds, without querying its table in a tight loop.

Whoever waits clears first, then looks for work, then waits: a wake that comes while it
looks is not lost.
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

SQLITE_CHECK_EVERY = 0.01  # 1-2 % of a core while idle; a new event waits 5 ms on average


class LocalWakeup:
    """Same process: whoever commits calls ``set``."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def set(self) -> None:
        self.event.set()

    def clear(self) -> None:
        self.event.clear()

    def wait(self, timeout: float) -> None:
        self.event.wait(timeout)

    def close(self) -> None:
        self.event.set()


class SqliteWakeup(LocalWakeup):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._version: int | None = None

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._changed() or self.event.wait(SQLITE_CHECK_EVERY):
                return

    def _changed(self) -> bool:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(self.path, timeout=1.0, check_same_thread=False)
            version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self._connection = None
            return False
        changed = self._version is not None and version != self._version
        self._version = version
        return changed

    def close(self) -> None:
        super().close()
        if self._connection is not None:
            self._connection.close()


class PostgresWakeup(LocalWakeup):
    """LISTEN on ``channel``; a ``set`` from this process's own threads wakes it as well.

    The sender's own threads call ``set`` when a delivery finishes, so that it is recorded and
    the lane's next message claimed at once: a wait that only heard NOTIFY would sleep through
    them until the next commit of the worker, or the poll interval (a second) when it is quiet.
    So the wait watches the LISTEN socket and a pipe that ``set`` writes to.
    """

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self._connection: Any = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        # Closed when the object goes, not in close(): a thread may still be waiting on it then.
        weakref.finalize(self, _close_all, self._wake_read, self._wake_write)

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake_write, b"!")
        except (BlockingIOError, OSError):  # the pipe is full (a wake is waiting anyway) or closed
            pass

    def clear(self) -> None:
        super().clear()
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float) -> None:
        if self.event.is_set():
            return
        try:
            connection = self._listening()
            ready, _, _ = select.select([connection.fileno(), self._wake_read], [], [], timeout)
            if connection.fileno() in ready:  # a burst sends many: one wake is enough for all of them
                for _ in connection.notifies(timeout=0):
                    pass
        except Exception as exc:  # the database went away: fall back to waiting, reconnect next time
            log.info("wake-up on %s: LISTEN connection lost (%s)", self.channel, exc.__class__.__name__)
            self._drop()
            self.event.wait(timeout)

    def _listening(self) -> Any:
        if self._connection is None:
            import psycopg

            self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            self._connection.execute(f"LISTEN {self.channel}")
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # closing a broken connection may fail too
                pass
        self._connection = None

    def close(self) -> None:
        super().close()
        self.set()
        self._drop()


def _close_all(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def database_wakeup(engine: Engine, channel: str) -> LocalWakeup:
    """A wake-up on what other processes commit: to ``engine``'s file (SQLite), or NOTIFY ``channel``."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteWakeup(url.database)
    if url.get_backend_name() == "postgresql":
        return PostgresWakeup(url.set(drivername="postgresql").render_as_string(hide_password=False), channel)
    return LocalWakeup()
