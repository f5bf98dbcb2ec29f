"""Who may do what, answered in the chat: one guard returns the network, the member and the thread,
or tells the sender why not.

A handler asks once, e.g. ``access.guard(ctx, who=Who.REGISTERED, number=n, need=Need.ANSWERABLE)``;
each refusal is a short reply from the message catalog, and the handler simply returns on None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.pipeline.context import Context
from bot.replies import compose, messages
from models import Member, Network, Outcome, Thread
from models.casework import OUTCOME_LABELS, can_manage, thread_by_number
from models.membership import NETWORK_OF_GROUP, find_member, member_of, network_and_member

# One event asks "which network, which member" from several handlers (a quote-reply passes
# three fallbacks): each answer is kept in the event's ``ctx.memo``, as the same session would
# return the same objects anyway. Only found rows are kept: a network or member created
# later in the event is then found by the next lookup.


HINT_EVERY = timedelta(minutes=messages.HINT_EVERY_MINUTES)


class Who(Enum):
    ANYONE = "anyone"  # anyone in the network's group (the member may be unknown)
    REGISTERED = "registered"  # linked to an organization (else a hint, at most every 10 minutes per person)
    ORGANIZER = "organizer"


class Need(Enum):
    EXISTS = "exists"  # the thread exists in this network
    ANSWERABLE = "answerable"  # open and not retracted
    MANAGEABLE = "manageable"  # the sender may record its outcome


@dataclass(frozen=True)
class Denials:
    """What the sender is told when the network or the role is missing (meetings word it their way)."""

    no_network: str | None = None  # None: GROUP_ONLY outside a group, NETWORK_UNKNOWN in an unknown one
    not_organizer: str = messages.ORGANIZER_ONLY
    not_manager: str = messages.NOT_ALLOWED  # Need.MANAGEABLE refused (mentions the sender, the number)


MEETING = Denials(no_network=messages.MEETING_GROUP_ONLY, not_organizer=messages.MEETING_ORGANIZER_ONLY)


@dataclass(frozen=True)
class Allowed:
    network: Network
    member: Member | None
    thread: Thread | None = None


def guard(
    ctx: Context,
    *,
    who: Who = Who.ANYONE,
    number: int | str | None = None,
    need: Need = Need.EXISTS,
    denials: Denials = Denials(),
) -> Allowed | None:
    """The network of the event's group, the sender as its member and thread ``number`` (when
    given), each checked in that order; None after telling the sender what was missing."""
    net = _network(ctx, denials)
    if net is None:
        return None
    if who is Who.REGISTERED:
        member = registered_member(ctx, net)
        if member is None:
            return None
    else:
        member = sender(ctx, net)
        if who is Who.ORGANIZER and (member is None or not member.is_organizer):
            ctx.reply(compose.text(denials.not_organizer))
            return None
    if number is None:
        return Allowed(net, member)
    found = thread(ctx, net, number)
    if found is None or not _meets(ctx, net, found, need, denials):
        return None
    return Allowed(net, member, found)


def _network(ctx: Context, denials: Denials) -> Network | None:
    if denials.no_network is None:
        return network(ctx)
    found = group_network(ctx)
    if found is None:
        ctx.reply(compose.text(denials.no_network))
    return found


def _meets(ctx: Context, net: Network, found: Thread, need: Need, denials: Denials) -> bool:
    if need is Need.ANSWERABLE:
        return answerable(ctx, found)
    if need is Need.MANAGEABLE and not can_manage(sender(ctx, net), found):
        ctx.reply(compose.mention_text(denials.not_manager, {"user": ctx.user_id or ""}, number=str(found.number)))
        return False
    return True


def answerable(ctx: Context, found: Thread) -> bool:
    """Open and not retracted; otherwise the sender is told why not."""
    if found.retracted:
        ctx.reply(compose.text(messages.THREAD_RETRACTED.format(number=found.number)))
        return False
    if not found.is_open:
        label = OUTCOME_LABELS[Outcome(found.outcome)] if found.outcome else ""
        ctx.reply(compose.text(messages.THREAD_CLOSED.format(number=found.number, outcome=label)))
        return False
    return True


# --- the parts of the guard ------------------------------------------------------------------
ONE_TO_ONE = "one-to-one network"


def about_network(ctx: Context, network_id: str) -> None:
    """A 1:1 event about a network the sender is a member of (a button on a card sent 1:1)."""
    if ctx.in_group or not network_id.isdigit() or not ctx.user_id:
        return
    found = ctx.session.get(Network, int(network_id))
    if found is not None and find_member(ctx.session, found.id, ctx.user_id) is not None:
        ctx.memo[ONE_TO_ONE] = found


def group_network(ctx: Context) -> Network | None:
    """The network of the event's group, without answering (once per event).

    Nearly every handler then asks for the sender too: both come in one query.
    """
    if not ctx.group_id:
        return ctx.memo.get(ONE_TO_ONE)
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
        ctx.about(network_id=found.id)
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
    """The network of the group the event came from; tells the sender when there is none.

    In a 1:1 chat, the network a card sent there named (``about_network``), if any.
    """
    if not ctx.in_group and ctx.memo.get(ONE_TO_ONE) is not None:
        return ctx.memo[ONE_TO_ONE]
    if not ctx.in_group:
        ctx.reply(compose.text(messages.GROUP_ONLY))
        return None
    found = group_network(ctx)
    if found is None:
        ctx.reply(compose.text(messages.NETWORK_UNKNOWN))
    return found


def registered_member(ctx: Context, net: Network) -> Member | None:
    """The sender if their organization is registered; otherwise a hint.

    Every command and button press of an unregistered member gets the hint (replies are free,
    and silence makes people believe their trouble was posted), but at most once in
    ``HINT_EVERY`` per person, so a chatty newcomer is not nagged.
    """
    if not ctx.user_id:
        ctx.reply(compose.text(messages.REGISTER_NO_USER))
        return None
    member = sender(ctx, net)
    if member is not None and member.registered:
        return member
    member = member or member_of(ctx.session, net, ctx.user_id)
    if member.hinted_at is None or ctx.now - member.hinted_at >= HINT_EVERY:
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
    else:
        ctx.about(thread=found.number)
    return found


def timezone(net: Network) -> ZoneInfo:
    return ZoneInfo(net.timezone or "Asia/Tokyo")
