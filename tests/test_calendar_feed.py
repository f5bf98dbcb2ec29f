"""Each network's meetings as an iCalendar feed at a secret URL, for the organizers' calendar apps.

The feed is read twice: with ``icalendar`` + ``recurring-ical-events`` (what calendar code in
Python uses), and with a plain RFC 5545 reading (unfold lines, take DTSTART/RRULE/EXDATE/
RECURRENCE-ID) expanded by ``dateutil.rrule``, which shares no code with ``icalendar``.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

import icalendar
import pytest
import recurring_ical_events
from conftest import JST
from dateutil.rrule import rrulestr

from bot.config import load_config
from bot.links import Links

# What the calendar must show after the changes below: December moved, January cancelled.
EXPECTED = [
    datetime(2026, 11, 25, 14, 0),
    datetime(2026, 12, 16, 15, 0),
    datetime(2027, 2, 24, 14, 0),
]


@pytest.fixture
def organizer(world):
    group = world.group()
    alice, bob = world.person("Alice"), world.person("Bob")
    world.invite_bot(group)
    group.add(alice, bob)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    alice.follows_bot()
    alice.says(group, "会議設定 毎月第4水曜 14:00 中央公民館 https://meet.example.jp/kasane")
    alice.says(group, "会議変更 12/23 → 12/16 15:00")
    alice.says(group, "会議中止 2027-01-27")
    return group, alice, bob


def urls(text: str) -> list[str]:
    return re.findall(r"https?://\S+\.ics", text)


def fetch(client, url: str):  # type: ignore[no-untyped-def]
    return client.get(urlsplit(url).path)


def test_an_organizer_gets_the_secret_url_in_a_one_to_one_chat(world, organizer):
    group, alice, bob = organizer

    answer = alice.says(None, "カレンダー")

    assert answer.text.startswith("会議のカレンダーのURLです")
    assert "久留米ささえあいネット" in answer.text
    [url] = urls(answer.text)
    assert url.startswith("http://127.0.0.1:8000/calendar/")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 32 base64url chars: 192 bits
    # Asking again issues a new URL (only its hash is kept); the old one stops (issue 18, finding 6).
    [again] = urls(alice.says(None, "カレンダー").text)
    assert again != url

    in_group = alice.says(group, "カレンダー")
    assert "1対1のトークでお送りします" in in_group.text and not urls(in_group.text)
    assert bob.says(None, "カレンダー").text == "カレンダーのURLは、会議の世話役の方にお渡ししています。"


def test_an_organizer_of_two_networks_gets_both(world, organizer):
    _, alice, _ = organizer
    second = world.group("西部ささえあい会議")
    world.invite_bot(second)
    second.add(alice)
    alice.says(second, "団体登録 子ども食堂ひまわり")

    answer = alice.says(None, "カレンダー")

    assert len(set(urls(answer.text))) == 2
    assert "西部ささえあい会議（会議の予定はまだ設定されていません）" in answer.text


def test_the_feed_parses_with_icalendar_and_shows_moves_and_cancellations(world, organizer, client):
    _, alice, _ = organizer
    [url] = urls(alice.says(None, "カレンダー").text)

    response = fetch(client, url)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.data)
    window = (datetime(2026, 11, 1, tzinfo=JST), datetime(2027, 3, 1, tzinfo=JST))
    events = recurring_ical_events.of(calendar).between(*window)
    starts = sorted(event.decoded("dtstart") for event in events)
    assert [s.astimezone(JST).replace(tzinfo=None) for s in starts] == EXPECTED
    assert all(str(s.tzinfo) == "Asia/Tokyo" for s in starts)
    moved = next(e for e in events if e.decoded("dtstart").day == 16)
    assert moved.decoded("dtend") - moved.decoded("dtstart") == datetime(1, 1, 1, 2) - datetime(1, 1, 1)
    assert str(moved["location"]) == "中央公民館" and str(moved["url"]) == "https://meet.example.jp/kasane"
    assert [c.name for c in calendar.walk("VTIMEZONE")] == ["VTIMEZONE"]


def unfold(text: str) -> list[str]:
    """RFC 5545 §3.1: a line starting with a space or a tab continues the previous one."""
    lines: list[str] = []
    for line in text.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line:
            lines.append(line)
    return lines


def components(lines: list[str], name: str) -> list[dict[str, str]]:
    found, current = [], None
    for line in lines:
        if line == f"BEGIN:{name}":
            current = {}
        elif line == f"END:{name}":
            found.append(current)
            current = None
        elif current is not None:
            key, _, value = line.partition(":")
            current[key] = value
    return found


def local(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%S")


def test_the_feed_reads_the_same_with_a_plain_rfc5545_reading(world, organizer, client):
    _, alice, _ = organizer
    [url] = urls(alice.says(None, "カレンダー").text)
    text = fetch(client, url).data.decode("utf-8")

    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    lines = unfold(text)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # folded as §3.1 asks
    [master, override] = components(lines, "VEVENT")
    assert master["DTSTART;TZID=Asia/Tokyo"] == "20261125T140000"
    assert master["RRULE"] == "FREQ=MONTHLY;BYDAY=4WE"
    assert master["EXDATE;TZID=Asia/Tokyo"] == "20270127T140000"
    assert override["UID"] == master["UID"]
    assert override["RECURRENCE-ID;TZID=Asia/Tokyo"] == "20261223T140000"
    assert override["DTSTART;TZID=Asia/Tokyo"] == "20261216T150000"

    rule = rrulestr(master["RRULE"], dtstart=local(master["DTSTART;TZID=Asia/Tokyo"]))
    starts = set(rule.between(datetime(2026, 11, 1), datetime(2027, 3, 1), inc=True))
    starts -= {local(master["EXDATE;TZID=Asia/Tokyo"]), local(override["RECURRENCE-ID;TZID=Asia/Tokyo"])}
    starts |= {local(override["DTSTART;TZID=Asia/Tokyo"])}
    assert sorted(starts) == EXPECTED


def test_an_unknown_token_is_not_found(client, organizer):
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get("/calendar/.ics").status_code == 404


def test_a_network_without_a_schedule_has_an_empty_calendar(world, client):
    group, alice = world.group(), world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 ひまわり")
    [url] = urls(alice.says(None, "カレンダー").text)

    calendar = icalendar.Calendar.from_ical(fetch(client, url).data)

    assert list(calendar.walk("VEVENT")) == []


def test_an_extra_meeting_is_an_event_of_its_own_in_both_readings(world, organizer, client):
    group, alice, _ = organizer
    alice.says(group, "臨時会議 1/14 14:00 市役所 第2会議室")
    [url] = urls(alice.says(None, "カレンダー").text)
    body = fetch(client, url).data

    calendar = icalendar.Calendar.from_ical(body)
    window = (datetime(2026, 11, 1, tzinfo=JST), datetime(2027, 3, 1, tzinfo=JST))
    events = recurring_ical_events.of(calendar).between(*window)
    starts = sorted(e.decoded("dtstart").astimezone(JST).replace(tzinfo=None) for e in events)
    assert starts == sorted([*EXPECTED, datetime(2027, 1, 14, 14, 0)])
    extra = next(e for e in events if e.decoded("dtstart").month == 1)
    assert str(extra["summary"]) == "臨時会議（久留米ささえあいネット）"
    assert str(extra["location"]) == "市役所 第2会議室" and "url" not in extra
    assert extra.decoded("dtend") - extra.decoded("dtstart") == datetime(1, 1, 1, 2) - datetime(1, 1, 1)

    [master, override, plain] = components(unfold(body.decode("utf-8")), "VEVENT")
    assert plain["UID"] not in (master["UID"], override["UID"]) and "RRULE" not in plain
    assert plain["DTSTART;TZID=Asia/Tokyo"] == "20270114T140000"


def test_a_network_with_only_an_extra_meeting_has_it_in_its_calendar(world, client):
    group, alice = world.group(), world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 ひまわり")
    alice.says(group, "臨時会議 12/2 18:30 公民館")
    answer = alice.says(None, "カレンダー")
    [url] = urls(answer.text)

    [event] = icalendar.Calendar.from_ical(fetch(client, url).data).walk("VEVENT")

    assert "会議の予定はまだ設定されていません" not in answer.text
    assert event.decoded("dtstart") == datetime(2026, 12, 2, 18, 30, tzinfo=JST)
    assert str(event["location"]) == "公民館"


def test_the_feed_url_uses_the_public_url_when_set():
    config = load_config(environ={}, overrides={"server": {"public_url": "https://kasane.example.jp/"}})
    assert Links.from_config(config, "k").calendar("abc") == "https://kasane.example.jp/calendar/abc.ics"
    local_only = load_config(environ={}, overrides={"server": {"host": "0.0.0.0", "port": 8080}})
    assert Links.from_config(local_only, "k").calendar("abc") == "http://127.0.0.1:8080/calendar/abc.ics"
