"""The figures of a period (月報, 年度, a contract period) and the 重なり map, by SQL aggregation.

Pure query functions: the dashboard pages, the CLI and the monthly push all use them.
Every figure is a GROUP BY or a count on indexed columns, never a loop over threads: a
network with 200,000 threads must still answer in milliseconds.

Figures as of the period's end. Every figure is read from the append-only timeline
(``thread_events``, and the responses' own dates): what happened inside the period, and how
each thread stood at its end. Nothing done later (a correction on the dashboard, 再開, 取り消し,
retention erasing text) changes a past period's figures; a later change shows in the period in
which it was made, and that period's report lists it under 前月以前の訂正. So a report handed in
on the 15th gives the same numbers on any later day.

Definitions (also printed on the report page):
- received: threads posted in the period (network's time zone), less those whose post was
  unsent (取り消し) before the period ended; 分野 and 地区 as they stood at the period's end;
- 伝手 and offers: responses given during the period, to threads of any period;
- outcomes, つなぎ先 and 終了 reasons: recorded during the period, as they stood at its end, for
  threads that were not closed when it began (a change to an outcome recorded in an earlier
  period is a 前月以前の訂正, not a new outcome);
- overlap and time to first response: threads received in the period, with the responses
  given before its end;
- carried over: open at the period's end (伴走 included), whenever posted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from models.areas import area_names
from models.casework import OUTCOME_LABELS
from models.connections import REFERRAL_KIND_LABELS, ReferralKind
from models.network import Member, Network, Organization, OrganizationChange, OrgKind
from models.thread import (
    CATEGORIES,
    CONSENT_LABELS,
    Consent,
    EventKind,
    Outcome,
    Response,
    ResponseKind,
    Thread,
    ThreadEvent,
    ThreadState,
)

NO_AREA = "（地区なし）"
NO_VALUE = "（記録なし）"
# Responses that count as taking part in a thread (watching does not).
PARTICIPATING = (ResponseKind.CONNECTION, ResponseKind.OFFER, ResponseKind.COMMENT)
MONTH = re.compile(r"(\d{4})-(\d{2})")
# The events that move a thread between open and closed.
STATE_KINDS = (EventKind.POSTED, EventKind.OUTCOME, EventKind.REOPENED)


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, inclusive
    end: datetime  # aware, exclusive
    label: str  # "2026-10" or "2026-04〜2026-09"


def parse_month(text: str) -> tuple[int, int] | None:
    match = MONTH.fullmatch(text.strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    return (year, month) if 1 <= month <= 12 and 2000 <= year <= 2999 else None


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def month_period(year: int, month: int, tz: str) -> Period:
    return months_period((year, month), (year, month), tz)


def months_period(first: tuple[int, int], last: tuple[int, int], tz: str) -> Period:
    zone = ZoneInfo(tz)
    end_year, end_month = next_month(*last)
    label = f"{first[0]:04d}-{first[1]:02d}"
    if first != last:
        label += f"〜{last[0]:04d}-{last[1]:02d}"
    return Period(datetime(*first, 1, tzinfo=zone), datetime(end_year, end_month, 1, tzinfo=zone), label)


def date_period(first: date, last: date, tz: str) -> Period:
    """From the first day's 00:00 to the end of the last day (both in the network's time zone)."""
    zone = ZoneInfo(tz)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = datetime(last.year, last.month, last.day, tzinfo=zone) + timedelta(days=1)
    return Period(start, end, f"{first.isoformat()}〜{last.isoformat()}")


def fiscal_year_period(year: int, tz: str) -> Period:
    """年度: April of ``year`` to March of the next."""
    period = months_period((year, 4), (year + 1, 3), tz)
    return Period(period.start, period.end, f"{year}年度")


def fiscal_year_of(moment: datetime) -> int:
    return moment.year if moment.month >= 4 else moment.year - 1


def months_of(period: Period) -> list[Period]:
    """The period cut at month boundaries (the first and last may be part months), in order."""
    zone = period.start.tzinfo
    parts = []
    start = period.start
    while start < period.end:
        year, month = next_month(start.year, start.month)
        end = min(datetime(year, month, 1, tzinfo=zone), period.end)
        whole = start.day == 1 and start.hour == 0 and end == datetime(year, month, 1, tzinfo=zone)
        label = f"{start.year:04d}-{start.month:02d}"
        if not whole:
            last = (end - timedelta(days=1)).date()
            label = f"{start.date().isoformat()}〜{last.isoformat()}"
        parts.append(Period(start, end, label))
        start = end
    return parts


@dataclass
class FirstResponse:
    answered: int = 0  # threads of the period with a first 伝手 or offer before its end
    unanswered: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None


@dataclass(frozen=True)
class Correction:
    """A change made in the period to what an earlier period had recorded (前月以前の訂正)."""

    at: datetime
    number: int
    what: str  # 分野 | 地区 | 結果 | 再開 | 取り消し
    before: str
    after: str


@dataclass
class MonthlyReport:
    network_id: int
    period: Period
    received: int = 0
    retracted: int = 0
    by_category: list[tuple[str, int]] = field(default_factory=list)
    by_area: list[tuple[str, int]] = field(default_factory=list)
    connections: int = 0
    offers: int = 0
    overlap: int = 0
    handovers: list[tuple[str, int]] = field(default_factory=list)
    outcomes: list[tuple[str, int]] = field(default_factory=list)
    end_reasons: list[tuple[str, int]] = field(default_factory=list)
    first_response: FirstResponse = field(default_factory=FirstResponse)
    carried_over: int = 0
    corrections: list[Correction] = field(default_factory=list)
    by_consent: list[tuple[str, int]] = field(default_factory=list)  # 本人同意 of the received threads
    compound: int = 0  # received threads in two or more 分野 (複合)
    watches: int = 0  # 見守り: 気にかけています given in the period
    watched: int = 0  # ... to this many threads
    referral_kinds: list[tuple[str, int]] = field(default_factory=list)  # つなぎ: formal, informal, 参加支援
    missing: list[tuple[str, int]] = field(default_factory=list)  # 足りなかった資源 recorded in the period

    @property
    def participation(self) -> int:
        """参加支援, counted apart (the last of the kinds)."""
        return self.referral_kinds[-1][1] if self.referral_kinds else 0

    @property
    def is_month(self) -> bool:
        return MONTH.fullmatch(self.period.label) is not None


def _detail(key: str | tuple[str, ...], event: type[ThreadEvent] | ThreadEvent = ThreadEvent) -> ColumnElement[str]:
    return event.detail[key].as_string()  # type: ignore[union-attr]


def _post_unsent_before(moment: datetime) -> ColumnElement[bool]:
    """The thread's post was unsent (取り消し) before ``moment``: an index probe, only for the
    few threads flagged as retracted."""
    unsent = (
        select(literal(1))
        .where(
            ThreadEvent.thread_id == Thread.id,
            ThreadEvent.kind == EventKind.RETRACTED,
            ThreadEvent.at < moment,
            _detail("response_id").is_(None),
            _detail("original_only").is_(None),
        )
        .exists()
    )
    return and_(Thread.retracted.is_not(false()), unsent)


def _counted_at(moment: datetime) -> ColumnElement[bool]:
    """Not unsent before ``moment`` (most threads never are: the flag settles it without a probe)."""
    return or_(Thread.retracted == false(), ~_post_unsent_before(moment))


def _of_period(network_id: int, period: Period) -> ColumnElement[bool]:
    return and_(
        Thread.network_id == network_id,
        Thread.posted_at >= period.start,
        Thread.posted_at < period.end,
        _counted_at(period.end),
    )


def monthly_report(session: Session, network: Network, period: Period) -> MonthlyReport:
    """The figures of ``period`` as they stood at its end (see the module's definitions)."""
    report = MonthlyReport(network.id, period)
    cohort = _of_period(network.id, period)
    standing = standing_at(session, cohort, period.end)
    report.received, categories, report.compound = standing.threads, standing.categories, standing.compound
    order = {name: index for index, name in enumerate(CATEGORIES)}
    report.by_category = sorted(
        ((c or NO_VALUE, n) for c, n in categories.items() if n), key=lambda r: order.get(r[0], 99)
    )
    areas = standing.areas
    # Every 地区 of the network, in its order, with 0 where nothing came; then names no longer
    # listed (renamed or merged since) and threads without one, by count.
    listed = area_names(session, network.id)
    rest = Counter({name: n for name, n in areas.items() if name not in listed})
    report.by_area = [(name, areas.get(name, 0)) for name in listed] + _by_count(rest, NO_AREA)
    in_period = and_(Thread.network_id == network.id, Thread.posted_at >= period.start, Thread.posted_at < period.end)
    report.retracted = session.scalar(select(func.count()).where(in_period, _post_unsent_before(period.end))) or 0
    outcomes, handovers, reasons, kinds = outcomes_recorded(session, network, period)
    report.referral_kinds = [(label, kinds[str(kind)]) for kind, label in REFERRAL_KIND_LABELS.items()]
    report.missing = missing_resources(session, network, period)
    report.outcomes = [(label, outcomes[str(o)]) for o, label in OUTCOME_LABELS.items()]
    report.handovers = _by_count(handovers, NO_VALUE)
    report.end_reasons = _by_count(reasons, NO_VALUE)
    report.connections, report.offers = responses_given(session, network, period)
    report.watches, report.watched = watching_given(session, network, period)
    report.overlap = overlap_count(session, network, cohort, period.end)
    report.first_response = first_response(session, cohort, period.end)
    report.first_response.unanswered = report.received - report.first_response.answered
    report.carried_over = carried_over(session, network, period)
    report.corrections = corrections(session, network, period)
    report.by_consent = standing.consent
    return report


def _last_event(where: list[ColumnElement[bool]], network_id: int | None = None):  # type: ignore[no-untyped-def]
    """Per thread, the id of its last event matching ``where`` (ids grow with time). With
    ``network_id`` the events are read by time first (ix_thread_events_kind_at) and joined to
    their threads, instead of probing every thread of the network."""
    query = select(ThreadEvent.thread_id.label("thread_id"), func.max(ThreadEvent.id).label("id"))
    if network_id is not None:
        query = query.where(_event_in(network_id))
    return query.where(*where).group_by(ThreadEvent.thread_id).subquery()


def _event_in(network_id: int) -> ColumnElement[bool]:
    """The event's thread is the network's: a primary-key probe per event, so the planner reads
    the events by (kind, at) (ix_thread_events_kind_at) instead of walking every thread (a join
    lets SQLite start from the threads)."""
    return select(literal(1)).where(Thread.id == ThreadEvent.thread_id, Thread.network_id == network_id).exists()


def _sets(key: str) -> ColumnElement[bool]:
    """The event set the thread's ``key`` (category, also or area): its POSTED event, or a
    CORRECTED one that changed it."""
    return or_(
        ThreadEvent.kind == EventKind.POSTED,
        and_(ThreadEvent.kind == EventKind.CORRECTED, _detail(("after", key)).is_not(None)),
    )


@dataclass
class Standing:
    """Threads of a cohort as they stood at a moment: 分野 (main and others), 地区, 本人同意."""

    threads: int = 0
    categories: Counter[str | None] = field(default_factory=Counter)
    compound: int = 0  # in two or more 分野 (複合)
    areas: Counter[str | None] = field(default_factory=Counter)
    consent: list[tuple[str, int]] = field(default_factory=list)  # あり, なし, 未確認


def standing_at(session: Session, cohort: ColumnElement[bool], moment: datetime) -> Standing:
    """Threads of ``cohort`` counted by their 分野 (each one they had: the main one and the others,
    models.categories), 地区 and 本人同意 as they stood at ``moment``.

    Each value is the one set by the thread's last event before ``moment`` that set it: the POSTED
    event or a CORRECTED one (the thread row's own 分野 or 地区 when the timeline has none, as for
    rows imported without one); 本人同意 from the last CONSENT event (未確認 when none). The four
    "last events" come from one pass over the cohort's events (a conditional MAX(id) per value,
    ids growing with time), and one GROUP BY over the few dozen combinations, expanded here.
    """

    def last_id(condition: ColumnElement[bool], label: str):  # type: ignore[no-untyped-def]
        return func.max(case((condition, ThreadEvent.id))).label(label)

    last = (
        select(
            ThreadEvent.thread_id.label("thread_id"),
            last_id(_sets("category"), "category"),
            last_id(_sets("also"), "also"),
            last_id(_sets("area"), "area"),
            last_id(ThreadEvent.kind == EventKind.CONSENT, "consent"),
        )
        .where(
            ThreadEvent.thread_id.in_(select(Thread.id).where(cohort)),
            ThreadEvent.at < moment,
            ThreadEvent.kind.in_((EventKind.POSTED, EventKind.CORRECTED, EventKind.CONSENT)),
        )
        .group_by(ThreadEvent.thread_id)
        .subquery()
    )
    cat, also, area, consent = (aliased(ThreadEvent) for _ in range(4))

    def stood(event: Any, key: str, column: Any) -> ColumnElement[Any]:
        # A POSTED event carries the value itself; a CORRECTED one under "after".
        return case(
            (event.id.is_(None), column),
            else_=func.coalesce(_detail(key, event), _detail(("after", key), event)),
        )

    others = case(
        (also.kind == EventKind.POSTED, _detail("also", also)),  # type: ignore[arg-type]
        else_=_detail(("after", "also"), also),  # type: ignore[arg-type]
    )
    main, place, agreed = (
        stood(cat, "category", Thread.category),
        stood(area, "area", Thread.area),
        _detail("consent", consent),
    )  # type: ignore[arg-type]
    rows = session.execute(
        select(main, others, place, agreed, func.count())
        .select_from(Thread)
        .outerjoin(last, last.c.thread_id == Thread.id)
        .outerjoin(cat, cat.id == last.c.category)
        .outerjoin(also, also.id == last.c.also)
        .outerjoin(area, area.id == last.c.area)
        .outerjoin(consent, consent.id == last.c.consent)
        .where(cohort)
        .group_by(main, others, place, agreed)
    ).all()
    result = Standing()
    consents: Counter[str] = Counter()
    known = {str(c) for c in Consent}
    for first, extra, where, agreement, n in rows:
        names = [first, *(c for c in (json.loads(extra) if extra else []) if c != first)]
        result.threads += n
        result.compound += n if len(set(names)) >= 2 else 0
        for name in dict.fromkeys(names):
            result.categories[name] += n
        result.areas[where] += n
        consents[agreement if agreement in known else str(Consent.UNKNOWN)] += n
    result.consent = [(label, consents[str(value)]) for value, label in CONSENT_LABELS.items()]
    return result


def _closing(event: type[ThreadEvent] | ThreadEvent) -> ColumnElement[bool]:
    """The event left its thread closed: an outcome other than 伴走."""
    return and_(
        event.kind == EventKind.OUTCOME,  # type: ignore[arg-type]
        _detail("outcome", event) != str(Outcome.ACCOMPANYING),  # type: ignore[arg-type]
    )


def carried_over(session: Session, network: Network, period: Period) -> int:
    """Open at the period's end as the timeline says: the last POSTED, OUTCOME or REOPENED event
    before the end left the thread open.

    Only two kinds of thread can have been open then: those open now, and those whose state
    changed since (an event at or after the end). Both sets are index ranges (the open threads;
    the events since the end), so a recent month reads only a few rows, not every thread ever.
    """
    since = (
        select(ThreadEvent.thread_id)
        # No DISTINCT: IN dedups, and DISTINCT makes SQLite walk every event in thread order.
        .where(_event_in(network.id), ThreadEvent.at >= period.end, ThreadEvent.kind.in_(STATE_KINDS))
    )
    # Open now and unchanged since the end: open at the end too, no event to read.
    unchanged = session.scalar(
        select(func.count()).where(
            Thread.network_id == network.id,
            Thread.state == ThreadState.OPEN,
            Thread.posted_at < period.end,
            _counted_at(period.end),
            Thread.id.not_in(since),
        )
    )
    # Changed since the end (few, for a recent period): how the timeline left them at the end.
    last = _last_event(
        [ThreadEvent.thread_id.in_(since), ThreadEvent.at < period.end, ThreadEvent.kind.in_(STATE_KINDS)]
    )
    event = aliased(ThreadEvent)
    then_open = session.scalar(
        select(func.count())
        .select_from(Thread)
        .where(Thread.id.in_(since))
        .outerjoin(last, last.c.thread_id == Thread.id)
        .outerjoin(event, event.id == last.c.id)
        .where(
            Thread.posted_at < period.end,
            _counted_at(period.end),
            or_(event.id.is_(None), ~_closing(event)),
        )
    )
    return (unchanged or 0) + (then_open or 0)


def _changes_in(network: Network, period: Period):  # type: ignore[no-untyped-def]
    """Per thread, its last OUTCOME or REOPENED event in the period, and its last state event
    before the period: where it ended up, and where it started from."""
    within = _last_event(
        [
            ThreadEvent.at >= period.start,
            ThreadEvent.at < period.end,
            ThreadEvent.kind.in_((EventKind.OUTCOME, EventKind.REOPENED)),
        ],
        network.id,
    )
    before = _last_event(
        [
            ThreadEvent.thread_id.in_(select(within.c.thread_id)),
            ThreadEvent.at < period.start,
            ThreadEvent.kind.in_(STATE_KINDS),
        ]
    )
    return within, before


def outcomes_recorded(
    session: Session, network: Network, period: Period
) -> tuple[Counter[str | None], Counter[str | None], Counter[str | None], Counter[str]]:
    """Outcomes, つなぎ先, 終了 reasons and kinds of つなぎ recorded in the period (as they stood at
    its end), for threads that were not closed when the period began. One GROUP BY."""
    within, before = _changes_in(network, period)
    end, start = aliased(ThreadEvent), aliased(ThreadEvent)
    outcome, referred, reason = _detail("outcome", end), _detail("referred_to", end), _detail("end_reason", end)  # type: ignore[arg-type]
    kind = _detail("referral_kind", end)  # type: ignore[arg-type]
    rows = session.execute(
        select(outcome, referred, reason, kind, func.count())
        .select_from(within)
        .join(end, end.id == within.c.id)
        .join(Thread, Thread.id == within.c.thread_id)
        .outerjoin(before, before.c.thread_id == within.c.thread_id)
        .outerjoin(start, start.id == before.c.id)
        .where(
            end.kind == EventKind.OUTCOME,
            _counted_at(period.end),
            or_(start.id.is_(None), ~_closing(start)),
        )
        .group_by(outcome, referred, reason, kind)
    ).all()
    outcomes, handovers, reasons, kinds = Counter(), Counter(), Counter(), Counter()  # type: ignore[var-annotated]
    for value, referred_to, end_reason, referral_kind, count in rows:
        outcomes[value] += count
        if value == Outcome.REFERRED:
            handovers[referred_to] += count
            kinds[referral_kind or str(ReferralKind.FORMAL)] += count  # recorded before kinds: formal
        if value == Outcome.ENDED:
            reasons[end_reason] += count
    return outcomes, handovers, reasons, kinds


def missing_resources(session: Session, network: Network, period: Period) -> list[tuple[str, int]]:
    """足りなかった資源 recorded in the period, most often first (threads counted once per resource)."""
    resource = _detail("resource")
    rows = session.execute(
        select(resource, func.count(distinct(ThreadEvent.thread_id)))
        .join(Thread, Thread.id == ThreadEvent.thread_id)
        .where(
            Thread.network_id == network.id,
            ThreadEvent.kind == EventKind.MISSING,
            ThreadEvent.at >= period.start,
            ThreadEvent.at < period.end,
        )
        .group_by(resource)
    ).all()
    return _by_count(Counter(dict(rows)), NO_VALUE)


def _outcome_label(value: str | None) -> str:
    try:
        return OUTCOME_LABELS[Outcome(value)]
    except ValueError:
        return value or "-"


def corrections(session: Session, network: Network, period: Period) -> list[Correction]:
    """Changes made in the period to what an earlier period recorded: 分野 or 地区 of a thread
    posted before it, the outcome of a thread already closed when it began (changed or 再開),
    and posts of earlier periods unsent in it. Few rows: listed one by one."""
    found: list[Correction] = []
    earlier = and_(Thread.network_id == network.id, Thread.posted_at < period.start)
    rows = session.execute(
        select(ThreadEvent.at, Thread.number, ThreadEvent.kind, ThreadEvent.detail)
        .join(Thread, Thread.id == ThreadEvent.thread_id)
        .where(
            earlier,
            ThreadEvent.at >= period.start,
            ThreadEvent.at < period.end,
            or_(
                ThreadEvent.kind == EventKind.CORRECTED,
                and_(
                    ThreadEvent.kind == EventKind.RETRACTED,
                    _detail("response_id").is_(None),
                    _detail("original_only").is_(None),
                ),
            ),
        )
        .order_by(ThreadEvent.at, ThreadEvent.id)
    ).all()
    labels = {"category": "分野", "area": "地区"}
    for at, number, kind, detail in rows:
        if kind == EventKind.RETRACTED:
            found.append(Correction(at, number, "取り消し", "受付", "集計外"))
            continue
        for key, label in labels.items():
            if key in (detail.get("after") or {}):
                before = (detail.get("before") or {}).get(key)
                found.append(Correction(at, number, label, before or "-", detail["after"][key] or "-"))
    # Outcomes: threads closed when the period began whose state changed in it.
    within, before = _changes_in(network, period)
    end, start = aliased(ThreadEvent), aliased(ThreadEvent)
    changed = session.execute(
        select(end.at, Thread.number, end.kind, _detail("outcome", end), _detail("outcome", start))  # type: ignore[arg-type]
        .select_from(within)
        .join(end, end.id == within.c.id)
        .join(Thread, Thread.id == within.c.thread_id)
        .join(before, before.c.thread_id == within.c.thread_id)
        .join(start, start.id == before.c.id)
        .where(_closing(start))
    ).all()
    for at, number, kind, after, was in changed:
        what, now_label = ("再開", "受付中") if kind == EventKind.REOPENED else ("結果", _outcome_label(after))
        if kind == EventKind.OUTCOME and after == was:
            continue  # recorded again as it was (a reason added): nothing changed
        found.append(Correction(at, number, what, _outcome_label(was), now_label))
    return sorted(found, key=lambda c: (c.at, c.number))


def _by_count(counts: Counter[str | None], missing: str) -> list[tuple[str, int]]:
    return sorted(((key or missing, n) for key, n in counts.items() if n), key=lambda r: (-r[1], r[0]))


def _given_in(network: Network, period: Period) -> tuple[Any, ...]:
    """Responses given in the period to this network's threads (of any month) still counted then."""
    return (
        Thread.network_id == network.id,
        _counted_at(period.end),
        Response.created_at >= period.start,
        Response.created_at < period.end,
    )


def responses_given(session: Session, network: Network, period: Period) -> tuple[int, int]:
    """伝手 and offers given during the period, to threads of any month."""
    counts = dict(
        session.execute(
            select(Response.kind, func.count())
            .join(Thread, Thread.id == Response.thread_id)
            .where(*_given_in(network, period), Response.kind.in_((ResponseKind.CONNECTION, ResponseKind.OFFER)))
            .group_by(Response.kind)
        ).all()
    )
    return counts.get(ResponseKind.CONNECTION, 0), counts.get(ResponseKind.OFFER, 0)


def watching_given(session: Session, network: Network, period: Period) -> tuple[int, int]:
    """見守り (004's 見守り訪問活動件数): 気にかけています given in the period, and to how many threads."""
    watches, threads = session.execute(
        select(func.count(), func.count(distinct(Response.thread_id)))
        .join(Thread, Thread.id == Response.thread_id)
        .where(*_given_in(network, period), Response.kind == ResponseKind.WATCH)
    ).one()
    return watches or 0, threads or 0


def overlap_count(session: Session, network: Network, cohort: ColumnElement[bool], until: datetime) -> int:
    """Threads where a formal and an informal organization both took part (poster or responder)
    before ``until``.

    The network's few organizations are split by kind first, so each test is an index probe
    (``organization_id IN (...)``) instead of a join per response.
    """
    kinds = session.execute(select(Organization.id, Organization.kind).where(Organization.network_id == network.id))
    by_kind: dict[str, list[int]] = {OrgKind.FORMAL: [], OrgKind.INFORMAL: []}
    # An organization whose kind was changed counts as what it was when it took part (issue 18):
    # changing it later does not rewrite past figures. Its periods of each kind, from its changes.
    periods = kind_periods(session, network)
    for org_id, kind in kinds:
        if org_id not in periods:
            by_kind.setdefault(kind, []).append(org_id)

    def has(kind: str) -> bool:
        return bool(by_kind[kind]) or any(k == kind for spans in periods.values() for _, _, k in spans)

    if not has(OrgKind.FORMAL) or not has(OrgKind.INFORMAL):
        return 0

    def took_part(kind: str) -> ColumnElement[bool]:
        ids = by_kind[kind]
        posted: list[ColumnElement[bool]] = [Thread.organization_id.in_(ids)]
        gave: list[ColumnElement[bool]] = [Response.organization_id.in_(ids)]
        for org_id, spans in periods.items():
            for start, end, span_kind in spans:
                if span_kind == kind:
                    posted.append(_during(Thread.organization_id, Thread.posted_at, org_id, start, end))
                    gave.append(_during(Response.organization_id, Response.created_at, org_id, start, end))
        # OFFSET 0 keeps PostgreSQL probing the index once per thread of the month: without
        # it the planner may turn EXISTS into a hash of every response of the network
        # (measured 4x slower). SQLite probes per thread either way.
        answered = (
            select(literal(1))
            .where(
                Response.thread_id == Thread.id,
                Response.kind.in_(PARTICIPATING),
                or_(*gave),
                Response.created_at < until,
            )
            .offset(0)
            .exists()
        )
        return or_(*posted, answered)

    both = and_(cohort, took_part(OrgKind.FORMAL), took_part(OrgKind.INFORMAL))
    return session.scalar(select(func.count()).select_from(Thread).where(both)) or 0


Span = tuple[datetime | None, datetime | None, str]  # from (None: always), until (None: now), kind


def kind_periods(session: Session, network: Network) -> dict[int, list[Span]]:
    """For each organization of the network whose kind was ever changed: its kinds over time."""
    changes = session.execute(
        select(
            OrganizationChange.organization_id,
            OrganizationChange.at,
            OrganizationChange.kind_before,
            OrganizationChange.kind_after,
        )
        .join(Organization, Organization.id == OrganizationChange.organization_id)
        .where(Organization.network_id == network.id)
        .order_by(OrganizationChange.organization_id, OrganizationChange.at, OrganizationChange.id)
    ).all()
    periods: dict[int, list[Span]] = {}
    for org_id, at, before, after in changes:
        spans = periods.setdefault(org_id, [])
        start = spans[-1][0] if spans else None
        if spans:
            spans.pop()  # the open span "since the last change" ends here
        spans.append((start, at, before))
        spans.append((at, None, after))
    return periods


def _during(org_column: Any, time_column: Any, org_id: int, start: datetime | None, end: datetime | None) -> Any:
    conditions = [org_column == org_id]
    if start is not None:
        conditions.append(time_column >= start)
    if end is not None:
        conditions.append(time_column < end)
    return and_(*conditions)


def _seconds_to_first_response(session: Session) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Thread.first_response_at - Thread.posted_at)
    # SQLite: julianday() is in days, as a double (sub-millisecond precision for these dates).
    return (func.julianday(Thread.first_response_at) - func.julianday(Thread.posted_at)) * 86400.0


