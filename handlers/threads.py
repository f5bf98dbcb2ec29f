"""Posting a 困りごと, correcting its 分野/地区, listing threads, showing one, the network's areas."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import command_words, describe, on_any_text, on_command, on_postback, on_text
from bot.replies import cards, compose, messages
from handlers import access
from handlers.access import Who
from models import CATEGORIES
from models.areas import add_areas, area_names
from models.casework import SUMMARY_LIMIT, correct, post_thread, timeline_tail
from models.categories import also_of
from models.classify import guess_area, guess_categories
from models.consent import consent_of, shown_in_group
from models.network import Network
from models.privacy import mask
from models.thread import Consent
from models.thread_list import ListFilter, open_threads_page

LIST_PAGE = 10  # threads per message of 一覧
LIST_FILTER_LIMIT = 50  # a 地区 name is at most 50 characters; also keeps 続きを見る's data short

describe("困りごと 内容", "困りごとを投稿します（名前・電話番号は書かないでください）", order=20)
describe("一覧", "受付中の困りごとを古い順に10件ずつ表示します", order=30)
describe("一覧 南校区／一覧 高齢／一覧 自分", "地区・分野・自分の団体で絞り込みます", order=30)
describe("#12", "12番の困りごとと経過を表示します", order=31)
describe("地区登録 地区名 …", "地区を登録します（世話役）", order=80, topic="post")


def post(ctx: Context, text: str) -> None:
    allowed = access.guard(ctx, who=Who.REGISTERED)
    if allowed is None:
        return  # an unregistered sender's text is not stored
    net, member = allowed.network, allowed.member
    if not text:
        ctx.reply(compose.text(messages.POST_USAGE))
        return
    if len(text) > SUMMARY_LIMIT:
        ctx.reply(compose.text(messages.POST_TOO_LONG.format(limit=SUMMARY_LIMIT)))
        return
    areas = area_names(ctx.session, net.id)
    guessed = guess_categories(text)  # the first mentioned is the main 分野
    message_id = (ctx.raw.get("message") or {}).get("id")
    thread, masked = post_thread(
        ctx.session,
        net,
        member,
        text,
        ctx.now,
        message_id=message_id,
        category=guessed[0],
        area=guess_area(text, areas),
        also=guessed[1:],
    )
    ctx.about(thread=thread.number)
    ctx.reply_topic = f"thread:{thread.id}"
    ctx.reply(cards.thread_card(thread, with_corrections=True, areas=areas, also=guessed[1:]))
    if masked.changed and ctx.user_id:
        ctx.reply(cards.privacy_notice(ctx.user_id, masked))


POST_PREFIX = r"\s*[#＃]?(?:困りごと|こまりごと|困り事)[\s:：、]*"


command_words("困りごと", "こまりごと", "困り事", takes_args=True)
# Readings of the commands written in kanji: typed in kana they get 「もしかして…？」 (kanji
# readings need a dictionary of their own, ~140 MB in memory: too much for each process).
command_words("一覧", "いちらん", takes_args=True, reading=True)
command_words("地区登録", "ちくとうろく", takes_args=True, reading=True)


@on_text(r"#?(?:困りごと|こまりごと|困り事)(?:[\s:：、]+(?P<args>.*)|$)", priority=20)
def post_command(ctx: Context, args: str = "") -> None:
    post(ctx, ctx.text_after(POST_PREFIX, args))


@on_any_text(priority=40)
def post_by_mention(ctx: Context, text: str) -> bool:
    """「@Kasane 高齢の方の…」: a mention of the bot with text is a post too."""
    mention = (ctx.raw.get("message") or {}).get("mention") or {}
    self_mentions = [m for m in mention.get("mentionees", []) if isinstance(m, dict) and m.get("isSelf")]
    if not self_mentions or not ctx.in_group:
        return False
    raw_text = str((ctx.raw.get("message") or {}).get("text", ""))
    for m in sorted(self_mentions, key=lambda m: m.get("index", 0), reverse=True):
        start, length = int(m.get("index", 0)), int(m.get("length", 0))
        raw_text = raw_text[:start] + raw_text[start + length :]
    post(ctx, raw_text.strip())
    return True


@on_postback("t.category")
def set_category(ctx: Context, n: str = "", c: str = "") -> None:
    found = access.guard(ctx, number=n)
    if found is None or c not in CATEGORIES:
        return
    thread = found.thread
    correct(ctx.session, thread, found.member, ctx.now, category=c)
    ctx.acknowledge(compose.text(messages.CATEGORY_SET.format(number=thread.number, category=c)))


@on_postback("t.areas")
def choose_area(ctx: Context, n: str = "", p: str = "0") -> None:
    found = access.guard(ctx, number=n)
    if found is None:
        return
    areas = area_names(ctx.session, found.network.id)
    page = int(p) if p.isdigit() else 0
    ctx.reply(cards.area_chooser(found.thread, areas, page) if areas else compose.text(messages.AREA_NONE))


@on_postback("t.area")
def set_area(ctx: Context, n: str = "", r: str = "") -> None:
    found = access.guard(ctx, number=n)
    if found is None:
        return
    thread = found.thread
    if r not in area_names(ctx.session, found.network.id):
        ctx.reply(compose.text(messages.AREA_NONE))
        return
    correct(ctx.session, thread, found.member, ctx.now, area=r)
    ctx.acknowledge(compose.text(messages.AREA_SET.format(number=thread.number, area=r)))


@on_command("一覧", "#一覧")
def list_open(ctx: Context, args: str = "") -> None:
    """``一覧``, ``一覧 南校区``, ``一覧 高齢``, ``一覧 自分``: 10 at a time, oldest first."""
    list_page(ctx, args, 0)


@on_postback("t.list")
def list_more(ctx: Context, f: str = "", o: str = "") -> None:
    offset = int(o) if o.isascii() and o.isdigit() and len(o) <= 6 else 0
    list_page(ctx, f, offset)


def list_page(ctx: Context, label: str, offset: int) -> None:
    net = access.network(ctx)
    if net is None:
        return
    label = label.strip()[:LIST_FILTER_LIMIT]
    where = _list_filter(ctx, net, label)
    if where is None:
        return
    threads, total = open_threads_page(ctx.session, net.id, where, offset=offset, limit=LIST_PAGE)
    after = offset + len(threads)
    more = compose.postback_data("t.list", f=label, o=after) if after < total else None
    shown = messages.LIST_FILTER_MINE_LABEL if label == messages.LIST_FILTER_MINE else label
    visible = shown_in_group(ctx.session, threads)
    ctx.reply(cards.thread_list(threads, ctx.now, offset=offset, total=total, label=shown, more=more, shown=visible))


def _list_filter(ctx: Context, net: Network, label: str) -> ListFilter | None:
    """What follows 一覧: a 地区 of the network, a 分野, or 自分 (the sender's organization)."""
    if not label:
        return ListFilter()
    if label == messages.LIST_FILTER_MINE:
        member = access.registered_member(ctx, net)
        return None if member is None else ListFilter(organization_id=member.organization_id)
    areas = area_names(ctx.session, net.id)
    if label in areas:
        return ListFilter(area=label)
    if label in CATEGORIES:
        return ListFilter(category=label)
    ctx.reply(
        compose.text(
            messages.LIST_FILTER_UNKNOWN.format(
                filter=mask(label).text,  # echoed words are queued in the database: masked
                areas="、".join(areas) or messages.LIST_FILTER_NO_AREAS,
                categories="、".join(CATEGORIES),
            )
        )
    )
    return None


@on_text(r"#(?P<n>\d{1,9})", priority=30)
def show(ctx: Context, n: str) -> None:
    found = access.guard(ctx, number=n)
    if found is None:
        return
    net, thread = found.network, found.thread
    ctx.reply_topic = f"thread:{thread.id}"
    timeline = timeline_tail(ctx.session, thread, cards.TIMELINE_LINES)
    consent = consent_of(ctx.session, thread)
    card = cards.thread_card(thread, shown=consent == Consent.YES, also=also_of(ctx.session, thread), consent=consent)
    ctx.reply(card, cards.timeline_text(timeline, access.timezone(net)))


@on_command("地区登録", "#地区登録")
def register_areas(ctx: Context, args: str) -> None:
    allowed = access.guard(ctx, who=Who.ORGANIZER)
    if allowed is None:
        return
    net = allowed.network
    names = args.replace("、", " ").replace(",", " ").split()
    if not names:
        ctx.reply(compose.text(messages.AREAS_USAGE))
        return
    added = add_areas(ctx.session, net.id, names)
    every = "、".join(area_names(ctx.session, net.id))
    ctx.reply(compose.text(messages.AREAS_REGISTERED.format(areas="、".join(added) or "なし", all=every)))
