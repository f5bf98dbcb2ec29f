"""The one source of "now": real time, shifted (simulator's clock control) or fixed (tests)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, fixed: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed = fixed
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("Clock.set needs an aware datetime")
        with self._lock:
            self._fixed = when

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            if self._fixed is not None:
                self._fixed += delta
            else:
                self._offset += delta
        return self.now()

    @property
    def shifted(self) -> bool:
        return self._fixed is not None or self._offset != timedelta(0)
