"""``#12 不足 移動手段``: a resource the network lacked for this thread (足りなかった資源).

From the network's short list (models.connections); the report counts them for 地域づくり."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe
from bot.replies import compose, messages
from handlers import access
from handlers.access import Need
from models.connections import record_missing, resources

describe("#12 不足 移動手段", "12番で足りなかった資源を記録します（地域づくりの話し合いに）", order=55)


def missing(ctx: Context, n: str, resource: str) -> None:
    allowed = access.guard(ctx, number=n, need=Need.MANAGEABLE)
    if allowed is None or allowed.thread is None:
        return
    names = resources(allowed.network)
    resource = resource.strip()
    if not resource:
        ctx.reply(compose.text(messages.MISSING_ASK.format(number=allowed.thread.number, names="、".join(names))))
        return
    if resource not in names:
        ctx.reply(compose.text(messages.MISSING_UNKNOWN.format(resource=resource[:30], names="、".join(names))))
        return
    record_missing(ctx.session, allowed.thread, allowed.member, resource, ctx.now)
    ctx.reply(compose.text(messages.MISSING_RECORDED.format(number=allowed.thread.number, resource=resource)))
