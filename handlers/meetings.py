"""The network's meeting, as a chat: set the rule, move or cancel one, the agenda, records, attendance.

Reminders are sent by ``jobs/reminders.py``; the calendar feed is served by ``bot/web/calendar.py``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.pipeline.context import Context
from bot.pipeline.registry import command_words, describe, on_command, on_postback
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who
from models import Member, Network
from models.meeting import (
    Occurrence,
    attendance,
    change_occurrence,
    find_occurrence,
    rule_of,
    rule_start_on,
    schedule_of,
    set_schedule,
    zone,
)
from models.meeting_extra import next_of_all
from models.meeting_rule import (
    RuleError,
    iso_date,
    parse_date,
    parse_date_time,
    parse_rule_prefix,
    split_link,
    valid_link,
)

ARROW = re.compile(r"\s*(?:→|⇒|->|=>|>)\s*")
PLACE_LIMIT = 200
MOVE_LIMIT = timedelta(days=60)  # one meeting moved; further is a new rule or a typo

# After the thread commands in ヘルプ, in the order an organizer meets them.
for order, (usage, what) in enumerate(
    (
        messages.MEETING_HELP_SHOW,
        messages.MEETING_HELP_SET,
        messages.MEETING_HELP_MOVE,
        messages.MEETING_HELP_CANCEL,
        messages.MEETING_HELP_AGENDA,
        messages.MEETING_HELP_RECORD,
        messages.MEETING_HELP_CALENDAR,
    ),
    start=60,
):
    describe(usage, what, order=order)
# The commands' readings, typed in kana: for 「もしかして…？」 (see handlers/threads.py).
command_words("会議", "かいぎ", takes_args=False, reading=True)
for word, kana in (
    ("会議設定", "かいぎせってい"),
    ("会議変更", "かいぎへんこう"),
    ("会議中止", "かいぎちゅうし"),
    ("会議リンク", "かいぎりんく"),
    ("議題追加", "ぎだいついか"),
    ("議題削除", "ぎだいさくじょ"),
    ("会議記録", "かいぎきろく"),
):
    command_words(word, kana, takes_args=True, reading=True)


def today(ctx: Context, network: Network) -> date:
    return ctx.now.astimezone(zone(network)).date()


def next_label(ctx: Context, network: Network) -> str:
    upcoming, _ = next_of_all(ctx.session, network, ctx.now)
    return messages.meeting_when(upcoming.start) if upcoming else messages.MEETING_NO_NEXT


def _error(ctx: Context, error: RuleError, forms: str) -> None:
    ctx.reply(compose.text(messages.MEETING_RULE_ERRORS[error] + "\n" + forms))


# --- the rule ----------------------------------------------------------------------------------
@on_command("会議設定")
def set_meeting(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network, member = allowed.network, allowed.member
    rule, rest = parse_rule_prefix(args)
    if isinstance(rule, RuleError):
        _error(ctx, rule, messages.MEETING_RULE_FORMS)
        return
    place, link = split_link(rest)
    if link is not None and not valid_link(link):
        ctx.reply(compose.text(messages.MEETING_LINK_TOO_LONG))
        return
    if len(place) > PLACE_LIMIT:
        ctx.reply(compose.text(messages.MEETING_PLACE_TOO_LONG))
        return
    # Changing only the day or time keeps the place and link already set.
    current = schedule_of(ctx.session, network)
    place = place or (current.place if current else "")
    link = link or (current.link if current else None)
    schedule = set_schedule(ctx.session, network, rule, place, link, member, ctx.now)
    ctx.reply(
        compose.text(
            messages.MEETING_SET.format(
                rule=schedule.rule,
                place=schedule.place or messages.MEETING_PLACE_UNDECIDED,
                link=messages.MEETING_LINK_LINE.format(link=link) if link else "",
                next=next_label(ctx, network),
            )
        )
    )


@on_command("会議リンク")
def set_link(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network = allowed.network
    schedule = schedule_of(ctx.session, network)
    if schedule is None:
        ctx.reply(compose.text(messages.MEETING_NOT_SET))
    elif args in ("なし", "削除", "消す"):
        schedule.link = None
        ctx.reply(compose.text(messages.MEETING_LINK_CLEARED))
    elif valid_link(args):
        schedule.link = args
        ctx.reply(compose.text(messages.MEETING_LINK_SET.format(link=args)))
    else:
        ctx.reply(compose.text(messages.MEETING_LINK_FORMS))


@on_command("会議", "次の会議", "次回の会議", args=r"(?P<args>)")
def show_next(ctx: Context, args: str = "") -> None:
    found = access.guard(ctx, denials=access.MEETING)
    if found is None:
        return
    network = found.network
    upcoming, extra = next_of_all(ctx.session, network, ctx.now)  # a 臨時会議 when it comes first
    schedule = schedule_of(ctx.session, network)
    if upcoming is None:
        ctx.reply(compose.text(messages.MEETING_NOT_SET))
        return
    place = extra.place if extra is not None else (schedule.place if schedule else "")
    link = schedule.link if schedule is not None and extra is None else None
    answers = list(attendance(ctx.session, network, upcoming.original).values())
    org_count = len(network.organizations)
    ctx.reply(
        compose.text(
            messages.MEETING_NEXT.format(
                name=messages.meeting_name(network.settings),
                when=messages.meeting_when(upcoming.start),
                place=place or messages.MEETING_PLACE_UNDECIDED,
                link=messages.MEETING_LINK_LINE.format(link=link) if link else "",
                yes=answers.count("yes"),
                no=answers.count("no"),
                maybe=answers.count("maybe"),
                none=max(org_count - len(answers), 0),
            )
        )
    )


# --- one occurrence ---------------------------------------------------------------------------
def _occurrence(ctx: Context, network: Network, text: str) -> tuple[date, Occurrence | None] | None:
    """The occurrence a typed date means, answering the sender when there is none."""
    day = parse_date(text, today(ctx, network))
    if isinstance(day, RuleError):
        _error(ctx, day, messages.MEETING_CHANGE_FORMS)
        return None
    found = find_occurrence(ctx.session, network, day)
    if found is None:
        label = messages.meeting_day_label(day)
        ctx.reply(compose.text(messages.MEETING_NOT_AN_OCCURRENCE.format(day=label, next=next_label(ctx, network))))
        return None
    return found


def _rule_start(ctx: Context, network: Network, original: date) -> datetime:
    schedule = schedule_of(ctx.session, network)
    assert schedule is not None
    start = rule_start_on(rule_of(schedule), zone(network), original)
    assert start is not None
    return start


@on_command("会議変更")
def move_meeting(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network, member = allowed.network, allowed.member
    parts = ARROW.split(args, maxsplit=1)
    if len(parts) != 2:
        ctx.reply(compose.text(messages.MEETING_CHANGE_FORMS))
        return
    target = parse_date_time(parts[1], today(ctx, network))
    if isinstance(target, RuleError):
        _error(ctx, target, messages.MEETING_CHANGE_FORMS)
        return
    found = _occurrence(ctx, network, parts[0])
    if found is None:
        return
    original, current = found
    start = current.start if current else _rule_start(ctx, network, original)
    new_day, new_time = target
    new_start = datetime.combine(new_day or start.date(), new_time or start.time(), zone(network))
    move_to(ctx, network, member, original, start, new_start)


def move_to(ctx: Context, network: Network, member: Member, original: date, start: datetime, new: datetime) -> None:
    """Move one occurrence (also a cancelled one, which brings it back) and tell the group."""
    if start <= ctx.now:
        ctx.reply(compose.text(messages.MEETING_ALREADY_STARTED.format(day=messages.meeting_day_label(start.date()))))
        return
    if new <= ctx.now:
        ctx.reply(compose.text(messages.MEETING_NEW_TIME_PASSED))
        return
    if abs(new - start) > MOVE_LIMIT:  # "12/23 → 11/20" read as next year's 11/20 is surely a slip
        ctx.reply(compose.text(messages.MEETING_MOVE_TOO_FAR.format(days=MOVE_LIMIT.days)))
        return
    as_the_rule = new == _rule_start(ctx, network, original)
    change_occurrence(ctx.session, network, original, member, ctx.now, moved_to=None if as_the_rule else new)
    notice = compose.text(
        messages.MEETING_MOVED.format(old=messages.meeting_when(start), new=messages.meeting_when(new))
    )
    ctx.reply(notice)
    if ctx.group_id != network.group_id:  # pressed in a 1:1 chat: the group must hear of it too
        ctx.push(network.group_id, notice)


@on_command("会議中止")
def cancel_meeting(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network, member = allowed.network, allowed.member
    found = _occurrence(ctx, network, args)
    if found is None:
        return
    original, current = found
    label = messages.meeting_day_label(current.start.date() if current else original)
    if current is None:
        ctx.reply(compose.text(messages.MEETING_ALREADY_CANCELLED.format(day=label)))
    elif current.start <= ctx.now:
        ctx.reply(compose.text(messages.MEETING_ALREADY_STARTED.format(day=label)))
    else:
        change_occurrence(ctx.session, network, original, member, ctx.now, cancelled=True)
        ctx.reply(compose.text(messages.MEETING_CANCELLED.format(day=label, next=next_label(ctx, network))))


# --- the holiday card's buttons ----------------------------------------------------------------------
def _organizer_of(ctx: Context, network_id: str) -> tuple[Network, Member] | None:
    # Postback data comes back from the client: a huge number would overflow PostgreSQL's integer.
    valid = network_id.isascii() and network_id.isdigit() and len(network_id) <= 9
    network = ctx.session.get(Network, int(network_id)) if valid else None
    member = access.sender(ctx, network) if network is not None else None
    if network is None or member is None or not member.is_organizer:
        ctx.reply(compose.text(messages.MEETING_ORGANIZER_ONLY))
        return None
    return network, member


@on_postback("meeting.move")
def move_pressed(ctx: Context, n: str = "", d: str = "", to: str = "") -> None:
    allowed = _organizer_of(ctx, n)
    original, new_day = iso_date(d), iso_date(to)
    if allowed is None or original is None or new_day is None:
        return
    network, member = allowed
    found = find_occurrence(ctx.session, network, original)
    if found is None or found[1] is None:
        ctx.reply(compose.text(messages.MEETING_ANSWER_NOT_FOUND))
        return
    original, current = found
    new = datetime.combine(new_day, current.start.time(), zone(network))
    move_to(ctx, network, member, original, current.start, new)


@on_postback("meeting.keep")
def keep_pressed(ctx: Context, n: str = "", d: str = "") -> None:
    day = iso_date(d)
    if _organizer_of(ctx, n) is not None and day is not None:
        ctx.reply(compose.text(messages.MEETING_HOLIDAY_KEPT.format(day=messages.meeting_day_label(day))))
