"""``ヘルプ``: lists the commands that exist (each handler module describes its own)."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command, registry
from bot.replies import compose, messages

describe("ヘルプ", "この使い方を表示します", order=99)


@on_command("ヘルプ", "help", "使い方", "#ヘルプ", args=r"(?P<args>)")
def show_help(ctx: Context, args: str = "") -> None:
    entries = [(usage, what) for _, usage, what in registry.help_entries]
    ctx.reply(compose.text(messages.help_text(entries)))
