"""The monthly report (月報) page and its exports, and the 重なり map."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from sqlalchemy import func, select

from bot.web.dashboard import charts, exports, overlap_map
from bot.web.dashboard.threads import send_export
from bot.web.dashboard.web import bp, db, local, network_or_404, now
from models import Network, Thread
from models.network import OrgKind
from models.report import (
    Edge,
    MonthlyReport,
    Period,
    month_period,
    monthly_report,
    months_period,
    overlap_edges,
    parse_month,
    previous_month,
)

KIND_LABELS = {OrgKind.FORMAL: "フォーマル", OrgKind.INFORMAL: "インフォーマル"}
REPORT_COLUMNS = ("表", "項目", "値")
EDGE_COLUMNS = ("答えた団体", "種類", "困りごとを出した団体", "種類", "困りごとの数")
CORRECTION_COLUMNS = ("日時", "番号", "項目", "訂正前", "訂正後")


def _last_month(network: Network) -> tuple[int, int]:
    today = now().astimezone(ZoneInfo(network.timezone or "Asia/Tokyo"))
    return previous_month(today.year, today.month)


def _month_arg(network: Network, name: str = "month") -> tuple[int, int]:
    return parse_month(request.args.get(name, "")) or _default_month(network)


def _default_month(network: Network) -> tuple[int, int]:
    """Last month, or the network's first month when it is newer than that (created this month)."""
    return max(_last_month(network), _first_month(network))


def _first_month(network: Network) -> tuple[int, int]:
    """The network's first month: when it was created, or its oldest thread if older (imported, demo)."""
    oldest = db().scalar(select(func.min(Thread.posted_at)).where(Thread.network_id == network.id))
    first = min(network.created_at, oldest) if oldest is not None else network.created_at
    local = first.astimezone(ZoneInfo(network.timezone or "Asia/Tokyo"))
    return local.year, local.month


def _month_options(network: Network, count: int = 24) -> list[str]:
    """Months to choose from, newest first, back to the network's first month (at most ``count``)."""
    year, month = _default_month(network)
    first = _first_month(network)
    options = []
    for _ in range(count):
        options.append(f"{year:04d}-{month:02d}")
        if (year, month) <= first:
            break
        year, month = previous_month(year, month)
    return options


def edge_rows(edges: list[Edge]) -> list[tuple[Any, ...]]:
    return [
        (
            e.responder.name,
            KIND_LABELS.get(OrgKind(e.responder.kind), e.responder.kind),
            e.poster.name,
            KIND_LABELS.get(OrgKind(e.poster.kind), e.poster.kind),
            e.threads,
        )
        for e in edges
    ]


def correction_rows(report: MonthlyReport, network: Network) -> list[tuple[Any, ...]]:
    return [(local(c.at, network), f"#{c.number}", c.what, c.before, c.after) for c in report.corrections]


def report_sheets(report: MonthlyReport, edges: list[Edge], network: Network) -> list[exports.Sheet]:
    """One sheet per table of the report (Excel users filter and chart each one)."""
    tables: dict[str, list[tuple[str, Any]]] = {}
    for table, item, value in exports.report_rows(report):
        tables.setdefault(table, []).append((item, value))
    sheets = [exports.Sheet(name, ("項目", "値"), rows) for name, rows in tables.items()]
    sheets.append(exports.Sheet("重なり（団体間）", EDGE_COLUMNS, edge_rows(edges)))
    sheets.append(exports.Sheet("前月以前の訂正", CORRECTION_COLUMNS, correction_rows(report, network)))
    return sheets


@bp.get("/n/<int:network_id>/report")
def report(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    year, month = _month_arg(network)
    period = month_period(year, month, network.timezone or "Asia/Tokyo")
    figures = monthly_report(db(), network, period)
    edges = overlap_edges(db(), network, period)
    return render_template(
        "dashboard/report.html",
        network=network,
        report=figures,
        month=f"{year:04d}-{month:02d}",
        month_label=f"{year}年{month}月",
        months=_month_options(network),
        edges=edge_rows(edges),
        due=_due_label(year, month),
        local=lambda value: local(value, network),
        charts={
            "category": charts.bar_chart("c-category", "分野別の困りごと", figures.by_category),
            "area": charts.bar_chart("c-area", "地区別の困りごと", figures.by_area),
            "outcome": charts.bar_chart("c-outcome", "結果", figures.outcomes),
            "handover": charts.bar_chart("c-handover", "つなぎ先", figures.handovers),
        },
    )


def _due_label(year: int, month: int) -> str:
    due_year, due_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{due_year}年{due_month}月15日"


@bp.get("/n/<int:network_id>/report.<any(xlsx, csv):fmt>")
def report_export(network_id: int, fmt: str) -> Any:
    network, _ = network_or_404(network_id)
    year, month = _month_arg(network)
    period = month_period(year, month, network.timezone or "Asia/Tokyo")
    figures = monthly_report(db(), network, period)
    edges = overlap_edges(db(), network, period)
    name = f"kasane-report-{network.id}-{year:04d}-{month:02d}.{fmt}"
    if fmt == "csv":
        rows = [
            *exports.report_rows(figures),
            *(("重なり（団体間）", f"{r[0]} → {r[2]}", r[4]) for r in edge_rows(edges)),
        ]
        return send_export("csv", name, "月報", REPORT_COLUMNS, rows)
    sheets = report_sheets(figures, edges, network)
    return send_export("xlsx", name, sheets[0].title, sheets[0].columns, sheets[0].rows, sheets[1:])


@bp.get("/n/<int:network_id>/map")
def overlap(network_id: int) -> Any:
    network, _ = network_or_404(network_id)
    last = _default_month(network)
    first = parse_month(request.args.get("from", "")) or max(_months_back(last, 11), _first_month(network))
    until = parse_month(request.args.get("to", "")) or last
    if first > until:
        first, until = until, first
    period: Period = months_period(first, until, network.timezone or "Asia/Tokyo")
    edges = overlap_edges(db(), network, period)
    return render_template(
        "dashboard/map.html",
        network=network,
        period=period,
        first=f"{first[0]:04d}-{first[1]:02d}",
        until=f"{until[0]:04d}-{until[1]:02d}",
        months=_month_options(network, 60),
        edges=edge_rows(edges),
        view=overlap_map.overlap_map("c-map", f"重なりの図（{period.label}）", edges),
    )


def _months_back(month: tuple[int, int], count: int) -> tuple[int, int]:
    for _ in range(count):
        month = previous_month(*month)
    return month
