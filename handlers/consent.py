"""``#12 同意あり／同意なし／同意未確認`` and the card's 本人同意を記録: the person's consent
(本人同意), kept in the timeline.

Set by the poster's organization, a coordinator or an organizer (like outcomes). Without あり the
thread's summary is never shown in the group again (models.consent)."""

from __future__ import annotations

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_postback
from bot.replies import cards, compose, messages
from handlers import access
from handlers.access import Need
from models.consent import consent_of, set_consent
from models.thread import CONSENT_LABELS, Consent

describe("#12 同意あり／同意なし", "12番の本人同意を記録します（同意がないと要約をグループに出しません）", order=54)

CONSENT_DENIALS = access.Denials(not_manager=messages.CONSENT_NOT_ALLOWED)
CONSENT_VERBS = {"同意あり": Consent.YES, "同意なし": Consent.NO, "同意未確認": Consent.UNKNOWN}


def record_consent(ctx: Context, n: str, value: Consent) -> None:
    allowed = access.guard(ctx, number=n, need=Need.MANAGEABLE, denials=CONSENT_DENIALS)
    if allowed is None:
        return
    thread, label = allowed.thread, CONSENT_LABELS[value]
    if set_consent(ctx.session, thread, allowed.member, value, ctx.now):
        ctx.reply(compose.text(messages.CONSENT_SET.format(number=thread.number, label=label)))
    else:
        ctx.reply(compose.text(messages.CONSENT_SAME.format(number=thread.number, label=label)))


@on_postback("t.consentmenu")
def choose_consent(ctx: Context, n: str = "") -> None:
    """The card's button: the same people as the chat command may choose; others get its refusal."""
    allowed = access.guard(ctx, number=n, need=Need.MANAGEABLE, denials=CONSENT_DENIALS)
    if allowed is None:
        return
    ctx.reply(cards.consent_chooser(allowed.thread, consent_of(ctx.session, allowed.thread)))


@on_postback("t.consent")
def press_consent(ctx: Context, n: str = "", v: str = "") -> None:
    if access.network(ctx) is not None and v in set(Consent):
        record_consent(ctx, n, Consent(v))
