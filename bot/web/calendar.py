"""``GET /calendar/<token>.ics``: each network's meetings as an iCalendar feed (RFC 5545).

One recurring VEVENT carries the rule as an RRULE; a cancelled occurrence is an EXDATE and a
moved one an override VEVENT with the same UID and a RECURRENCE-ID, so calendar apps show
exactly what the bot reminds about. Each 臨時会議 (models.meeting_extra) is a single VEVENT of its
own, with its place and no link, as its reminders say. The token in the URL is the only key (192 random bits):
the feed holds dates, place and link, never anything from the case log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app
from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from bot.replies import messages
from models import Network
from models.meeting import (
    LOOKAHEAD,
    MeetingSchedule,
    changes_of,
    duration,
    network_of_feed,
    rule_of,
    rule_start_on,
    rule_starts,
    schedule_of,
    zone,
)
from models.meeting_extra import Extra, extras

blueprint = Blueprint("calendar_feed", __name__)
CACHE_SECONDS = 300  # calendar apps poll; a few minutes' delay after a change is fine


def build_calendar(session: Session, network: Network, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Kasane//meetings//JA")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    name = messages.MEETING_CALENDAR_EVENT_SUMMARY.format(
        name=messages.meeting_name(network.settings), network=network.name or messages.MEETING_UNNAMED_NETWORK
    )
    calendar.add("x-wr-calname", name)
    schedule = schedule_of(session, network)
    events = _events(session, network, schedule, name, now) if schedule is not None else []
    events += [_extra_event(network, extra, now) for extra in extras(network)]
    for event in events:
        calendar.add_component(event)
    if events:
        calendar.add_missing_timezones()  # a VTIMEZONE for Asia/Tokyo, for clients that need one
    return calendar.to_ical()


def _extra_event(network: Network, extra: Extra, now: datetime) -> Event:
    """A 臨時会議: not an instance of the rule, so a UID of its own (known by its day, like its
    attendance); its own place, no online link."""
    meeting = extra.occurrence
    event = Event()
    event.add("uid", f"meeting-{network.id}-extra-{meeting.key}@kasane")
    event.add("dtstamp", now)
    event.add("dtstart", meeting.start)
    event.add("dtend", meeting.end)
    event.add(
        "summary",
        messages.MEETING_CALENDAR_EXTRA_SUMMARY.format(
            name=messages.meeting_name(network.settings), network=network.name or messages.MEETING_UNNAMED_NETWORK
        ),
    )
    if extra.place:
        event.add("location", extra.place)
    return event


def _events(session: Session, network: Network, schedule: MeetingSchedule, name: str, now: datetime) -> list[Event]:
    tz, rule, length = zone(network), rule_of(schedule), duration(network)
    starts = rule_starts(rule, tz, schedule.set_at, schedule.set_at + LOOKAHEAD)
    if not starts:
        return []
    first = starts[0]  # RFC 5545: DTSTART should be the first instance of the RRULE
    uid = f"meeting-{network.id}-{schedule.id}@kasane"
    master = _event(uid, name, schedule, first, length, now)
    master.add("rrule", rule.rrule())
    overrides, cancelled = [], []
    for original, change in sorted(changes_of(session, network).items()):
        start = rule_start_on(rule, tz, original)
        if start is None or start < first:
            continue  # left by an older rule, or before this rule began
        if change.cancelled:
            cancelled.append(start)
        elif change.moved_to is not None:
            override = _event(uid, name, schedule, change.moved_to.astimezone(tz), length, now)
            override.add("recurrence-id", start)
            overrides.append(override)
    if cancelled:
        master.add("exdate", cancelled)
    return [master, *overrides]


def _event(uid: str, name: str, schedule: MeetingSchedule, start: datetime, length: timedelta, now: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + length)
    event.add("summary", name)
    if schedule.place:
        event.add("location", schedule.place)
    if schedule.link:
        event.add("url", schedule.link)
        event.add("description", schedule.link)
    return event


@blueprint.get("/calendar/<token>.ics")
def feed(token: str) -> Response:
    runtime = current_app.extensions["kasane"]
    with runtime.sessions() as session:
        network = network_of_feed(session, token)
        if network is None:
            abort(404)
        body = build_calendar(session, network, runtime.clock.now())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response


def register(app: Flask, runtime: Any) -> None:
    app.register_blueprint(blueprint)
