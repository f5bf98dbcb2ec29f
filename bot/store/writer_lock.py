"""One writer at a time on a SQLite file, handed over the moment it is free.

SQLite lets one transaction write at a time; a writer that finds the lock taken sleeps in
steps that grow to 100 ms (its busy handler) and looks again, so it often wakes long after
the lock was released. With the worker and the sender in processes of their own that cost
showed up as the delay of every reply: measured at 100 events/s, the sender waited 9.4 s in
all over a 20 s run, some rounds 180 ms, before it could record and claim.

So before ``BEGIN IMMEDIATE`` each connection takes an exclusive ``flock`` on a lock file
beside the database, and drops it right after its COMMIT or ROLLBACK. The kernel wakes a
waiting writer as soon as the lock is dropped and releases it when a process dies. SQLite's own
lock still decides what is correct: a program that writes without this lock (the sqlite3
shell, an older Kasane) only waits the old way.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any


def lock_path(database: str) -> Path:
    """``kasane.db`` → ``kasane.db-writer`` (next to SQLite's own -wal and -shm files)."""
    return Path(f"{database}-writer")


class WriterLockedConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions hold the file's writer lock (see above)."""

    lock_file: Path  # set on the per-database subclass made by ``connection_class``

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock_fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        self._holding = False

    def begin_immediate(self) -> None:
        # Blocking, without a timeout of its own: every holder is a short transaction of ours,
        # and a holder that dies lets go at once (the kernel closes its descriptor).
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        # SQLite keeps a closed connection's transaction (and its write lock) while any of its
        # statements is still alive, say in a cursor an error's traceback holds: end it now.
        if self.in_transaction:
            try:
                super().rollback()
            except sqlite3.Error:
                pass  # closing anyway
        try:
            super().close()
        finally:
            self._release()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def __del__(self) -> None:
        if getattr(self, "_lock_fd", -1) >= 0:
            os.close(self._lock_fd)  # the kernel drops the lock with its descriptor

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


def connection_class(database: str) -> type[WriterLockedConnection]:
    """The sqlite3 connection ``factory`` for one database file."""
    return type("WriterLockedConnection", (WriterLockedConnection,), {"lock_file": lock_path(database)})
