"""臨時会議: a meeting outside the rule (必要に応じて臨時開催), with its own reminders.

Kept in ``settings["meeting"]["extra"]`` as ``[{"at": ISO datetime, "place": text}]``: an extra
meeting is an occurrence like the rule's, known by its date (attendance, 会議記録 and minutes attach
to it), with its own place. At most one meeting a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from models.meeting import Occurrence, duration, next_meeting, rule_of, rule_start_on, schedule_of, zone
from models.network import Network

PLACE_LIMIT = 200
WHEN = re.compile(r"\s*(\d{1,2})[/／月](\d{1,2})日?\s+(\d{1,2})[:：時](\d{2})?分?\s*(.*)")


@dataclass(frozen=True)
class Extra:
    occurrence: Occurrence
    place: str


def extras(network: Network) -> list[Extra]:
    tz, length = zone(network), duration(network)
    found = []
    for item in (network.settings or {}).get("meeting", {}).get("extra", []):
        try:
            start = datetime.fromisoformat(item["at"]).astimezone(tz)
        except (KeyError, TypeError, ValueError):
            continue
        found.append(Extra(Occurrence(start.date(), start, start + length), str(item.get("place") or "")))
    return sorted(found, key=lambda e: e.occurrence.start)


def extras_between(network: Network, start: datetime, end: datetime) -> list[Extra]:
    return [e for e in extras(network) if start <= e.occurrence.start < end]


def upcoming_extras(network: Network, now: datetime) -> list[Extra]:
    return [e for e in extras(network) if e.occurrence.start > now]


def next_of_all(session: Session, network: Network, now: datetime) -> tuple[Occurrence | None, Extra | None]:
    """The next meeting, the rule's or a 臨時会議, whichever comes first: (its occurrence, the
    臨時会議 when it is one). A network may have 臨時会議 and no rule."""
    regular = next_meeting(session, network, now)
    extra = next(iter(upcoming_extras(network, now)), None)
    if extra is not None and (regular is None or extra.occurrence.start < regular.start):
        return extra.occurrence, extra
    return regular, None


def parse_extra(text: str, now: datetime, network: Network) -> tuple[datetime, str] | None:
    """``1/14 14:00 公民館`` → the next 14 January at 14:00 after ``now`` (network's time zone), place."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    match = WHEN.fullmatch(text)
    if not match:
        return None
    month, day, hour, minute = int(match[1]), int(match[2]), int(match[3]), int(match[4] or 0)
    tz = zone(network)
    local = now.astimezone(tz)
    for year in (local.year, local.year + 1):
        try:
            start = datetime.combine(date(year, month, day), time(hour, minute), tz)
        except ValueError:
            return None
        if start > local:
            return start, match[5].strip()[:PLACE_LIMIT]
    return None


def add_extra(session: Session, network: Network, start: datetime, place: str) -> bool:
    """False when a meeting (the rule's or another extra) is already on that day."""
    day = start.date()
    schedule = schedule_of(session, network)
    if schedule is not None and rule_start_on(rule_of(schedule), zone(network), day) is not None:
        return False
    if any(e.occurrence.original == day for e in extras(network)):
        return False
    settings = dict(network.settings or {})
    meeting = dict(settings.get("meeting", {}))
    meeting["extra"] = [*meeting.get("extra", []), {"at": start.isoformat(), "place": place}]
    settings["meeting"] = meeting
    network.settings = settings
    return True
