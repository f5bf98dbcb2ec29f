"""``ログイン``: a coordinator asks the bot, 1:1, for a one-time link to the dashboard.

Only in a 1:1 chat: a link posted in the group would let any member of it sign in.
"""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from models.dashboard import LOGIN_LINKS_PER_HOUR, coordinated_networks, links_issued_recently
from models.outbox import BEARER_TOPIC

describe("ログイン", "コーディネーター・世話役の方に、ダッシュボードのリンクをお送りします（1対1のトークで）", order=80)


@on_command("ログイン", "login", args=r"(?P<args>)", where="group")
def login_in_group(ctx: Context, args: str = "") -> None:
    ctx.reply(compose.text(messages.LOGIN_USE_ONE_TO_ONE))


@on_command("ログイン", "login", args=r"(?P<args>)", where="user")
def login(ctx: Context, args: str = "") -> None:
    if not ctx.user_id:
        ctx.reply(compose.text(messages.LOGIN_NO_USER))
        return
    if not coordinated_networks(ctx.session, ctx.user_id):
        ctx.reply(compose.text(messages.LOGIN_NOT_ALLOWED))
        return
    # Rate limit: links are cheap to ask for; a flood of them is a stolen phone or a loop.
    if links_issued_recently(ctx.session, ctx.user_id, ctx.now) >= LOGIN_LINKS_PER_HOUR:
        ctx.reply(compose.text(messages.LOGIN_TOO_MANY))
        return
    link = ctx.links.issue_sign_in(ctx.session, ctx.user_id, ctx.now)
    ctx.reply_topic = BEARER_TOPIC  # the outbox keeps a placeholder, not the link, once sent
    ctx.reply(
        compose.card(
            messages.LOGIN_CARD_ALT,
            messages.LOGIN_CARD_TITLE,
            list(messages.LOGIN_CARD_LINES),
            [compose.uri(messages.LOGIN_BUTTON, link)],
        )
    )
