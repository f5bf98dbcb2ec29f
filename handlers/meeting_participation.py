"""Around the meeting: attendance answers, agenda changes, records of what was discussed, the calendar URL."""

from __future__ import annotations

import re
from datetime import date

from bot.pipeline.context import Context
from bot.pipeline.registry import on_command, on_postback
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who
from handlers.meetings import today
from models import Network, Thread
from models.casework import thread_by_number
from models.meeting import ANSWERS, answer, find_occurrence, issue_feed, previous_meeting, schedule_of
from models.meeting_agenda import change_agenda, record_discussed
from models.meeting_extra import extras, next_of_all
from models.meeting_rule import RuleError, iso_date, parse_past_date
from models.membership import member_networks, organized_networks
from models.outbox import BEARER_TOPIC

NUMBERS = re.compile(r"#?(\d{1,7})")


# --- agenda and records -----------------------------------------------------------------------------
def _threads(ctx: Context, network: Network, text: str) -> list[Thread] | None:
    numbers = [int(n) for n in NUMBERS.findall(text)]
    if not numbers or NUMBERS.sub("", text).strip(" ,、"):
        return None
    found = {n: thread_by_number(ctx.session, network, n) for n in dict.fromkeys(numbers)}
    missing = [f"#{n}" for n, thread in found.items() if thread is None]
    if missing:
        ctx.reply(compose.text(messages.MEETING_THREADS_NOT_FOUND.format(numbers="、".join(missing))))
        return []
    return [thread for thread in found.values() if thread is not None]


def _numbers(threads: list[Thread]) -> str:
    return "、".join(f"#{t.number}" for t in threads)


@on_command("議題追加")
def add_items(ctx: Context, args: str) -> None:
    change_items(ctx, args, "add")


@on_command("議題削除")
def drop_items(ctx: Context, args: str) -> None:
    change_items(ctx, args, "drop")


