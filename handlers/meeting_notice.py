"""Meetings as cities run them (the organizer):

- ``会議通知 20日前``: how many days before the meeting its card (出欠と議題) goes out. Kumamoto's
  specification asks for notice 20 days ahead; the default stays 7 days. Kept in
  ``settings["meeting"]["card_days_before"]``, which jobs/reminders.py already reads.
- ``臨時会議 1/14 14:00 公民館``: an extra meeting outside the rule (必要に応じて臨時開催), with the
  same card and reminders as the rule's (models.meeting_extra)."""

from __future__ import annotations

import re

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who
from models.meeting_extra import add_extra, parse_extra

describe("会議通知 20日前", "会議のお知らせ（出欠と議題）を何日前に送るか決めます（世話役）", order=72, topic="meeting")
DAYS = re.compile(r"\s*([0-9０-９]{1,2})\s*日?前?\s*")
LONGEST = 60


@on_command("会議通知", "#会議通知")
def notice(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    match = DAYS.fullmatch(args or "")
    days = int(match[1].translate(str.maketrans("０１２３４５６７８９", "0123456789"))) if match else 0
    if not 2 <= days <= LONGEST:  # the day-before reminder comes 1 day ahead: the card before it
        ctx.reply(compose.text(messages.MEETING_NOTICE_USAGE.format(longest=LONGEST)))
        return
    network = allowed.network
    settings = dict(network.settings or {})
    settings["meeting"] = {**settings.get("meeting", {}), "card_days_before": days}
    network.settings = settings
    ctx.reply(compose.text(messages.MEETING_NOTICE_SET.format(days=days)))


describe(
    "臨時会議 1/14 14:00 場所",
    "臨時の会議を加えます。お知らせとリマインドも送ります（世話役）",
    order=73,
    topic="meeting",
)


@on_command("臨時会議", "#臨時会議")
def extra_meeting(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=access.MEETING)
    if allowed is None:
        return
    network = allowed.network
    parsed = parse_extra(args or "", ctx.now, network)
    if parsed is None:
        ctx.reply(compose.text(messages.MEETING_EXTRA_USAGE))
        return
    start, place = parsed
    if not add_extra(ctx.session, network, start, place):
        ctx.reply(compose.text(messages.MEETING_EXTRA_TAKEN.format(when=messages.meeting_when(start))))
        return
    where = place or messages.MEETING_PLACE_UNDECIDED
    ctx.reply(compose.text(messages.MEETING_EXTRA_SET.format(when=messages.meeting_when(start), place=where)))
