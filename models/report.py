"""The monthly figures (月報) and the 重なり map, computed by SQL aggregation.

Pure query functions: the dashboard pages, the CLI and the monthly push all use them.
Every figure is a GROUP BY or a count on indexed columns, never a loop over threads: a
network with 200,000 threads must still answer in milliseconds. Retention erases text only,
so every figure here still adds up for erased threads.

Definitions (also printed on the report page):
- a thread *of the month* was posted in that month (network's time zone); threads whose
  post was unsent (retracted) are left out of every figure;
- outcomes, つなぎ先, 終了 reasons, overlap and time to first response describe the threads
  of the month as they stand now; 伝手 and offers count responses given during the month;
- carried over: posted before the month ended and not closed by then.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, distinct, false, func, literal, or_, select
from sqlalchemy.orm import Session

from models.casework import OUTCOME_LABELS
from models.network import Member, Network, Organization, OrganizationChange, OrgKind
from models.thread import CATEGORIES, Outcome, Response, ResponseKind, Thread

NOT_FINISHED = "未完了"
NO_AREA = "（地区なし）"
NO_VALUE = "（記録なし）"
# Responses that count as taking part in a thread (watching does not).
PARTICIPATING = (ResponseKind.CONNECTION, ResponseKind.OFFER, ResponseKind.COMMENT)
MONTH = re.compile(r"(\d{4})-(\d{2})")


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


@dataclass
class FirstResponse:
    answered: int = 0  # threads of the month with a first 伝手 or offer
    unanswered: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None


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


def _of_period(network_id: int, period: Period) -> ColumnElement[bool]:
    return and_(
        Thread.network_id == network_id,
        Thread.posted_at >= period.start,
        Thread.posted_at < period.end,
        Thread.retracted == false(),
    )


def monthly_report(session: Session, network: Network, period: Period) -> MonthlyReport:
    report = MonthlyReport(network.id, period)
    cohort = _of_period(network.id, period)
    # One pass over the month's threads (an index range scan, covered by ix_threads_caselog):
    # every breakdown comes from one GROUP BY; Python only adds up its few hundred groups.
    groups = session.execute(
        select(Thread.category, Thread.area, Thread.outcome, Thread.referred_to, Thread.end_reason, func.count())
        .where(cohort)
        .group_by(Thread.category, Thread.area, Thread.outcome, Thread.referred_to, Thread.end_reason)
    ).all()
    categories, areas, outcomes, handovers, reasons = Counter(), Counter(), Counter(), Counter(), Counter()
    for category, area, outcome, referred_to, end_reason, count in groups:
        categories[category] += count
        areas[area] += count
        outcomes[outcome] += count
        if outcome == Outcome.REFERRED:
            handovers[referred_to] += count
        if outcome == Outcome.ENDED:
            reasons[end_reason] += count
    report.received = sum(categories.values())
    order = {name: index for index, name in enumerate(CATEGORIES)}
    report.by_category = sorted(((c or NO_VALUE, n) for c, n in categories.items()), key=lambda r: order.get(r[0], 99))
    report.by_area = _by_count(areas, NO_AREA)
    report.outcomes = [(label, outcomes[str(o)]) for o, label in OUTCOME_LABELS.items()] + [
        (NOT_FINISHED, outcomes[None])
    ]
    report.handovers = _by_count(handovers, NO_VALUE)
    report.end_reasons = _by_count(reasons, NO_VALUE)
    in_month = and_(Thread.network_id == network.id, Thread.posted_at >= period.start, Thread.posted_at < period.end)
    report.retracted = session.scalar(select(func.count()).where(in_month, Thread.retracted.is_not(false()))) or 0
    report.connections, report.offers = responses_given(session, network, period)
    report.overlap = overlap_count(session, network, cohort)
    report.first_response = first_response(session, cohort)
    report.first_response.unanswered = report.received - report.first_response.answered
    report.carried_over = carried_over(session, network, period)
    return report


def carried_over(session: Session, network: Network, period: Period) -> int:
    """Posted before the period ended and not closed by then: still open now, or closed later.

    Two counts on ix_threads_closed_caselog, each a range of closing dates, so a recent month
    (the usual 月報) reads only the open threads, not every thread ever posted.
    """
    total = 0
    for still_open in (Thread.closed_at.is_(None), Thread.closed_at >= period.end):
        total += (
            session.scalar(
                select(func.count()).where(
                    Thread.network_id == network.id,
                    still_open,
                    Thread.retracted == false(),
                    Thread.posted_at < period.end,
                )
            )
            or 0
        )
    return total


def _by_count(counts: Counter[str | None], missing: str) -> list[tuple[str, int]]:
    return sorted(((key or missing, n) for key, n in counts.items() if n), key=lambda r: (-r[1], r[0]))


def responses_given(session: Session, network: Network, period: Period) -> tuple[int, int]:
    """伝手 and offers given during the period, to threads of any month."""
    counts = dict(
        session.execute(
            select(Response.kind, func.count())
            .join(Thread, Thread.id == Response.thread_id)
            .where(
                Thread.network_id == network.id,
                Thread.retracted == false(),
                Response.created_at >= period.start,
                Response.created_at < period.end,
                Response.kind.in_((ResponseKind.CONNECTION, ResponseKind.OFFER)),
            )
            .group_by(Response.kind)
        ).all()
    )
    return counts.get(ResponseKind.CONNECTION, 0), counts.get(ResponseKind.OFFER, 0)


def overlap_count(session: Session, network: Network, cohort: ColumnElement[bool]) -> int:
    """Threads where a formal and an informal organization both took part (poster or responder).

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
            .where(Response.thread_id == Thread.id, Response.kind.in_(PARTICIPATING), or_(*gave))
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


def first_response(session: Session, cohort: ColumnElement[bool]) -> FirstResponse:
    """Median and 90th percentile (linear interpolation, as PostgreSQL's percentile_cont)."""
    seconds = _seconds_to_first_response(session)
    answered = and_(cohort, Thread.first_response_at.is_not(None))
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
