"""The contract period with the city (業務委託期間): ``[report] contract_start`` / ``contract_end``.

Records are kept 「業務完了の翌年度4月1日から5年」: the five years count from the April after the
end of the period a record belongs to. A thread closed inside the contract period belongs to it,
so it is kept until five years after the April following ``contract_end``, even when its own
closing date would let it go sooner (jobs/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

KEEP_YEARS = 5


def fiscal_year_of_day(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


@dataclass(frozen=True)
class Contract:
    start: date | None = None
    end: date | None = None

    def keeps(self, tz: str) -> tuple[datetime | None, datetime, datetime] | None:
        """(first moment of the period or None, first moment after it, when its records may go),
        or None without a contract end."""
        if self.end is None:
            return None
        zone = ZoneInfo(tz)
        after = datetime(self.end.year, self.end.month, self.end.day, tzinfo=zone) + timedelta(days=1)
        first = datetime(self.start.year, self.start.month, self.start.day, tzinfo=zone) if self.start else None
        erase_from = datetime(fiscal_year_of_day(self.end) + 1 + KEEP_YEARS, 4, 1, tzinfo=zone)
        return first, after, erase_from