def first_response(session: Session, cohort: ColumnElement[bool], until: datetime) -> FirstResponse:
    """Median and 90th percentile (linear interpolation, as PostgreSQL's percentile_cont) of the
    first responses given before ``until``."""
    seconds = _seconds_to_first_response(session)
    answered = and_(cohort, Thread.first_response_at < until)
    result = FirstResponse(answered=session.scalar(select(func.count()).where(answered)) or 0)
    if result.answered == 0:
        return result
    if session.get_bind().dialect.name == "postgresql":
        median, p90 = session.execute(
            select(
                func.percentile_cont(0.5).within_group(seconds), func.percentile_cont(0.9).within_group(seconds)
            ).where(answered)
        ).one()
    else:
        ordered = select(seconds).where(answered).order_by(seconds)
        median = _sqlite_percentile(session, ordered, result.answered, 0.5)
        p90 = _sqlite_percentile(session, ordered, result.answered, 0.9)
    result.median_hours = round(float(median) / 3600, 1)
    result.p90_hours = round(float(p90) / 3600, 1)
    return result


def _sqlite_percentile(session: Session, ordered: Select[tuple[float]], count: int, fraction: float) -> float:
    """Read only the one or two rows around the position: ORDER BY ... LIMIT 2 OFFSET k."""
    position = fraction * (count - 1)
    below = int(position)
    values = [float(v) for v in session.scalars(ordered.limit(2).offset(below))]
    if len(values) == 1 or position == below:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - below)


