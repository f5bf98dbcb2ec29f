"""LINE's unsend and messageEdited: the stored text follows what the sender did to their message."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import on_event
from bot.replies import cards
from handlers import access
from handlers.threads import POST_PREFIX
from models.casework import edit_summary, record_event, responses_of_message, retract, threads_of_message
from models.outbox import erase_thread_messages
from models.privacy import Masked, mask
from models.thread import EventKind


def _network_id(ctx: Context) -> int | None:
    net = access.group_network(ctx)
    return net.id if net else None


@on_event("unsend")
def unsent(ctx: Context) -> None:
    message_id = str((ctx.raw.get("unsend") or {}).get("messageId", ""))
    network_id = _network_id(ctx)
    if not message_id or network_id is None:
        return
    who = access.sender(ctx)  # the timeline says who unsent, not "the bot"
    for thread in threads_of_message(ctx.session, network_id, message_id):
        if thread.masked_kinds:
            # The bot itself asked for this unsend after masking: the poster removed the
            # identifiers from the group, not the trouble. The masked summary stays.
            record_event(ctx.session, thread, EventKind.RETRACTED, ctx.now, actor=who, original_only=True)
        else:
            retract(ctx.session, thread, ctx.now, actor=who)
    for response in responses_of_message(ctx.session, network_id, message_id):
        response.text = None
        erase_thread_messages(ctx.session, [response.thread_id], ctx.now)  # the bot's notices quoted it
        record_event(ctx.session, response.thread, EventKind.RETRACTED, ctx.now, actor=who, response_id=response.id)


@on_event("messageEdited")
def edited(ctx: Context) -> None:
    message = ctx.raw.get("message") or {}
    message_id, text = str(message.get("id", "")), message.get("text")
    network_id = _network_id(ctx)
    if not message_id or network_id is None or not isinstance(text, str):
        return
    thread = next(iter(threads_of_message(ctx.session, network_id, message_id)), None)  # one post, one thread
    if thread is not None and not thread.retracted:
        masked = edit_summary(ctx.session, thread, ctx.text_after(POST_PREFIX, text), ctx.now)
        _warn_if_masked(ctx, masked)
    for response in responses_of_message(ctx.session, network_id, message_id):
        masked = mask(text)
        response.text = masked.text
        record_event(ctx.session, response.thread, EventKind.EDITED, ctx.now, response_id=response.id)
        _warn_if_masked(ctx, masked)


def _warn_if_masked(ctx: Context, masked: Masked) -> None:
    if masked.changed and ctx.user_id:
        ctx.reply(cards.privacy_notice(ctx.user_id, masked))
