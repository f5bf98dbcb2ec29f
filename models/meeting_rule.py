"""The Japanese meeting rule (``毎月第4水曜 14:00``) and the dates and times people type, as values.

Pure functions: no database, no clock. Text arrives NFKC-normalised from the registry
(``１４：００`` is already ``14:00``), but we normalise again so the CLI gets the same reading.

Forms read:
- ``毎月第4水曜 14:00``, ``毎月最終金曜 18:30``, ``毎月15日 10:00``
- ``隔月第2火曜 14:00``: every other month, counted from the first meeting after the rule is
  set; it is stored resolved as ``奇数月…`` or ``偶数月…``, which may also be typed directly.
- times ``14:00``, ``14時``, ``14時30分``, ``14時半``, ``午後2時``.

Refused on purpose: ``第5水曜`` and ``29日``–``31日`` (those days are missing in some months, so a
"monthly" meeting would silently skip months: ``最終水曜`` says what is usually meant).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, time
from enum import StrEnum
from urllib.parse import urlparse

WEEKDAYS = "月火水木金土日"  # index = Python's date.weekday()
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}  # CronTrigger's spelling
KANJI_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}
MONTHS_WORDS = {"毎月": "all", "隔月": "alternate", "奇数月": "odd", "偶数月": "even"}
LAST_DAY_OF_EVERY_MONTH = 28

_TIME = (
    r"(?P<ampm>午前|午後)?\s*(?P<hour>\d{1,2})\s*"
    r"(?::\s*(?P<minute>\d{1,2})|時\s*(?:(?P<jminute>\d{1,2})\s*分|(?P<half>半))?)"
)
_DAY = (
    r"(?:(?:第\s*(?P<nth>\d{1,2}|[一二三四五])|(?P<last>最終|最後の?))\s*(?P<weekday>[月火水木金土日])(?:曜日?)?"
    r"|(?P<day>\d{1,2})\s*日)"
)
_RULE = re.compile(rf"(?P<months>毎月|隔月|奇数月|偶数月)\s*(?:の\s*)?{_DAY}\s*(?P<time>{_TIME})?")
_TIME_ONLY = re.compile(rf"{_TIME}")
_DATE = re.compile(
    r"(?:(?P<year>\d{4})\s*[-/年.]\s*)?(?P<month>\d{1,2})\s*[-/月.]\s*(?P<day>\d{1,2})\s*日?"
    r"(?:\s*[(（]?[月火水木金土日](?:曜日?)?[)）]?)?"
)


class RuleError(StrEnum):
    """Why a rule, a date or a time could not be read (each has its wording in bot.replies.messages)."""

    UNREADABLE = "unreadable"
    NO_TIME = "no_time"
    BAD_TIME = "bad_time"
    FIFTH_WEEK = "fifth_week"
    BAD_DAY = "bad_day"
    SHORT_MONTH_DAY = "short_month_day"
    BAD_DATE = "bad_date"


@dataclass(frozen=True)
class MeetingRule:
    months: str  # "all" | "odd" | "even" | "alternate" (隔月, resolved to odd/even when stored)
    hour: int
    minute: int
    day: int | None = None  # 毎月15日
    nth: int | None = None  # 第1..第4; -1 = 最終
    weekday: int | None = None  # 0 = 月曜

    @property
    def at(self) -> time:
        return time(self.hour, self.minute)

    def text(self) -> str:
        """Canonical wording; parsing it gives back the same rule."""
        prefix = {"all": "毎月", "alternate": "隔月", "odd": "奇数月", "even": "偶数月"}[self.months]
        if self.day is not None:
            when = f"{self.day}日"
        else:
            assert self.weekday is not None
            when = ("最終" if self.nth == -1 else f"第{self.nth}") + f"{WEEKDAYS[self.weekday]}曜"
        return f"{prefix}{when} {self.hour}:{self.minute:02d}"

    def resolved(self, first_month: int) -> MeetingRule:
        """隔月 counted from ``first_month`` (the month of the first meeting after setting it)."""
        if self.months != "alternate":
            return self
        return replace(self, months="odd" if first_month % 2 else "even")

    def cron_fields(self) -> dict[str, str | int]:
        """Fields for APScheduler's CronTrigger (``day="4th wed"`` is its own syntax)."""
        if self.months == "alternate":
            raise ValueError("resolve 隔月 to odd or even months first")
        if self.day is not None:
            day = str(self.day)
        else:
            assert self.weekday is not None
            day = ("last" if self.nth == -1 else ORDINALS[self.nth]) + f" {CRON_DAYS[self.weekday]}"
        month = {"all": "*", "odd": "1-12/2", "even": "2-12/2"}[self.months]
        return {"month": month, "day": day, "hour": self.hour, "minute": self.minute}

    def rrule(self) -> dict[str, object]:
        """The same rule as an RFC 5545 RRULE (BYMONTH keeps odd/even months explicit)."""
        recur: dict[str, object] = {"FREQ": "MONTHLY"}
        if self.months in ("odd", "even"):
            recur["BYMONTH"] = list(range(1 if self.months == "odd" else 2, 13, 2))
        if self.day is not None:
            recur["BYMONTHDAY"] = self.day
        else:
            assert self.weekday is not None
            recur["BYDAY"] = f"{self.nth}{ICAL_DAYS[self.weekday]}"
        return recur


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def parse_time(text: str) -> time | RuleError:
    match = _TIME_ONLY.fullmatch(normalise(text))
    return _time_of(match) if match else RuleError.BAD_TIME