# --- the 重なり map and the organizations page ---------------------------------------------


@dataclass(frozen=True)
class OrgNode:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class Edge:
    responder: OrgNode  # answered ...
    poster: OrgNode  # ... this organization's trouble
    threads: int


def overlap_edges(session: Session, network: Network, period: Period) -> list[Edge]:
    """Which organization answered whose troubles: distinct threads per (responder, poster),
    for responses given in the period; an organization answering its own thread is no overlap."""
    rows = session.execute(
        select(Response.organization_id, Thread.organization_id, func.count(distinct(Thread.id)))
        .join(Thread, Thread.id == Response.thread_id)
        .where(
            Thread.network_id == network.id,
            Thread.retracted == false(),
            Response.created_at >= period.start,
            Response.created_at < period.end,
            Response.kind.in_(PARTICIPATING),
            Response.organization_id.is_not(None),
            Thread.organization_id.is_not(None),
            Response.organization_id != Thread.organization_id,
        )
        .group_by(Response.organization_id, Thread.organization_id)
    ).all()
    nodes = {
        org.id: OrgNode(org.id, org.name, org.kind)
        for org in session.scalars(select(Organization).where(Organization.network_id == network.id))
    }
    edges = [Edge(nodes[r], nodes[p], n) for r, p, n in rows if r in nodes and p in nodes]
    return sorted(edges, key=lambda e: (-e.threads, e.responder.name, e.poster.name))


