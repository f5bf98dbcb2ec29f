"""``ヘルプ``: a card with five topics; each button shows that topic's commands (each handler
module describes its own, so only commands that exist are listed)."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command, on_postback, registry
from bot.replies import guide_cards, messages

describe("ヘルプ", "この使い方を表示します", order=99)


@on_command("ヘルプ", "help", "使い方", "#ヘルプ", args=r"(?P<args>)")
def show_help(ctx: Context, args: str = "") -> None:
    ctx.reply(guide_cards.help_card())


@on_postback("help")
def show_topic(ctx: Context, t: str = "") -> None:
    if t not in messages.HELP_TOPICS:
        ctx.reply(guide_cards.help_card())
        return
    entries = [
        (usage, what)
        for order, usage, what in registry.help_entries
        if usage != "ヘルプ" and guide_cards.topic_of(order, registry.help_topics.get(usage)) == t
    ]
    ctx.reply(guide_cards.help_topic(t, entries))
