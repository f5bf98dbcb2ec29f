"""Quiet days: no follow-ups and no monthly figures on Sundays, over 年末年始 (29 December to
3 January) and on Japan's public holidays (``holidays``), unless a network opts in.

Nothing is lost on a quiet day: follow-ups are worked out from the stored threads, so what was
due waits for the next business day, and the monthly figures go out on the month's first
business day. Meeting reminders belong to their meeting and keep their days.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from models.network import Network
from models.settings import network_settings

JP_HOLIDAYS = holidays.country_holidays("JP")
SUNDAY = 6


def year_end(day: date) -> bool:
    """年末年始: 29 December to 3 January, as offices in Japan close."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_quiet_day(day: date) -> bool:
    return day.weekday() == SUNDAY or year_end(day) or day in JP_HOLIDAYS


def keeps_quiet_days(network: Network) -> bool:
    """False once the network opted in to quiet days (``kasane network settings --set quiet_days=false``)."""
    return network_settings(network).quiet_days is not False


def quiet_for(network: Network, day: date) -> bool:
    """Nothing optional is sent to ``network`` on ``day`` (its local date)."""
    return keeps_quiet_days(network) and is_quiet_day(day)


def first_business_day(year: int, month: int) -> date:
    day = date(year, month, 1)
    while is_quiet_day(day):
        day += timedelta(days=1)
    return day