def change_items(ctx: Context, args: str, action: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network, member = allowed.network, allowed.member
    threads = _threads(ctx, network, args)
    if threads is None:
        ctx.reply(compose.text(messages.MEETING_AGENDA_FORMS))
        return
    if not threads:
        return
    upcoming, _ = next_of_all(ctx.session, network, ctx.now)  # a 臨時会議 when it comes first
    if upcoming is None:
        ctx.reply(compose.text(messages.MEETING_NOT_SET))
        return
    for thread in threads:
        change_agenda(ctx.session, network, upcoming.original, thread, action, member, ctx.now)
    template = messages.MEETING_AGENDA_ADDED if action == "add" else messages.MEETING_AGENDA_DROPPED
    label = messages.meeting_day_label(upcoming.start.date())
    ctx.reply(compose.text(template.format(day=label, numbers=_numbers(threads))))


@on_command("会議記録")
def record_meeting(ctx: Context, args: str) -> None:
    found = access.guard(ctx, denials=access.MEETING)
    if found is None:
        return
    network, member = found.network, found.member
    if member is None or not member.can_coordinate:
        ctx.reply(compose.text(messages.MEETING_RECORD_NOT_ALLOWED))
        return
    head, _, tail = args.partition(" ")
    meeting = parse_past_date(head, today(ctx, network)) if head and not head.startswith("#") else None
    if isinstance(meeting, RuleError):
        ctx.reply(compose.text(messages.MEETING_RECORD_FORMS))
        return
    threads = _threads(ctx, network, tail if meeting else args)
    if threads is None:
        ctx.reply(compose.text(messages.MEETING_RECORD_FORMS))
        return
    if not threads:
        return
    meeting = meeting or _last_meeting_day(ctx, network)
    recorded = record_discussed(ctx.session, network, meeting, threads, member, ctx.now)
    label = messages.meeting_day_label(meeting)
    if recorded:
        ctx.acknowledge(compose.text(messages.MEETING_RECORDED.format(day=label, numbers=_numbers(recorded))))
    already = [t for t in threads if t not in recorded]
    if already:
        ctx.acknowledge(compose.text(messages.MEETING_RECORDED_ALREADY.format(day=label, numbers=_numbers(already))))


def _last_meeting_day(ctx: Context, network: Network) -> date:
    """The meeting that started last (a meeting held without a schedule is recorded on today)."""
    last = previous_meeting(ctx.session, network, ctx.now)
    return last.original if last else today(ctx, network)


# --- attendance ------------------------------------------------------------------------------------
@on_postback("meeting.rsvp")
def rsvp(ctx: Context, d: str = "", r: str = "") -> None:
    network = access.group_network(ctx)
    member = access.sender(ctx, network) if network else None
    if network is None or r not in ANSWERS:
        return
    if member is None or member.organization is None:
        ctx.reply(compose.text(messages.MEETING_ANSWER_NEEDS_ORG))
        return
    day = iso_date(d)
    found = find_occurrence(ctx.session, network, day) if day else None
    extra = next((e.occurrence for e in extras(network) if e.occurrence.original == day), None)
    if extra is not None and (found is None or found[0] != day):
        found = (extra.original, extra)  # 臨時会議 (models.meeting_extra)
    if found is None or found[0] != day:
        ctx.reply(compose.text(messages.MEETING_ANSWER_NOT_FOUND))
        return
    original, current = found
    label = messages.meeting_day_label(current.start.date() if current else original)
    if current is None:
        ctx.reply(compose.text(messages.MEETING_ANSWER_CANCELLED.format(day=label)))
    elif current.start <= ctx.now:
        ctx.reply(compose.text(messages.MEETING_ALREADY_STARTED.format(day=label)))
    else:
        answer(ctx.session, network, original, member, r, ctx.now)
        ctx.acknowledge(
            compose.text(
                messages.MEETING_ANSWERED.format(
                    org=member.organization.name, day=label, answer=messages.MEETING_ANSWER_LABELS[r]
                )
            )
        )


# --- the calendar URL ---------------------------------------------------------------------------------
@on_command("カレンダー", "calendar", args=r"(?P<args>)")
def calendar(ctx: Context, args: str = "") -> None:
    if ctx.in_group or not ctx.user_id:
        # The URL is the only key to the feed: never show it where the whole group reads.
        ctx.reply(compose.text(messages.MEETING_CALENDAR_IN_PRIVATE))
        return
    networks = organized_networks(ctx.session, ctx.user_id)
    if not networks:
        ctx.reply(compose.text(messages.MEETING_CALENDAR_NOT_ORGANIZER))
        return
    body = messages.MEETING_CALENDAR_INTRO
    ctx.reply_topic = BEARER_TOPIC  # the outbox keeps a placeholder, not the URLs, once sent
    for network in networks:
        # A new URL at every ask (only its hash is kept): the one given before stops working.
        url = ctx.links.calendar(issue_feed(ctx.session, network, ctx.user_id, ctx.now))
        name = network.name or messages.MEETING_UNNAMED_NETWORK
        if schedule_of(ctx.session, network) is None and not extras(network):
            name += messages.MEETING_CALENDAR_NO_SCHEDULE
        body += messages.MEETING_CALENDAR_ENTRY.format(network=name, url=url)
    ctx.reply(compose.text(body))


# --- 「会議」 in the 1:1 chat (the rich menu's button): the next meeting of each network ----------------
@on_command("会議", "次の会議", "次回の会議", args=r"(?P<args>)", where="user", priority=45)
def next_meetings_in_private(ctx: Context, args: str = "") -> None:
    networks = member_networks(ctx.session, ctx.user_id) if ctx.user_id else []
    if not networks:
        ctx.reply(compose.text(messages.MEETING_PRIVATE_NONE))
        return
    body = messages.MEETING_PRIVATE_INTRO
    for network in networks:
        upcoming, extra = next_of_all(ctx.session, network, ctx.now)  # a 臨時会議 when it comes first
        schedule = schedule_of(ctx.session, network)
        when = messages.meeting_when(upcoming.start) if upcoming else messages.MEETING_NO_NEXT
        place = extra.place if extra is not None else (schedule.place if schedule else "")
        place = place or messages.MEETING_PLACE_UNDECIDED
        name = network.name or messages.MEETING_UNNAMED_NETWORK
        body += messages.MEETING_PRIVATE_ENTRY.format(network=name, when=when, place=place)
    ctx.reply(compose.text(body))
