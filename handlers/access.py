"""Who may do what, answered in the chat: the network of a group, the registered member, the thread."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.pipeline.context import Context
from bot.replies import compose, messages
from models import Member, Network, Thread
from models.casework import thread_by_number
from models.membership import NETWORK_OF_GROUP, find_member, member_of, network_and_member

# One event asks "which network, which member" from several handlers (a quote-reply passes
# three fallbacks): each answer is kept in the event's ``ctx.memo``, as the same session would
# return the same objects anyway. Only found rows are kept: a network or member created
# later in the event is then found by the next lookup.


def group_network(ctx: Context) -> Network | None:
    """The network of the event's group, without answering (``ctx.network()``, once per event).

    Nearly every handler then asks for the sender too: both come in one query.
    """
    if not ctx.group_id:
        return None
    memo = ctx.memo
    found = memo.get(("network", ctx.group_id))
    if found is not None:
        return found
    if ctx.user_id:
        found, member = network_and_member(ctx.session, ctx.group_id, ctx.user_id)
        if found is not None and member is not None:
            memo["member", found.id, ctx.user_id] = member
    else:
        found = ctx.session.scalar(NETWORK_OF_GROUP, {"group_id": ctx.group_id})
    if found is not None:
        memo["network", ctx.group_id] = found
    return found


def sender(ctx: Context, net: Network | None = None) -> Member | None:
    """The sender as a member of ``net`` (default: the group's), organization loaded; None if unknown."""
    net = net or group_network(ctx)
    if net is None or not ctx.user_id:
        return None
    memo = ctx.memo
    found = memo.get(("member", net.id, ctx.user_id))
    if found is None:
        found = find_member(ctx.session, net.id, ctx.user_id)
        if found is not None:
            memo["member", net.id, ctx.user_id] = found
    return found


def network(ctx: Context) -> Network | None:
    """The network of the group the event came from; tells the sender when there is none."""
    if not ctx.in_group:
        ctx.reply(compose.text(messages.GROUP_ONLY))
        return None
    found = group_network(ctx)
    if found is None:
        ctx.reply(compose.text(messages.NETWORK_UNKNOWN))
    return found


def registered_member(ctx: Context, net: Network) -> Member | None:
    """The sender if their organization is registered; otherwise a hint, given once per person."""
    if not ctx.user_id:
        ctx.reply(compose.text(messages.REGISTER_NO_USER))
        return None
    member = sender(ctx, net)
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
    member = sender(ctx, net)
    if member is None or not member.is_organizer:
        ctx.reply(compose.text(messages.ORGANIZER_ONLY))
        return None
    return member


def timezone(net: Network) -> ZoneInfo:
    return ZoneInfo(net.timezone or "Asia/Tokyo")