def _time_of(match: re.Match[str]) -> time | RuleError:
    hour = int(match["hour"])
    minute = 30 if match["half"] else int(match["minute"] or match["jminute"] or 0)
    if match["ampm"] == "午後" and hour < 12:
        hour += 12
    if hour > 23 or minute > 59 or (match["ampm"] and int(match["hour"]) > 12):
        return RuleError.BAD_TIME
    return time(hour, minute)


def parse_rule_prefix(text: str) -> tuple[MeetingRule | RuleError, str]:
    """Read a rule at the start of ``text``; the rest (the place) is returned as typed."""
    text = normalise(text)
    match = _RULE.match(text)
    if match is None:
        return RuleError.UNREADABLE, text
    rest = text[match.end() :].strip()
    if match["time"] is None:
        return RuleError.NO_TIME, rest
    at = _time_of(match)
    if isinstance(at, RuleError):
        return at, rest
    months = MONTHS_WORDS[match["months"]]
    if match["day"] is not None:
        day = int(match["day"])
        if not 1 <= day <= 31:
            return RuleError.BAD_DAY, rest
        if day > LAST_DAY_OF_EVERY_MONTH:
            return RuleError.SHORT_MONTH_DAY, rest
        return MeetingRule(months, at.hour, at.minute, day=day), rest
    nth = -1 if match["last"] else int(KANJI_DIGITS.get(match["nth"], match["nth"]))
    if nth == 5:
        return RuleError.FIFTH_WEEK, rest
    if not (nth == -1 or 1 <= nth <= 4):
        return RuleError.UNREADABLE, rest
    return MeetingRule(months, at.hour, at.minute, nth=nth, weekday=WEEKDAYS.index(match["weekday"])), rest


def parse_rule(text: str) -> MeetingRule | RuleError:
    """A whole rule and nothing else (the CLI's ``--rule``, a stored rule)."""
    rule, rest = parse_rule_prefix(text)
    if isinstance(rule, MeetingRule) and rest:
        return RuleError.UNREADABLE
    return rule


def parse_date(text: str, today: date) -> date | RuleError:
    """``2026-12-23``, ``2026/12/23``, ``2026年12月23日``, ``12/23``, ``12月23日（水）``.

    Without a year: this year, or next year when that day has already passed.
    """
    match = _DATE.fullmatch(normalise(text))
    if match is None:
        return RuleError.BAD_DATE
    year = int(match["year"]) if match["year"] else today.year
    try:
        found = date(year, int(match["month"]), int(match["day"]))
    except ValueError:
        return RuleError.BAD_DATE
    if not match["year"] and found < today:
        try:
            found = found.replace(year=year + 1)
        except ValueError:  # 2月29日 with no leap year next
            return RuleError.BAD_DATE
    return found


def parse_date_time(text: str, today: date) -> tuple[date | None, time | None] | RuleError:
    """``2026-12-16 15:00``, ``12/16``, ``15:00`` (a part left out stays as it was)."""
    text = normalise(text)
    if not text:
        return RuleError.BAD_DATE
    found_time: time | None = None
    time_match = re.search(rf"(?:^|\s){_TIME}$", text)
    if time_match:
        at = _time_of(time_match)
        if isinstance(at, RuleError):
            return at
        found_time, text = at, text[: time_match.start()].strip()
    if not text:
        return None, found_time
    found_date = parse_date(text, today)
    if isinstance(found_date, RuleError):
        return RuleError.BAD_TIME if re.search(r"\d+:\d+|時", text) else found_date
    return found_date, found_time


def parse_past_date(text: str, today: date) -> date | RuleError:
    """A meeting that took place: without a year it is the most recent such day, not next year's."""
    day = parse_date(text, today)
    if isinstance(day, date) and day > today and not re.match(r"\d{4}", normalise(text)):
        day = day.replace(year=day.year - 1)
    return RuleError.BAD_DATE if isinstance(day, date) and day > today else day


def iso_date(text: str) -> date | None:
    """A date carried in a postback (``2026-12-23``); anything else is None."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


_URL = re.compile(r"https?://\S+")
LINK_LIMIT = 500


def split_link(text: str) -> tuple[str, str | None]:
    """An online-meeting URL may be written anywhere in the place: take it out."""
    # A lone surrogate (a broken emoji) cannot be stored as UTF-8: drop it rather than fail.
    text = text.encode("utf-8", "ignore").decode("utf-8")
    match = _URL.search(text)
    if match is None:
        return " ".join(text.split()), None
    place = text[: match.start()] + " " + text[match.end() :]
    return " ".join(place.split()), match.group(0)


def valid_link(link: str) -> bool:
    try:
        link.encode("utf-8")  # a lone surrogate cannot be stored
    except UnicodeEncodeError:
        return False
    parsed = urlparse(link)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and len(link) <= LINK_LIMIT and " " not in link
