"""Answering a thread: 伝手 and offers (by button then one line, or typed), watching, quote-reply comments."""

from __future__ import annotations

from datetime import timedelta

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_any_text, on_postback
from bot.replies import cards, compose, messages
from handlers import access
from handlers.access import Need, Who
from models import Member, Network, ResponseKind, Thread
from models.answers import await_answer, quoted_thread, take_pending_answer
from models.casework import RESPONSE_LIMIT, add_response, own_thread, request_meeting, same_response_recently, watching
from models.ledger import Kind
from models.membership import contact
from models.settings import network_settings

describe("#12 伝手 内容", "12番に伝手（つなげそうな人・団体）を返信します", order=40)
describe("#12 手伝えます 内容", "12番にお手伝いを申し出ます", order=41)

ASK = {ResponseKind.CONNECTION: messages.ASK_CONNECTION, ResponseKind.OFFER: messages.ASK_OFFER}


def _open_thread(ctx: Context, n: str) -> access.Allowed | None:
    """A registered sender and an open thread ``n`` of the group's network."""
    return access.guard(ctx, who=Who.REGISTERED, number=n, need=Need.ANSWERABLE)


def respond(ctx: Context, net: Network, member: Member, thread: Thread, kind: ResponseKind, text: str) -> None:
    """Record a response and tell the poster (in the group, and 1:1 when they follow the bot).

    Only what means something counts: the poster's own organization cannot answer its own
    thread (its 伝手 would set 初回反応 and start the follow-ups; its text is kept as a comment),
    and the same organization giving the same text twice within a day is one response.
    """
    if len(text) > RESPONSE_LIMIT:
        ctx.reply(compose.text(messages.TEXT_TOO_LONG.format(limit=RESPONSE_LIMIT)))
        return
    asked = kind
    if kind in (ResponseKind.CONNECTION, ResponseKind.OFFER) and own_thread(thread, member):
        kind = ResponseKind.COMMENT
    if same_response_recently(ctx.session, thread, member, kind, text, ctx.now):
        label = messages.RESPONSE_LABELS[kind]
        ctx.acknowledge(compose.text(messages.SAME_RESPONSE_ALREADY.format(number=thread.number, label=label)))
        return
    if kind != asked:
        _record_own(ctx, member, thread, asked, text)
        return
    message_id = (ctx.raw.get("message") or {}).get("id")
    _, masked = add_response(ctx.session, thread, member, kind, text, ctx.now, message_id=message_id)
    stored = masked.text if masked else ""
    label = messages.RESPONSE_LABELS[kind]
    org = member.organization.name if member.organization else ""
    # Members are per network, so another member is another person.
    poster = contact(ctx.session, thread.poster_id) if thread.poster_id not in (None, member.id) else None
    ctx.reply_topic = f"thread:{thread.id}"
    if poster is not None:
        poster_id, follows, left, name = poster
        # A member who left the group is named, not mentioned: LINE refuses a whole message that
        # mentions someone outside the chat.
        mention, named = ({}, {"poster": name or messages.MENTION_LEFT_NAME}) if left else ({"poster": poster_id}, {})
        ctx.reply(  # the poster must learn of it: pushed even when its reply token has expired
            compose.mention_text(
                messages.RESPONSE_NOTIFY,
                mention,
                number=str(thread.number),
                org=org,
                label=label,
                text=stored,
                **named,
            ),
            kind=Kind.NOTICE,
        )
        if follows:
            ctx.push(
                poster_id,
                compose.text(
                    messages.RESPONSE_NOTIFY_PUSH.format(number=thread.number, org=org, label=label, text=stored)
                ),
            )
    else:
        ctx.acknowledge(compose.text(messages.RESPONSE_RECORDED.format(number=thread.number, label=label, text=stored)))
    if masked and masked.changed:
        ctx.reply(cards.privacy_notice(member.line_user_id, masked))


