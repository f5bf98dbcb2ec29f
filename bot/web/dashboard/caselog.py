"""The case log: threads filtered and sorted for the list page, and the rows of its exports.

Filters become SQL conditions on indexed columns; the page reads one page of rows and one
GROUP BY for the counts, the exports stream rows (``yield_per``) so 200,000 threads never
sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from models import Network, Organization, Outcome, Thread, ThreadState
from models.casework import OUTCOME_LABELS
from models.report import month_period, parse_month

PER_PAGE = 50
STATE_LABELS = {ThreadState.OPEN: "受付中", ThreadState.CLOSED: "完了"}
NOT_FINISHED = "未完了"
ERASED_SUMMARY = "（保存期間を過ぎたため消去しました）"
RETRACTED_SUMMARY = "（投稿が取り消されました）"
EXPORT_COLUMNS = (
    "番号",
    "投稿日時",
    "投稿団体",
    "分野",
    "地区",
    "状態",
    "結果",
    "つなぎ先",
    "初回反応日時",
    "伝手数",
    "申し出数",
    "終了日時",
    "要約",
)
DATE_COLUMNS = {"投稿日時", "初回反応日時", "終了日時"}
SORTS = {
    "new": ("新しい順", (Thread.posted_at.desc(), Thread.id.desc())),
    "old": ("古い順", (Thread.posted_at.asc(), Thread.id.asc())),
    "closed": ("完了日の新しい順", (Thread.closed_at.desc().nulls_last(), Thread.id.desc())),
}


@dataclass
class ThreadFilter:
    state: str = ""
    outcome: str = ""  # an Outcome value, or "none" for 未完了
    category: str = ""
    area: str = ""
    organization: str = ""  # organization id, as typed in the query string
    month: str = ""  # YYYY-MM, posted in that month
    q: str = ""
    sort: str = "new"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ThreadFilter:
        values = {key: str(args.get(key, "")).strip()[:100] for key in ("state", "outcome", "category", "area", "q")}
        values["organization"] = (
            str(args.get("organization", "")).strip() if str(args.get("organization", "")).isdigit() else ""
        )
        values["month"] = str(args.get("month", "")).strip() if parse_month(str(args.get("month", ""))) else ""
        sort = str(args.get("sort", "new"))
        page = str(args.get("page", "1"))
        return cls(**values, sort=sort if sort in SORTS else "new", page=max(1, int(page)) if page.isdigit() else 1)

    def conditions(self, network: Network) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [Thread.network_id == network.id]
        if self.state in (ThreadState.OPEN, ThreadState.CLOSED):
            where.append(Thread.state == self.state)
        if self.outcome == "none":
            where.append(Thread.outcome.is_(None))
        elif self.outcome in {str(o) for o in Outcome}:
            where.append(Thread.outcome == self.outcome)
        if self.category:
            where.append(Thread.category == self.category)
        if self.area:
            where.append(Thread.area == self.area)
        if self.organization:
            where.append(Thread.organization_id == int(self.organization))
        parsed = parse_month(self.month) if self.month else None
        if parsed:
            period = month_period(*parsed, network.timezone or "Asia/Tokyo")
            where += [Thread.posted_at >= period.start, Thread.posted_at < period.end]
        if self.q:
            where.append(Thread.summary.icontains(self.q, autoescape=True))
        return where

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments of this filter (for links: pages, sorting, exports)."""
        values = {**asdict(self), **changes}
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


@dataclass
class ThreadPage:
    rows: list[tuple[Thread, str | None]]  # thread, poster organization's name
    total: int
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    page: int
    pages: int


def thread_page(session: Session, network: Network, filters: ThreadFilter, per_page: int | None = None) -> ThreadPage:
    per_page = per_page or PER_PAGE
    where = filters.conditions(network)
    # Counts by conditional aggregation: one pass over the covering index, no sort for a
    # GROUP BY (SQLite would sort all 200,000 entries first).
    outcomes = list(Outcome)
    counts = session.execute(
        select(
            func.count(),
            func.count(case((Thread.state == ThreadState.OPEN, 1))),
            func.count(case((Thread.outcome.is_(None), 1))),
            *[func.count(case((Thread.outcome == outcome, 1))) for outcome in outcomes],
        ).where(*where)
    ).one()
    by_state = {ThreadState.OPEN: counts[1], ThreadState.CLOSED: counts[0] - counts[1]}
    by_outcome = {str(outcome): counts[3 + i] for i, outcome in enumerate(outcomes)}
    by_outcome["none"] = counts[2]
    total = sum(by_state.values())
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    order = SORTS[filters.sort][1]
    # Deferred join: find the page's ids in the index, then read only those rows (a deep
    # page would otherwise read every skipped row of the table).
    ids = select(Thread.id).where(*where).order_by(*order).limit(per_page).offset((page - 1) * per_page).subquery()
    rows = session.execute(
        select(Thread, Organization.name)
        .join(ids, ids.c.id == Thread.id)
        .outerjoin(Organization, Organization.id == Thread.organization_id)
        .order_by(*order)
    ).all()
    return ThreadPage([(t, name) for t, name in rows], total, by_state, by_outcome, page, pages)


def summary_text(thread: Thread) -> str:
    if thread.erased_at is not None:
        return ERASED_SUMMARY
    if thread.retracted:
        return RETRACTED_SUMMARY
    return thread.summary or ""


def outcome_text(outcome: str | None) -> str:
    return OUTCOME_LABELS[Outcome(outcome)] if outcome else NOT_FINISHED


def export_rows(session: Session, network: Network, where: list[ColumnElement[bool]]) -> Iterator[tuple[Any, ...]]:
    """One tuple per thread in ``EXPORT_COLUMNS`` order; dates as naive local datetimes
    (Excel has no time zones: the network's own clock is what coordinators read)."""
    zone = ZoneInfo(network.timezone or "Asia/Tokyo")

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(zone).replace(tzinfo=None) if value else None

    query = (
        select(Thread, Organization.name)
        .outerjoin(Organization, Organization.id == Thread.organization_id)
        .where(*where)
        .order_by(Thread.number)
        .execution_options(yield_per=2000)
    )
    for thread, org_name in session.execute(query):
        yield (
            thread.number,
            local(thread.posted_at),
            org_name or "",
            thread.category,
            thread.area or "",
            STATE_LABELS.get(ThreadState(thread.state), thread.state),
            outcome_text(thread.outcome),
            thread.referred_to or "",
            local(thread.first_response_at),
            thread.connection_count,
            thread.offer_count,
            local(thread.closed_at),
            summary_text(thread),
        )


def count_rows(session: Session, where: list[ColumnElement[bool]]) -> int:
    return session.scalar(select(func.count()).select_from(Thread).where(*where)) or 0
