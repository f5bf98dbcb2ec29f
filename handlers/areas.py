"""``地区名変更 旧 新`` and ``地区統合 旧 新`` (the organizer): a city's 校区 change names and merge.

Threads in the area follow, each with a correction in its timeline; reports of past periods keep
the names they had. Adding stays ``地区登録``; the dashboard's 地区 page does all of it too."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_command
from bot.replies import compose, messages
from handlers import access
from handlers.access import Who
from models.areas import area_names, merge_areas, rename_area

describe("地区名変更 旧 新／地区統合 旧 新", "地区の名前を変える・まとめる（世話役）", order=81, topic="post")


@on_command("地区名変更", "#地区名変更")
def rename(ctx: Context, args: str) -> None:
    _change(ctx, args, "rename")


@on_command("地区統合", "#地区統合")
def merge(ctx: Context, args: str) -> None:
    _change(ctx, args, "merge")


def _change(ctx: Context, args: str, how: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER)
    if allowed is None:
        return
    net, member = allowed.network, allowed.member
    words = args.replace("、", " ").split()
    if len(words) != 2:
        ctx.reply(compose.text(messages.AREA_CHANGE_USAGE))
        return
    old, new = words
    change = rename_area if how == "rename" else merge_areas
    moved = change(ctx.session, net, old, new, member, ctx.now, "chat")
    every = "、".join(area_names(ctx.session, net.id))
    if moved is None:
        ctx.reply(compose.text(messages.AREA_CHANGE_REFUSED.format(all=every)))
        return
    done = messages.AREA_RENAMED if how == "rename" else messages.AREA_MERGED
    ctx.reply(compose.text(done.format(old=old, new=new, moved=moved, all=every)))