def _record_own(ctx: Context, member: Member, thread: Thread, asked: ResponseKind, text: str) -> None:
    """The poster's organization answered its own thread: a comment, and a polite note why."""
    message_id = (ctx.raw.get("message") or {}).get("id")
    _, masked = add_response(ctx.session, thread, member, ResponseKind.COMMENT, text, ctx.now, message_id=message_id)
    stored = masked.text if masked else ""
    ctx.reply_topic = f"thread:{thread.id}"
    label = messages.RESPONSE_LABELS[asked]
    ctx.acknowledge(compose.text(messages.OWN_THREAD_NOTE.format(number=thread.number, label=label, text=stored)))
    if masked and masked.changed:
        ctx.reply(cards.privacy_notice(member.line_user_id, masked))


def _start(ctx: Context, n: str, kind: ResponseKind) -> None:
    allowed = _open_thread(ctx, n)
    if allowed is None:
        return
    net, member, thread = allowed.network, allowed.member, allowed.thread
    minutes = network_settings(net).answer_minutes
    await_answer(ctx.session, net.id, member.line_user_id, thread, kind, ctx.now + timedelta(minutes=minutes))
    ctx.reply(compose.mention_text(ASK[kind], {"user": member.line_user_id}, number=str(thread.number)))


@on_postback("t.connect")
def press_connect(ctx: Context, n: str = "") -> None:
    _start(ctx, n, ResponseKind.CONNECTION)


@on_postback("t.offer")
def press_offer(ctx: Context, n: str = "") -> None:
    _start(ctx, n, ResponseKind.OFFER)


@on_postback("t.watch")
def press_watch(ctx: Context, n: str = "") -> None:
    allowed = _open_thread(ctx, n)
    if allowed is None:
        return
    member, thread = allowed.member, allowed.thread
    if watching(ctx.session, thread, member):
        ctx.acknowledge(
            compose.mention_text(messages.WATCH_ALREADY, {"user": member.line_user_id}, number=str(thread.number))
        )
        return
    add_response(ctx.session, thread, member, ResponseKind.WATCH, None, ctx.now)
    ctx.acknowledge(
        compose.mention_text(messages.WATCH_RECORDED, {"user": member.line_user_id}, number=str(thread.number))
    )


@on_postback("t.meeting")
def press_meeting(ctx: Context, n: str = "") -> None:
    allowed = _open_thread(ctx, n)
    if allowed is None:
        return
    member, thread = allowed.member, allowed.thread
    added = request_meeting(ctx.session, thread, member, ctx.now)
    template = messages.MEETING_REQUESTED if added else messages.MEETING_ALREADY
    ctx.acknowledge(compose.text(template.format(number=thread.number)))


def typed_response(ctx: Context, n: str, kind: ResponseKind, text: str) -> None:
    """``#12 伝手 内容`` / ``#12 手伝えます 内容`` (called by the #N command router)."""
    allowed = _open_thread(ctx, n)
    if allowed is None:
        return
    net, member, thread = allowed.network, allowed.member, allowed.thread
    if not text:
        ctx.reply(compose.text(messages.RESPONSE_USAGE.format(number=thread.number)))
        return
    respond(ctx, net, member, thread, kind, text)


@on_any_text(priority=10)
def pending_answer(ctx: Context, text: str) -> bool:
    """The presser's next message in that group (within the time limit) is their answer."""
    net = access.group_network(ctx) if ctx.in_group and ctx.user_id else None
    if net is None:
        return False
    pending = take_pending_answer(ctx.session, net.id, ctx.user_id)
    if pending is None:
        return False
    if pending.expires_at < ctx.now:
        return False
    member = access.sender(ctx, net)
    thread = ctx.session.get(Thread, pending.thread_id)
    if member is None or thread is None or not member.registered or not thread.is_open:
        return False
    respond(ctx, net, member, thread, ResponseKind(pending.kind), ctx.text.strip())
    return True


@on_any_text(priority=20)
def quote_comment(ctx: Context, text: str) -> bool:
    """A quote-reply to the bot's card (or to the original post) becomes a comment on that thread."""
    quoted = (ctx.raw.get("message") or {}).get("quotedMessageId")
    net = access.group_network(ctx) if quoted and ctx.in_group else None
    if net is None:
        return False
    thread = quoted_thread(ctx.session, net.id, str(quoted))
    if thread is None:
        return False
    member = access.registered_member(ctx, net)
    if member is None:
        return True
    if access.answerable(ctx, thread):
        respond(ctx, net, member, thread, ResponseKind.COMMENT, ctx.text.strip())
    return True
