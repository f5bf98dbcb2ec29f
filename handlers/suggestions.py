"""「もしかして…？」: a message no command matched, but a slip of one, gets the corrected command
on a button. Ordinary chat (no near-miss) stays unanswered; nothing is done on a guess."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import on_any_text, registry
from bot.pipeline.suggest import suggest
from bot.replies import guide_cards


@on_any_text(priority=95)
def suggest_command(ctx: Context, text: str) -> bool:
    found = suggest(registry, text, in_group=ctx.in_group)
    if found is None:
        return False
    ctx.reply(guide_cards.suggestion(found.text, found.word))
    return True
