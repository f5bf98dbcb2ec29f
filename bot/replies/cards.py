"""The bot's thread cards and lists, built from models (used by handlers and jobs alike)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.replies import compose, messages
from models import CATEGORIES, Thread
from models.casework import OUTCOME_LABELS, TimelineEntry
from models.privacy import Masked
from models.thread import CONSENT_LABELS, Consent, Outcome

Message = dict[str, Any]
TIMELINE_LINES = 15  # a chat message, not the case log: the dashboard shows the whole timeline


def _summary(thread: Thread, shown: bool = True) -> str:
    """The masked summary; ``shown`` False (本人同意 not あり, models.consent): a note in its place."""
    if thread.retracted or thread.summary is None:
        return messages.CARD_RETRACTED
    return thread.summary if shown else messages.CARD_NO_CONSENT


def _state_line(thread: Thread) -> str:
    if thread.outcome == Outcome.ACCOMPANYING:
        return messages.CARD_STATE_ACCOMPANYING
    if not thread.is_open and thread.outcome:
        return messages.CARD_STATE_CLOSED.format(outcome=OUTCOME_LABELS[Outcome(thread.outcome)])
    return messages.CARD_STATE_OPEN


def thread_card(
    thread: Thread,
    *,
    with_corrections: bool = False,
    areas: list[str] | None = None,
    shown: bool = True,
    also: list[str] | None = None,
    consent: Consent = Consent.UNKNOWN,
) -> Message:
    """``shown``: whether the group may see the summary again (the card answering the post itself
    repeats what the poster has just written there); ``consent``: the thread's 本人同意 now.

    Every card but a retracted thread's carries 本人同意を記録 and 分野を追加・外す: each opens
    its choices as quick replies (handlers/consent.py, handlers/categories.py)."""
    number = thread.number
    lines = [
        compose.flex_text(_summary(thread, shown), size="md"),
        messages.CARD_CATEGORY.format(category="・".join([thread.category, *(also or [])])),
        messages.CARD_AREA.format(area=thread.area or messages.AREA_UNSET),
        messages.CARD_COUNTS.format(
            connections=thread.connection_count, offers=thread.offer_count, watchers=thread.watcher_count
        ),
        _state_line(thread),
        messages.CARD_CONSENT.format(label=CONSENT_LABELS[consent]),
    ]
    buttons = []
    if thread.is_open and not thread.retracted:
        buttons = [
            compose.postback(messages.BUTTON_CONNECT, "t.connect", n=number),
            compose.postback(messages.BUTTON_OFFER, "t.offer", n=number),
            compose.postback(messages.BUTTON_WATCH, "t.watch", n=number),
            compose.postback(messages.BUTTON_MEETING, "t.meeting", n=number),
        ]
    if not thread.retracted:
        buttons += [
            compose.postback(messages.BUTTON_CONSENT, "t.consentmenu", n=number),
            compose.postback(messages.BUTTON_ADD_CATEGORY, "t.catmenu", n=number),
        ]
    card = compose.card(
        messages.CARD_ALT.format(number=number, summary=_summary(thread, shown)),
        messages.CARD_TITLE.format(number=number),
        lines,
        buttons,
    )
    if with_corrections:
        chips = [compose.postback(c, "t.category", n=number, c=c) for c in CATEGORIES]
        if areas:
            chips.append(compose.postback(messages.BUTTON_AREA, "t.areas", n=number))
        card = compose.with_quick_replies(card, chips)
    return card


AREA_PAGE = compose.QUICK_REPLY_LIMIT - 2  # room for 「前へ」 and 「次へ」


def area_chooser(thread: Thread, areas: list[str], page: int = 0) -> Message:
    """The 地区 as quick replies, a page at a time: Kurume's 46 校区 are five pages of 11."""
    if len(areas) <= compose.QUICK_REPLY_LIMIT:
        shown, page, pages = areas, 0, 1
    else:
        pages = -(-len(areas) // AREA_PAGE)
        page = min(max(page, 0), pages - 1)
        shown = areas[page * AREA_PAGE : (page + 1) * AREA_PAGE]
    chips = [compose.postback(a, "t.area", n=thread.number, r=a) for a in shown]
    if page > 0:
        chips.append(compose.postback(messages.AREA_PREVIOUS, "t.areas", n=thread.number, p=page - 1))
    if page < pages - 1:
        chips.append(compose.postback(messages.AREA_NEXT, "t.areas", n=thread.number, p=page + 1))
    prompt = messages.AREA_CHOOSE.format(number=thread.number)
    if pages > 1:
        prompt += messages.AREA_PAGE.format(page=page + 1, pages=pages)
    return compose.with_quick_replies(compose.text(prompt), chips)


def consent_chooser(thread: Thread, consent: Consent) -> Message:
    """The card's 本人同意を記録: あり／なし／未確認 as quick replies (the one standing now left out)."""
    chips = [
        compose.postback(label, "t.consent", n=thread.number, v=value)
        for value, label in messages.CONSENT_CHOICES.items()
        if value != consent
    ]
    prompt = messages.CONSENT_CHOOSE.format(number=thread.number, label=CONSENT_LABELS[consent])
    return compose.with_quick_replies(compose.text(prompt), chips)


def category_chooser(thread: Thread, have: list[str]) -> Message:
    """The card's 分野を追加・外す: ＋ for each 分野 the thread lacks, － for each it has (all nine
    fit in LINE's 13 quick replies); removing the last one is refused by the model."""
    chips = [
        compose.postback(messages.CATEGORY_ADD_CHIP.format(category=c), "t.catadd", n=thread.number, c=c)
        for c in CATEGORIES
        if c not in have
    ]
    chips += [
        compose.postback(messages.CATEGORY_REMOVE_CHIP.format(category=c), "t.catdel", n=thread.number, c=c)
        for c in have
    ]
    prompt = messages.CATEGORY_ADD_CHOOSE.format(number=thread.number, categories="・".join(have))
    return compose.with_quick_replies(compose.text(prompt), chips)


def outcome_buttons(number: int, network_id: int | None = None) -> list[dict[str, Any]]:
    """The outcome buttons; ``network_id`` when the card is sent 1:1 (the press then says which network)."""
    where = {} if network_id is None else {"g": network_id}
    return [
        compose.postback(messages.BUTTON_RESOLVED, "t.outcome", n=number, o=Outcome.RESOLVED, **where),
        compose.postback(messages.BUTTON_EASED, "t.outcome", n=number, o=Outcome.EASED, **where),
        compose.postback(messages.BUTTON_REFERRED, "t.outcome", n=number, o=Outcome.REFERRED, **where),
        compose.postback(messages.BUTTON_ACCOMPANYING, "t.outcome", n=number, o=Outcome.ACCOMPANYING, **where),
        compose.postback(messages.BUTTON_ENDED, "t.outcome", n=number, o=Outcome.ENDED, **where),
        compose.postback(messages.BUTTON_WITHDRAWN, "t.outcome", n=number, o=Outcome.WITHDRAWN, **where),
    ]


def nudge_card(thread: Thread, *, shown: bool = True) -> Message:
    """3 days without an answer: the answer buttons on the card itself (quick replies vanish as soon
    as anyone posts, and LINE for PC never shows them). ``shown``: as in ``followup_card``."""
    number = thread.number
    text = messages.NUDGE.format(number=number, summary=(thread.summary or "") if shown else "").rstrip()
    return compose.card(
        text,
        messages.NUDGE_TITLE.format(number=number),
        [messages.NUDGE_ASK, compose.flex_text(_summary(thread, shown), size="sm")],
        [
            compose.postback(messages.BUTTON_CONNECT, "t.connect", n=number),
            compose.postback(messages.BUTTON_OFFER, "t.offer", n=number),
        ],
    )


def followup_card(thread: Thread, *, accompanying: bool = False, direct: bool = False, shown: bool = True) -> Message:
    """``direct``: sent 1:1 to the poster, so its buttons name the network; ``shown``: the summary
    may be seen by the group (本人同意, models.consent)."""
    title = (messages.ACCOMPANY_TITLE if accompanying else messages.FOLLOWUP_TITLE).format(number=thread.number)
    return compose.card(
        messages.FOLLOWUP_ALT.format(number=thread.number),
        title,
        [compose.flex_text(_summary(thread, shown), size="sm")],
        outcome_buttons(thread.number, thread.network_id if direct else None),
    )


def privacy_notice(user_id: str, masked: Masked) -> Message:
    """Tell the sender what was hidden and what was kept, and suggest unsending the original."""
    kinds = "・".join(messages.PRIVACY_KIND_LABELS.get(k, k) for k in masked.kinds)
    return compose.mention_text(messages.PRIVACY_MASKED, {"user": user_id}, kinds=kinds, summary=masked.text)


def choices(prompt: str, number: int, action: str, options: tuple[str, ...]) -> Message:
    chips = [compose.postback(option, action, n=number, i=index) for index, option in enumerate(options)]
    return compose.with_quick_replies(compose.text(prompt), chips)


def age(posted_at: datetime, now: datetime) -> str:
    days = (now - posted_at).days
    return messages.AGE_TODAY if days <= 0 else messages.AGE_DAYS.format(days=days)


LIST_SUMMARY = 30  # characters of each masked summary in 一覧


def thread_list(
    threads: list[Thread],
    now: datetime,
    *,
    offset: int,
    total: int,
    label: str = "",
    more: str | None = None,
    shown: set[int] | None = None,
) -> Message:
    """One page of 一覧: each thread's number, age, 分野 and 地区, counts and the start of its summary;
    ``more`` is the postback data of 続きを見る when there is a next page."""
    if not threads:
        return compose.text(messages.LIST_EMPTY_FILTERED.format(filter=label) if label else messages.LIST_EMPTY)
    lines: list[dict[str, Any]] = []
    for t in threads:
        head = messages.LIST_ENTRY_HEAD.format(
            number=t.number,
            age=age(t.posted_at, now),
            category=t.category,
            area=messages.LIST_ENTRY_AREA.format(area=t.area) if t.area else "",
            connections=t.connection_count,
            offers=t.offer_count,
        )
        summary = _summary(t, shown is None or t.id in shown)
        summary = summary if len(summary) <= LIST_SUMMARY else summary[:LIST_SUMMARY] + "…"
        lines += [compose.flex_text(head, size="sm", weight="bold", margin="md"), compose.flex_text(summary, size="sm")]
    lines.append(compose.flex_text(messages.LIST_OPEN_HINT, size="xs", color="#555555", margin="md"))
    span = {"first": offset + 1, "last": offset + len(threads), "total": total}
    title = messages.LIST_CARD_TITLE_FILTERED.format(filter=label) if label else messages.LIST_CARD_TITLE
    buttons = []
    if more is not None:
        buttons.append(
            {
                "type": "postback",
                "label": messages.LIST_MORE_BUTTON,
                "data": more,
                "displayText": messages.LIST_MORE_DISPLAY,
            }
        )
    return compose.card(
        messages.LIST_CARD_ALT.format(**span), title, lines, buttons, subtitle=messages.LIST_CARD_RANGE.format(**span)
    )


def timeline_text(entries: Sequence[TimelineEntry], tz: Any) -> Message:
    """The last entries of a thread's timeline (``models.casework.timeline_tail``), oldest first."""
    lines = [messages.TIMELINE_TITLE]
    for event in entries:
        when = event.at.astimezone(tz).strftime("%m/%d %H:%M")
        who = f"（{event.organization}）" if event.organization is not None else ""
        label = messages.TIMELINE_LABELS.get(event.kind, event.kind)
        outcome = event.detail.get("outcome") if event.kind == "outcome" else None
        if outcome:
            label += "：" + OUTCOME_LABELS[Outcome(outcome)]
        consent = event.detail.get("consent") if event.kind == "consent" else None
        if consent in set(Consent):
            label += "：" + CONSENT_LABELS[Consent(consent)]
        lines.append(f"{when} {label}{who}")
    return compose.text("\n".join(lines))
