"""``#12 <verb> …``: text responses and outcomes (解決・緩和・つなぎ・伴走・終了・取り下げ・再開)."""

from __future__ import annotations

from collections.abc import Callable

from bot.pipeline.context import Context
from bot.pipeline.registry import describe, on_postback, on_text, registry
from bot.pipeline.suggest import verb_suggestion
from bot.replies import cards, compose, guide_cards, messages
from handlers import access
from handlers.access import Need
from handlers.categories import CATEGORY_VERBS, change
from handlers.consent import CONSENT_VERBS, record_consent
from handlers.resources import missing
from handlers.responses import typed_response
from models import Network, Outcome, ResponseKind
from models.casework import OUTCOME_BY_LABEL, OUTCOME_LABELS, reopen, set_outcome
from models.connections import REFERRAL_KIND_LABELS, ReferralKind, organizations_first, referral_kind, split_kind
from models.consent import consent_of
from models.thread import Consent

describe("#12 解決／緩和／伴走／取り下げ", "12番の結果を記録します（投稿した団体・コーディネーター）", order=50)
describe("#12 つなぎ 機関名", "専門機関につないだことを記録します", order=51)
describe("#12 終了 理由", "解決に至らず終了したことを理由とともに記録します", order=52)
describe("#12 再開", "終了した困りごとを再開します", order=53)

VERB_PREFIX = r"\s*[#＃][0-9０-９]+\s*\S+\s*"
RESPONSE_VERBS = {
    "伝手": ResponseKind.CONNECTION,
    "伝手あり": ResponseKind.CONNECTION,
    "手伝えます": ResponseKind.OFFER,
    "手伝える": ResponseKind.OFFER,
    "申し出": ResponseKind.OFFER,
}
DETAIL_LIMIT = 100
# What may follow a thread number, for 「もしかして…？」 when a verb is slipped.
registry.verbs(
    {verb: verb for verb in (*RESPONSE_VERBS, *OUTCOME_BY_LABEL, "再開", "不足", *CONSENT_VERBS, *CATEGORY_VERBS)}
)
# ... and their readings typed in kana (see handlers/threads.py).
registry.verbs(
    {
        "つて": "伝手",
        "てつだえます": "手伝えます",
        "かいけつ": "解決",
        "かんわ": "緩和",
        "ばんそう": "伴走",
        "しゅうりょう": "終了",
        "とりさげ": "取り下げ",
        "さいかい": "再開",
    }
)


def record(ctx: Context, n: str, outcome: Outcome, detail: str = "") -> None:
    allowed = access.guard(ctx, number=n, need=Need.MANAGEABLE)
    if allowed is None:
        return
    thread = allowed.thread
    if not thread.is_open:
        label = OUTCOME_LABELS[Outcome(thread.outcome)] if thread.outcome else ""
        ctx.reply(compose.text(messages.OUTCOME_ALREADY.format(number=thread.number, outcome=label)))
        return
    if thread.outcome == outcome == Outcome.ACCOMPANYING:
        ctx.reply(compose.text(messages.OUTCOME_ALREADY.format(number=thread.number, outcome=OUTCOME_LABELS[outcome])))
        return
    detail = detail[:DETAIL_LIMIT]
    if outcome == Outcome.REFERRED and not detail:
        prompt = messages.ASK_REFERRED_TO.format(number=thread.number)
        ctx.reply(cards.choices(prompt, thread.number, "t.refer", _destinations(ctx, allowed.network)))
        return
    kind = None
    if outcome == Outcome.REFERRED:
        detail, said = split_kind(detail)
        kind = referral_kind(ctx.session, allowed.network, detail, said)
    if outcome == Outcome.ENDED and not detail:
        prompt = messages.ASK_END_REASON.format(number=thread.number)
        ctx.reply(cards.choices(prompt, thread.number, "t.end", messages.END_REASONS))
        return
    set_outcome(
        ctx.session,
        thread,
        allowed.member,
        outcome,
        ctx.now,
        referred_to=detail or None,
        end_reason=detail or None,
        referral_kind=kind,
    )
    said = messages.OUTCOME_RECORDED[outcome].format(number=thread.number, referred_to=detail, end_reason=detail)
    if kind is not None and kind != ReferralKind.FORMAL:
        said += messages.REFERRED_KIND_NOTE.format(kind=REFERRAL_KIND_LABELS[kind])
    ctx.acknowledge(compose.text(said))


