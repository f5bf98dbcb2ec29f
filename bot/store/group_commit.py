"""Group commit: many request threads' small writes committed together, in one transaction.

Under a burst, eight waitress threads each committing one webhook event would queue on the
database's write lock (SQLite sleeps in coarse steps while it waits). Instead, the first
thread to arrive becomes the *leader*: it writes everything queued so far in one
transaction, wakes the others, and hands leadership to the first thread that queued while
it was writing. No background thread is involved, so a single-threaded test client works
the same way (every batch is then of one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommitTimeout(Exception):
    """The batch holding our items did not finish in time (the database is stuck)."""


class _Gate:
    """A one-shot signal: a bare lock, lighter than threading.Event (a condition and a lock)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        try:
            self._lock.release()
        except RuntimeError:
            pass  # already set

    def wait(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)


class _Waiter(Generic[T]):
    __slots__ = ("items", "done", "lead", "error", "event", "abandoned")

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self.done = False
        self.lead = False
        self.abandoned = False
        self.error: BaseException | None = None
        self.event = _Gate()


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, max_items: int = 500, timeout: float = 10.0) -> None:
        self._write = write
        self._max_items = max_items
        self._timeout = timeout
        self._lock = threading.Lock()
        self._queue: list[_Waiter[T]] = []
        self._leading = False

    def submit(self, items: list[T]) -> None:
        """Return once ``items`` are committed; raise what the write raised, for every item in its batch."""
        waiter = _Waiter(items)
        with self._lock:
            self._queue.append(waiter)
            if not self._leading:
                self._leading = waiter.lead = True
        if not waiter.lead:
            self._follow(waiter)
            if waiter.done:
                return self._result(waiter)
        self._lead(waiter)
        return self._result(waiter)

    def _follow(self, waiter: _Waiter[T]) -> None:
        if waiter.event.wait(self._timeout):
            return
        with self._lock:
            if waiter.done or waiter.lead:
                return  # finished or promoted just now
            # Our items stay queued: the next leader still writes them (the caller retries
            # anyway, and the write must be idempotent).
            waiter.abandoned = True
        raise GroupCommitTimeout()

    def _lead(self, me: _Waiter[T]) -> None:
        while not me.done:
            with self._lock:
                batch, count = [], 0
                while self._queue and (not batch or count + len(self._queue[0].items) <= self._max_items):
                    waiter = self._queue.pop(0)
                    batch.append(waiter)
                    count += len(waiter.items)
            error: BaseException | None = None
            try:
                self._write([item for waiter in batch for item in waiter.items])
            except BaseException as exc:  # every thread in the batch answers for it
                error = exc
            with self._lock:
                for waiter in batch:
                    waiter.error, waiter.done = error, True
                    waiter.event.set()
                if me.done:
                    self._promote()

    def _promote(self) -> None:
        """Hand leadership to the first waiter still waiting; abandoned items ride along in its batch."""
        for waiter in self._queue:
            if not waiter.abandoned:
                waiter.lead = True
                waiter.event.set()
                return
        # Nobody waits (abandoned items, if any, go with the next submit's batch).
        self._leading = False

    @staticmethod
    def _result(waiter: _Waiter[T]) -> None:
        if waiter.error is not None:
            raise waiter.error