@dataclass(frozen=True)
class OrgStats:
    node: OrgNode
    members: int
    posted: int
    answered: int  # distinct threads it gave a 伝手 or an offer to


def organization_stats(session: Session, network: Network, period: Period | None = None) -> list[OrgStats]:
    """Per organization: members, threads posted and threads answered (all time, or in a period)."""
    posted_where = [Thread.network_id == network.id, Thread.retracted == false()]
    answered_where = [*posted_where, Response.kind.in_((ResponseKind.CONNECTION, ResponseKind.OFFER))]
    if period is not None:
        posted_where += [Thread.posted_at >= period.start, Thread.posted_at < period.end]
        answered_where += [Response.created_at >= period.start, Response.created_at < period.end]
    members = dict(
        session.execute(
            select(Member.organization_id, func.count())
            .where(Member.network_id == network.id, Member.organization_id.is_not(None))
            .group_by(Member.organization_id)
        ).all()
    )
    posted = dict(
        session.execute(
            select(Thread.organization_id, func.count()).where(*posted_where).group_by(Thread.organization_id)
        ).all()
    )
    answered = dict(
        session.execute(
            select(Response.organization_id, func.count(distinct(Response.thread_id)))
            .join(Thread, Thread.id == Response.thread_id)
            .where(*answered_where)
            .group_by(Response.organization_id)
        ).all()
    )
    orgs = session.scalars(
        select(Organization).where(Organization.network_id == network.id).order_by(Organization.name)
    )
    return [
        OrgStats(OrgNode(o.id, o.name, o.kind), members.get(o.id, 0), posted.get(o.id, 0), answered.get(o.id, 0))
        for o in orgs
    ]
