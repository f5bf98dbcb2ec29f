"""The meeting rule as people type it, and the meetings it gives (Asia/Tokyo)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.meeting import rule_starts
from models.meeting_rule import (
    MeetingRule,
    RuleError,
    parse_date,
    parse_date_time,
    parse_past_date,
    parse_rule,
    parse_rule_prefix,
    parse_time,
    split_link,
    valid_link,
)

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)  # a Tuesday


def next_starts(text: str, count: int = 3) -> list[str]:
    rule = parse_rule(text)
    assert isinstance(rule, MeetingRule), rule
    if rule.months == "alternate":
        rule = rule.resolved(12)  # as stored when set in late November: first meeting in December
    starts = rule_starts(rule, JST, NOW, NOW + timedelta(days=400))[:count]
    return [s.strftime("%Y-%m-%d %a %H:%M") for s in starts]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("毎月第4水曜 14:00", ["2026-11-25 Wed 14:00", "2026-12-23 Wed 14:00", "2027-01-27 Wed 14:00"]),
        ("毎月第4水曜日 14時", ["2026-11-25 Wed 14:00", "2026-12-23 Wed 14:00", "2027-01-27 Wed 14:00"]),
        ("毎月 第四水曜 午後2時", ["2026-11-25 Wed 14:00", "2026-12-23 Wed 14:00", "2027-01-27 Wed 14:00"]),
        ("毎月15日 10:00", ["2026-12-15 Tue 10:00", "2027-01-15 Fri 10:00", "2027-02-15 Mon 10:00"]),
        ("毎月15日 10時半", ["2026-12-15 Tue 10:30", "2027-01-15 Fri 10:30", "2027-02-15 Mon 10:30"]),
        ("隔月第2火曜 14:00", ["2026-12-08 Tue 14:00", "2027-02-09 Tue 14:00", "2027-04-13 Tue 14:00"]),
        ("奇数月第2火曜 14:00", ["2027-01-12 Tue 14:00", "2027-03-09 Tue 14:00", "2027-05-11 Tue 14:00"]),
        ("毎月最終金曜 18:30", ["2026-11-27 Fri 18:30", "2026-12-25 Fri 18:30", "2027-01-29 Fri 18:30"]),
        # full-width digits and colon, as typed on a Japanese keyboard
        ("毎月第４水曜　１４：００", ["2026-11-25 Wed 14:00", "2026-12-23 Wed 14:00", "2027-01-27 Wed 14:00"]),
        ("毎月２３日 １０:００", ["2026-12-23 Wed 10:00", "2027-01-23 Sat 10:00", "2027-02-23 Tue 10:00"]),
    ],
)
def test_rule_text_gives_the_next_meetings(text, expected):
    assert next_starts(text) == expected


@pytest.mark.parametrize(
    "text, error",
    [
        ("毎月第4水曜 25:00", RuleError.BAD_TIME),
        ("毎月第4水曜 14:60", RuleError.BAD_TIME),
        ("毎月第4水曜 午後13時", RuleError.BAD_TIME),
        ("毎月第4水曜", RuleError.NO_TIME),
        ("毎月32日 10:00", RuleError.BAD_DAY),
        ("毎月0日 10:00", RuleError.BAD_DAY),
        # Missing in some months: a "monthly" meeting would silently skip them.
        ("毎月31日 10:00", RuleError.SHORT_MONTH_DAY),
        ("毎月第5水曜 14:00", RuleError.FIFTH_WEEK),
        ("毎月第6水曜 14:00", RuleError.UNREADABLE),
        ("第4水曜 14:00", RuleError.UNREADABLE),
        ("毎週水曜 14:00", RuleError.UNREADABLE),
        ("来月のどこか", RuleError.UNREADABLE),
        ("", RuleError.UNREADABLE),
    ],
)
def test_rules_it_cannot_use_are_errors_not_guesses(text, error):
    assert parse_rule(text) == error


def test_canonical_text_reads_back_as_the_same_rule():
    for text in ("毎月第4水曜 14:00", "毎月15日 9:05", "奇数月第2火曜 14:00", "偶数月最終金曜 18:30"):
        rule = parse_rule(text)
        assert isinstance(rule, MeetingRule) and rule.text() == text and parse_rule(rule.text()) == rule


def test_alternate_months_are_fixed_from_the_first_meeting():
    rule = parse_rule("隔月第2火曜 14:00")
    assert isinstance(rule, MeetingRule)
    assert rule.resolved(12).text() == "偶数月第2火曜 14:00"
    assert rule.resolved(1).cron_fields()["month"] == "1-12/2"
    with pytest.raises(ValueError):
        rule.cron_fields()  # 隔月 must be resolved before it is used


def test_rule_maps_to_cron_and_rrule():
    rule = parse_rule("毎月第4水曜 14:00")
    assert isinstance(rule, MeetingRule)
    assert rule.cron_fields() == {"month": "*", "day": "4th wed", "hour": 14, "minute": 0}
    assert rule.rrule() == {"FREQ": "MONTHLY", "BYDAY": "4WE"}
    last = parse_rule("偶数月最終金曜 18:30")
    assert isinstance(last, MeetingRule)
    assert last.rrule() == {"FREQ": "MONTHLY", "BYMONTH": [2, 4, 6, 8, 10, 12], "BYDAY": "-1FR"}


def test_the_place_follows_the_rule_and_may_hold_the_online_link():
    rule, rest = parse_rule_prefix("毎月第4水曜 14:00 中央公民館 2階 https://meet.example.jp/abc?pwd=1")
    assert isinstance(rule, MeetingRule)
    assert split_link(rest) == ("中央公民館 2階", "https://meet.example.jp/abc?pwd=1")
    assert split_link("https://x.example/j/1 オンラインのみ") == ("オンラインのみ", "https://x.example/j/1")
    assert split_link("公民館\ud800") == ("公民館", None)  # a broken emoji cannot be stored: dropped
    assert not valid_link("https://x.example/\ud800") and not valid_link("ftp://x.example/")


TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-23", date(2026, 12, 23)),
        ("2026/12/23", date(2026, 12, 23)),
        ("2026年12月23日", date(2026, 12, 23)),
        ("１２／２３", date(2026, 12, 23)),
        ("12月23日（水）", date(2026, 12, 23)),
        ("1/27", date(2027, 1, 27)),  # no year: the next such day
        ("2026-02-30", RuleError.BAD_DATE),
        ("13/1", RuleError.BAD_DATE),
        ("あした", RuleError.BAD_DATE),
    ],
)
def test_dates(text, expected):
    assert parse_date(text, TODAY) == expected


def test_times_and_date_times():
    assert parse_time("14:00") == time(14, 0)
    assert parse_time("１４時３０分") == time(14, 30)
    assert parse_time("25:00") == RuleError.BAD_TIME
    assert parse_date_time("2026-12-16 15:00", TODAY) == (date(2026, 12, 16), time(15, 0))
    assert parse_date_time("12/16", TODAY) == (date(2026, 12, 16), None)
    assert parse_date_time("15:00", TODAY) == (None, time(15, 0))
    assert parse_date_time("2026-12-16 25:00", TODAY) == RuleError.BAD_TIME
    assert parse_date_time("2026-12-32", TODAY) == RuleError.BAD_DATE


def test_a_past_meeting_date_without_year_is_the_last_one():
    assert parse_past_date("11/25", date(2026, 11, 26)) == date(2026, 11, 25)
    assert parse_past_date("12/23", date(2027, 1, 5)) == date(2026, 12, 23)
    assert parse_past_date("2027-01-27", date(2027, 1, 5)) == RuleError.BAD_DATE
