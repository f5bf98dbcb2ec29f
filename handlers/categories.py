"""``#12 分野追加 子ども`` / ``#12 分野削除 高齢`` and the card's 「分野を追加・外す」: a thread in several 分野.

Like a 分野 correction, anyone registered in the group may do it; the timeline keeps who did."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_postback
from bot.replies import cards, compose, messages
from handlers import access
from models import CATEGORIES
from models.categories import add_category, categories_of, remove_category

describe("#12 分野追加 子ども", "12番に分野を加えます（分野削除 で外します）", order=56)
CATEGORY_VERBS = ("分野追加", "分野削除")


def _names(categories: list[str]) -> str:
    return "・".join(categories)


def change(ctx: Context, n: str, verb: str, category: str) -> None:
    found = access.guard(ctx, number=n)
    if found is None or found.thread is None:
        return
    thread, category = found.thread, category.strip()
    if category not in CATEGORIES:
        ctx.reply(compose.text(messages.CATEGORY_UNKNOWN.format(names="、".join(CATEGORIES))))
        return
    if verb == "分野追加":
        done = add_category(ctx.session, thread, found.member, category, ctx.now)
        wording = messages.CATEGORY_ADDED if done else messages.CATEGORY_ALREADY
    else:
        result = remove_category(ctx.session, thread, found.member, category, ctx.now)
        if result is None:
            ctx.reply(compose.text(messages.CATEGORY_LAST.format(number=thread.number)))
            return
        wording = messages.CATEGORY_REMOVED if result else messages.CATEGORY_NOT_THERE
    now = _names(categories_of(ctx.session, thread))
    ctx.reply(compose.text(wording.format(number=thread.number, category=category, categories=now)))


@on_postback("t.catmenu")
def choose_category(ctx: Context, n: str = "") -> None:
    found = access.guard(ctx, number=n)
    if found is None or found.thread is None:
        return
    ctx.reply(cards.category_chooser(found.thread, categories_of(ctx.session, found.thread)))


@on_postback("t.catadd")
def press_add(ctx: Context, n: str = "", c: str = "") -> None:
    if access.network(ctx) is not None and c in CATEGORIES:
        change(ctx, n, "分野追加", c)


@on_postback("t.catdel")
def press_remove(ctx: Context, n: str = "", c: str = "") -> None:
    if access.network(ctx) is not None and c in CATEGORIES:
        change(ctx, n, "分野削除", c)
