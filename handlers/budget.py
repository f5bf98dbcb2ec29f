"""The network's message plan, in the chat: ``プラン 無料|ライト|スタンダード|<number>`` (organizers)."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from handlers import access
from handlers.access import Denials, Who
from models.budget import channel_allowance, channel_spent, parse_plan, set_plan, spent_by
from models.ledger import month_of

describe(*messages.PLAN_HELP, order=90)
PLAN = Denials(not_organizer=messages.PLAN_ORGANIZER_ONLY)


@on_command("プラン")
def plan(ctx: Context, args: str) -> None:
    if not args.strip():
        found = access.guard(ctx)
        if found is None:
            return
        month = month_of(ctx.now)
        ctx.reply(
            compose.text(
                messages.PLAN_SHOW.format(
                    allowance=channel_allowance(ctx.session, ctx.now),
                    spent=channel_spent(ctx.session, ctx.now),
                    mine=spent_by(ctx.session, found.network, month),
                )
            )
        )
        return
    allowed = access.guard(ctx, who=Who.ORGANIZER, denials=PLAN)
    if allowed is None:
        return
    allowance = parse_plan(args)
    if allowance is None:
        ctx.reply(compose.text(messages.PLAN_UNKNOWN.format(text=args.strip()[:20])))
        return
    set_plan(allowed.network, allowance)
    name = messages.PLAN_NAMES.get(allowance, f"{allowance:,} 通")
    ctx.reply(compose.text(messages.PLAN_SET.format(plan=name, allowance=allowance)))
