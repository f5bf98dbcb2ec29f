"""The LINE messages about a meeting: the 7-day card, the reminders, the organizers' summary, the holiday card.

Wording comes from ``bot.replies.messages``; shapes from ``bot.replies.compose``. Agenda lines carry only what
the group may see (number, 分野, 地区, masked summary): see ``models.meeting_agenda``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.replies import compose, messages
from models import Member, Network, Organization
from models.meeting import ANSWERS, MeetingSchedule, Occurrence, attendance
from models.meeting_agenda import Agenda, build_agenda

Message = dict[str, Any]
MAX_MENTIONS = 20  # LINE: at most 20 substitutions in one textV2 message


def _name(network: Network) -> str:
    return messages.meeting_name(network.settings)


def _place(schedule: MeetingSchedule) -> str:
    return schedule.place or messages.MEETING_PLACE_UNDECIDED


def agenda_lines(agenda: Agenda, limit: int | None = None) -> list[str]:
    items = agenda.items if limit is None else agenda.items[:limit]
    # Without 本人同意 an item shows its number, 分野 and 地区 only (models.consent).
    lines = [
        messages.meeting_agenda_line(
            i.number, i.category, i.area, i.summary if i.consented or i.summary is None else "", list(i.reasons)
        )
        for i in items
    ]
    if limit is not None and len(agenda.items) > limit:
        lines.append(messages.MEETING_AGENDA_MORE.format(count=len(agenda.items) - limit))
    return lines or [messages.MEETING_AGENDA_EMPTY]


def answer_buttons(occurrence: Occurrence) -> list[dict[str, Any]]:
    return [
        compose.postback(
            messages.MEETING_ANSWER_LABELS[answer],
            "meeting.rsvp",
            messages.MEETING_ANSWER_DISPLAY[answer],
            d=occurrence.key,
            r=answer,
        )
        for answer in ANSWERS
    ]


def week_card(
    session: Session, network: Network, schedule: MeetingSchedule, occurrence: Occurrence, now: datetime
) -> Message:
    agenda = build_agenda(session, network, occurrence, now)
    when = messages.meeting_when(occurrence.start)
    lines: list[Any] = [messages.MEETING_PLACE_LINE.format(place=_place(schedule))]
    if schedule.link:
        lines.append(messages.MEETING_ONLINE_LINE)
    lines.append(compose.flex_text(messages.MEETING_AGENDA_TITLE, weight="bold", size="sm", margin="md"))
    lines += agenda_lines(agenda, messages.MEETING_AGENDA_CARD_ITEMS)
    lines.append(messages.MEETING_AGENDA_COUNTS.format(opened=agenda.opened, closed=agenda.closed))
    lines.append(compose.flex_text(messages.MEETING_CARD_ASK, size="sm", margin="md"))
    buttons = answer_buttons(occurrence)
    if schedule.link:
        buttons.append(compose.uri(messages.MEETING_ONLINE_BUTTON, schedule.link))
    return compose.card(
        messages.MEETING_CARD_ALT.format(name=_name(network), when=when),
        messages.MEETING_CARD_TITLE.format(name=_name(network)),
        lines,
        buttons,
        subtitle=when,
    )


def _unanswered(session: Session, network: Network, occurrence: Occurrence) -> list[tuple[Organization, list[str]]]:
    """Organizations with no answer yet, each with the LINE users registered for it."""
    answered = attendance(session, network, occurrence.original)
    organizations = session.scalars(
        select(Organization).where(Organization.network_id == network.id).order_by(Organization.id)
    ).all()
    found = []
    for organization in organizations:
        if organization.id in answered:
            continue
        users = session.scalars(
            select(Member.line_user_id)
            .where(Member.organization_id == organization.id, Member.left_at.is_(None))
            .order_by(Member.id)
        ).all()
        found.append((organization, list(users)))
    return found


def day_reminder(
    session: Session, network: Network, schedule: MeetingSchedule, occurrence: Occurrence, now: datetime
) -> Message:
    """Mentions the members of each organization that has not answered (at most 20 mentions)."""
    mentions: dict[str, str] = {}
    values = {"when": messages.meeting_when(occurrence.start), "name": _name(network), "place": _place(schedule)}
    lines = []
    for index, (organization, users) in enumerate(_unanswered(session, network, occurrence)):
        values[f"org{index}"] = organization.name
        keys = []
        for user in users[: MAX_MENTIONS - len(mentions)]:
            keys.append(f"m{len(mentions)}")
            mentions[keys[-1]] = user
        lines.append("・{" + f"org{index}" + "}" + "".join(" {" + key + "}" for key in keys))
    message = compose.mention_text(messages.meeting_day_reminder_template(lines), mentions, **values)
    return compose.with_quick_replies(message, answer_buttons(occurrence))


def attendance_card(network: Network, occurrence: Occurrence) -> Message:
    """The attendance buttons as a card (beside the day-before reminder's quick replies)."""
    when = messages.meeting_when(occurrence.start)
    return compose.card(
        messages.MEETING_CARD_ALT.format(name=_name(network), when=when),
        messages.MEETING_ATTENDANCE_TITLE,
        [messages.MEETING_CARD_ASK],
        answer_buttons(occurrence),
        subtitle=when,
    )


def morning_reminder(
    session: Session, network: Network, schedule: MeetingSchedule, occurrence: Occurrence, now: datetime
) -> Message:
    start = occurrence.start
    return compose.text(
        messages.MEETING_MORNING.format(
            time=f"{start.hour}:{start.minute:02d}",
            name=_name(network),
            place=_place(schedule),
            link=messages.MEETING_LINK_LINE.format(link=schedule.link) if schedule.link else "",
        )
    )


def summary(session: Session, network: Network, occurrence: Occurrence, now: datetime) -> Message:
    """For the organizers: who comes, who does not, who has not answered, and the final agenda."""
    answered = attendance(session, network, occurrence.original)
    organizations = session.scalars(
        select(Organization).where(Organization.network_id == network.id).order_by(Organization.id)
    ).all()
    groups: dict[str, list[str]] = {answer: [] for answer in (*ANSWERS, "none")}
    for organization in organizations:
        groups[answered.get(organization.id, "none")].append(organization.name)
    labels = {**messages.MEETING_ANSWER_LABELS, "none": messages.MEETING_UNANSWERED_LABEL}
    attendance_text = "\n".join(
        messages.MEETING_ATTENDANCE_LINE.format(label=labels[key], orgs="、".join(names) or messages.MEETING_NOBODY)
        for key, names in groups.items()
    )
    agenda = build_agenda(session, network, occurrence, now)
    return compose.text(
        messages.MEETING_SUMMARY.format(
            name=_name(network),
            when=messages.meeting_when(occurrence.start),
            attendance=attendance_text,
            agenda="\n".join(agenda_lines(agenda)),
        )
    )


def holiday_card(network: Network, occurrence: Occurrence, holiday: str, before: date, after: date) -> Message:
    day = messages.meeting_day_label(occurrence.start.date())
    when = messages.meeting_when(occurrence.start)
    buttons = [
        compose.postback(
            messages.MEETING_HOLIDAY_MOVE_BUTTON.format(day=messages.meeting_day_label(target)),
            "meeting.move",
            n=network.id,
            d=occurrence.key,
            to=target.isoformat(),
        )
        for target in (before, after)
    ]
    buttons.append(
        compose.postback(messages.MEETING_HOLIDAY_KEEP_BUTTON, "meeting.keep", n=network.id, d=occurrence.key)
    )
    return compose.card(
        messages.MEETING_HOLIDAY_ALT.format(day=day, holiday=holiday),
        messages.MEETING_HOLIDAY_TITLE,
        [messages.MEETING_HOLIDAY_BODY.format(when=when, name=_name(network), holiday=holiday)],
        buttons,
    )
