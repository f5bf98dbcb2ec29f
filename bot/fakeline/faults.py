"""Injected failures and LINE's per-endpoint rate limit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

ENDPOINTS = (
    "reply",
    "push",
    "profile",
    "group_summary",
    "leave_group",
    "group_member_profile",
    "create_rich_menu",
    "set_rich_menu_image",
    "set_default_rich_menu",
)
# The channel's settings (bot/fakeline/channel.py).
# The message plan and member counts (bot/fakeline/routes.py).
ENDPOINTS += ("message_quota", "message_quota_consumption", "group_member_count", "room_member_count")
ENDPOINTS += ("bot_info", "webhook_endpoint", "set_webhook_endpoint", "webhook_test")


@dataclass
class Fault:
    """One kind of failure, applied to the next `remaining` matching requests."""

    kind: str  # "fail" | "timeout" (dropped unprocessed) | "lost_answer" (processed, then dropped)
    remaining: int
    endpoint: str | None
    status: int = 500
    message: str = "Internal Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def matches(self, endpoint: str | None) -> bool:
        return self.remaining > 0 and (self.endpoint is None or self.endpoint == endpoint)


class FaultQueue:
    """Faults in the order they were injected; not thread-safe (the platform's lock guards it)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.endpoint is not None and fault.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {fault.endpoint!r}; expected one of {ENDPOINTS}")
        if fault.remaining < 1:
            raise ValueError("a fault needs n >= 1")
        self._faults.append(fault)

    def take(self, endpoint: str | None) -> Fault | None:
        """The fault that applies to this request, counted as used, or None."""
        for fault in self._faults:
            if fault.matches(endpoint):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()


class TokenBucket:
    """LINE limits each endpoint per channel with a token bucket (2,000 requests/s for ours).

    Real time, not the platform's clock: a frozen test clock must not freeze the refill.
    """

    def __init__(self, rate: float = 2000.0, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else rate
        self._tokens = self.capacity
        self._last = time.monotonic()

    def try_take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
