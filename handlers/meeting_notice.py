"""``会議通知 20日前`` (the organizer): how many days before the meeting its card (出欠と議題) goes
out. Kumamoto's specification asks for notice 20 days ahead; the default stays 7 days.

Kept in ``settings["meeting"]["card_days_before"]``, which jobs/reminders.py already reads."""

from __future__ import annotations

import re

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who

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