def _destinations(ctx: Context, network: Network) -> tuple[str, ...]:
    """The network's organizations first, then the usual agencies (as many as quick replies hold)."""
    return organizations_first(ctx.session, network, messages.REFERRAL_DESTINATIONS)[: compose.QUICK_REPLY_LIMIT]


def reopen_thread(ctx: Context, n: str) -> None:
    allowed = access.guard(ctx, number=n, need=Need.MANAGEABLE)
    if allowed is None:
        return
    thread = allowed.thread
    if thread.is_open:
        ctx.reply(compose.text(messages.NOT_CLOSED.format(number=thread.number)))
        return
    reopen(ctx.session, thread, allowed.member, ctx.now)
    consent = consent_of(ctx.session, thread)
    card = cards.thread_card(thread, shown=consent == Consent.YES, consent=consent)
    ctx.reply(compose.text(messages.REOPENED.format(number=thread.number)), card)


def _verb_action(verb: str) -> Callable[[Context, str, str], None] | None:
    if verb in RESPONSE_VERBS:
        kind = RESPONSE_VERBS[verb]
        return lambda ctx, n, rest: typed_response(ctx, n, kind, rest)
    if verb in OUTCOME_BY_LABEL:
        outcome = OUTCOME_BY_LABEL[verb]
        return lambda ctx, n, rest: record(ctx, n, outcome, rest)
    if verb == "再開":
        return lambda ctx, n, rest: reopen_thread(ctx, n)
    if verb in CATEGORY_VERBS:
        return lambda ctx, n, rest: change(ctx, n, verb, rest)
    if verb == "不足":
        return lambda ctx, n, rest: missing(ctx, n, rest)
    if verb in CONSENT_VERBS:
        value = CONSENT_VERBS[verb]
        return lambda ctx, n, rest: record_consent(ctx, n, value)
    return None


@on_text(r"#(?P<n>\d{1,9})\s*(?P<verb>[^\s\d]\S*?)(?:\s+(?P<rest>.*)|$)", priority=25)
def thread_command(ctx: Context, n: str, verb: str, rest: str = "") -> None:
    if access.network(ctx) is None:
        return
    action = _verb_action(verb)
    if action is None:
        slip = verb_suggestion(registry, n, verb, rest)
        if slip is not None:
            ctx.reply(guide_cards.suggestion(slip.text, slip.word))
        else:
            ctx.reply(compose.text(messages.COMMAND_UNKNOWN.format(number=n, verb=verb)))
        return
    action(ctx, n, ctx.text_after(VERB_PREFIX, rest))


@on_postback("t.outcome")
def press_outcome(ctx: Context, n: str = "", o: str = "", g: str = "") -> None:
    access.about_network(ctx, g)
    if access.network(ctx) is None or o not in Outcome.__members__.values():
        return
    record(ctx, n, Outcome(o))


def _choice(options: tuple[str, ...], index: str) -> str | None:
    return options[int(index)] if index.isdigit() and int(index) < len(options) else None


@on_postback("t.refer")
def press_referral(ctx: Context, n: str = "", i: str = "") -> None:
    net = access.network(ctx)
    choice = _choice(_destinations(ctx, net), i) if net is not None else None
    if net is not None and choice:
        record(ctx, n, Outcome.REFERRED, choice)


@on_postback("t.end")
def press_end_reason(ctx: Context, n: str = "", i: str = "") -> None:
    choice = _choice(messages.END_REASONS, i)
    if access.network(ctx) is not None and choice:
        record(ctx, n, Outcome.ENDED, choice)
