"""Who may do what, answered in the chat: the network of a group, the registered member, the thread."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import compose, messages
from bot.context import Context
from models import Member, Network, Thread
from models.casework import thread_by_number
from models.membership import member_of


def network(ctx: Context) -> Network | None:
    """The network of the group the event came from; tells the sender when there is none."""
    if not ctx.in_group:
        ctx.reply(compose.text(messages.GROUP_ONLY))
        return None
    found = ctx.network()
    if found is None:
        ctx.reply(compose.text(messages.NETWORK_UNKNOWN))
    return found


def registered_member(ctx: Context, net: Network) -> Member | None:
    """The sender if their organization is registered; otherwise a hint, given once per person."""
    if not ctx.user_id:
        ctx.reply(compose.text(messages.REGISTER_NO_USER))
        return None
    member = ctx.member(net)
    if member is not None and member.registered:
        return member
    member = member or member_of(ctx.session, net, ctx.user_id)
    if member.hinted_at is None:
        member.hinted_at = ctx.now
        ctx.reply(compose.mention_text(messages.NEED_REGISTRATION, {"user": ctx.user_id}))
    return None


def thread(ctx: Context, net: Network, number: int | str) -> Thread | None:
    try:
        value = int(number)
    except (TypeError, ValueError):
        value = 0
    # Thread numbers are 32-bit in the database; anything beyond cannot exist.
    found = thread_by_number(ctx.session, net, value) if 0 < value < 2**31 else None
    if found is None:
        ctx.reply(compose.text(messages.THREAD_UNKNOWN.format(number=number)))
    return found


def organizer(ctx: Context, net: Network) -> Member | None:
    member = ctx.member(net)
    if member is None or not member.is_organizer:
        ctx.reply(compose.text(messages.ORGANIZER_ONLY))
        return None
    return member


def timezone(net: Network) -> ZoneInfo:
    return ZoneInfo(net.timezone or "Asia/Tokyo")
