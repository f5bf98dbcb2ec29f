"""The network's membership: the bot joining a group, members arriving, organizations registering."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.outbox import enqueue_lookup
from bot.pipeline.registry import command_words, describe, gate, on_command, on_event
from bot.replies import compose, messages
from handlers import access
from models import Network, OrgKind
from models.approval import AUTOMATIC, approve
from models.membership import (
    ORG_NAME_LIMIT,
    change_kind,
    deactivate_network,
    find_member,
    is_friend,
    network_for_group,
    register_member,
    set_friend,
)

KIND_WORDS = {
    "フォーマル": OrgKind.FORMAL,
    "formal": OrgKind.FORMAL,
    "インフォーマル": OrgKind.INFORMAL,
    "informal": OrgKind.INFORMAL,
}

describe("団体登録 団体名 フォーマル／インフォーマル", "あなたの団体を登録します（グループで）", order=10)
command_words("団体登録", "だんたいとうろく", takes_args=True, reading=True)  # its reading: for 「もしかして…？」


@gate
def approved_groups_only(ctx: Context) -> bool:
    """In a group, only an approved network's events reach the handlers: a group nobody approved
    gets the join answer and nothing else (issue 18, finding 8). 1:1 chats pass."""
    if not ctx.group_id or ctx.event_type in ("join", "leave"):
        return True
    network = access.group_network(ctx)
    if network is not None:
        return network.approved
    if _approves_at_once(ctx):
        return True  # as before approvals: the handlers say the group is not a network yet
    # Its join was never seen: it waits like any other, told so once.
    bot_joined(ctx)
    return False


def _approves_at_once(ctx: Context) -> bool:
    return ctx.settings is not None and ctx.settings.approves_at_once


def _group_network(ctx: Context, group_id: str) -> Network:
    """The group's network, created on first sight; approved at once where groups are (simulator)."""
    network, _ = network_for_group(ctx.session, group_id, ctx.now)
    if _approves_at_once(ctx) and not network.approved:
        approve(ctx.session, network, ctx.now, by=AUTOMATIC)
    return network


@on_event("join")
def bot_joined(ctx: Context) -> None:
    if not ctx.group_id:
        return
    network = _group_network(ctx, ctx.group_id)
    enqueue_lookup(ctx.session, "group_summary", now=ctx.now, group_id=ctx.group_id)
    if network.approved:
        ctx.reply(compose.text(messages.JOIN_GREETING))
    else:  # answered once, with what the operator needs to approve it
        ctx.reply(compose.text(messages.JOIN_WAITING.format(group_id=ctx.group_id)))


@on_event("leave")
def bot_left(ctx: Context) -> None:
    if ctx.group_id:
        # The network's data stays: coordinators still need its case log.
        deactivate_network(ctx.session, ctx.group_id, ctx.now)


@on_event("memberJoined")
def members_joined(ctx: Context) -> None:
    if not ctx.group_id:
        return
    net = _group_network(ctx, ctx.group_id)
    joined = (ctx.raw.get("joined") or {}).get("members") or []
    for person in joined[:5]:
        user_id = person.get("userId") if isinstance(person, dict) else None
        if not user_id:
            continue
        returning = find_member(ctx.session, net.id, user_id)
        if returning is not None:
            returning.left_at = None
        ctx.reply(compose.mention_text(messages.MEMBER_WELCOME, {"user": user_id}))


@on_event("memberLeft")
def members_left(ctx: Context) -> None:
    net = ctx.network()
    left = (ctx.raw.get("left") or {}).get("members") or []
    for person in left if net else []:
        user_id = person.get("userId") if isinstance(person, dict) else None
        member = find_member(ctx.session, net.id, user_id) if user_id else None
        if member is not None:
            member.left_at = ctx.now


@on_event("follow")
def followed(ctx: Context) -> None:
    if ctx.user_id and not ctx.in_group:
        set_friend(ctx.session, ctx.user_id, True, ctx.now)
        ctx.reply(compose.text(messages.FOLLOW_GREETING))


@on_event("unfollow")
def unfollowed(ctx: Context) -> None:
    if ctx.user_id and not ctx.in_group:
        set_friend(ctx.session, ctx.user_id, False, ctx.now)


def parse_registration(args: str) -> tuple[str, OrgKind | None] | None:
    """``団体名 [フォーマル|インフォーマル]``; no kind keeps an existing organization's kind."""
    words = args.split()
    if not words:
        return None
    kind: OrgKind | None = None
    if len(words) > 1 and words[-1].lower() in KIND_WORDS:
        kind = KIND_WORDS[words.pop().lower()]
    elif words[-1].lower() in KIND_WORDS:
        return None  # only a kind, no name
    return " ".join(words), kind


@on_command("団体登録", "#団体登録")
def register(ctx: Context, args: str) -> None:
    if not ctx.in_group or not ctx.group_id:
        ctx.reply(compose.text(messages.REGISTER_GROUP_ONLY))
        return
    if not ctx.user_id:
        ctx.reply(compose.text(messages.REGISTER_NO_USER))
        return
    parsed = parse_registration(args)
    if parsed is None:
        ctx.reply(compose.text(messages.REGISTER_USAGE))
        return
    name, kind = parsed
    if len(name) > ORG_NAME_LIMIT:
        ctx.reply(compose.text(messages.REGISTER_NAME_TOO_LONG.format(limit=ORG_NAME_LIMIT)))
        return
    network = _group_network(ctx, ctx.group_id)
    before = access.sender(ctx, network)
    member, organization, first = register_member(ctx.session, network, ctx.user_id, name, kind, ctx.now)
    if kind is not None and kind != organization.kind:
        # An organization's kind changes the overlap figures: organizers only, and recorded.
        if before is not None and before.is_organizer:
            change_kind(ctx.session, organization, kind, member, ctx.now)
        else:
            ctx.reply(compose.text(messages.KIND_ORGANIZER_ONLY))
    enqueue_lookup(ctx.session, "member_profile", now=ctx.now, group_id=ctx.group_id, user_id=ctx.user_id)
    if not is_friend(ctx.session, ctx.user_id):  # added the bot before the webhook was on? LINE knows
        enqueue_lookup(ctx.session, "profile", now=ctx.now, user_id=ctx.user_id)
    template = messages.REGISTERED_FIRST if first else messages.REGISTERED
    ctx.reply(
        compose.mention_text(
            template, {"user": ctx.user_id}, org=organization.name, kind=messages.ORG_KIND_LABELS[organization.kind]
        )
    )
