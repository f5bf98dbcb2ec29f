"""What LINE counts and bills: counted messages per channel and calendar month (Japan time).

LINE-NOTES, "What messages cost": a reply is free; a push counts once per recipient (1 for a
user, the number of members for a group or room), however many speech balloons (1 to 5) the
request carries. When the month's allowance is spent, pushes answer 429 "You have reached your
monthly limit." until the month ends; replies keep working. A push to a user who does not
receive it (blocked the bot, never added it) is answered 200 and not counted (LINE's FAQ,
"If I send a message to a user who doesn't receive the message, is it still counted").

Not documented: whether a group push that would go past the allowance is sent in part. Here it
is refused whole (nothing is delivered, nothing counted): the stricter reading.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

JAPAN = ZoneInfo("Asia/Tokyo")
# LINE Official Account plans in Japan: the month's counted messages each allows.
FREE_PLAN = 200
LIGHT_PLAN = 5_000
STANDARD_PLAN = 30_000


def month_of(at: datetime) -> str:
    """The billing month an instant belongs to: LINE counts by the calendar month in Japan."""
    return at.astimezone(JAPAN).strftime("%Y-%m")


@dataclass
class Billing:
    """The channel's plan and what it counted, month by month. Guarded by the platform's lock."""

    allowance: int | None = FREE_PLAN  # None: no target limit (LINE's quota type "none")
    counted: Counter[str] = field(default_factory=Counter)  # month -> counted messages
    by_recipient: dict[str, Counter[str]] = field(default_factory=dict)  # month -> chat/user -> count
    exhausted: set[str] = field(default_factory=set)  # months marked spent by a test

    def used(self, at: datetime) -> int:
        month = month_of(at)
        if month in self.exhausted and self.allowance is not None:
            return max(self.counted[month], self.allowance)
        return self.counted[month]

    def can_afford(self, at: datetime, cost: int) -> bool:
        if self.allowance is None:
            return True
        month = month_of(at)
        if month in self.exhausted or self.counted[month] >= self.allowance:
            return False  # spent: every push is refused, whatever it would cost
        return self.counted[month] + cost <= self.allowance

    def charge(self, at: datetime, to: str, cost: int) -> None:
        month = month_of(at)
        self.counted[month] += cost
        self.by_recipient.setdefault(month, Counter())[to] += cost
