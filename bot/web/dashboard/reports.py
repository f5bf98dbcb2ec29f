"""The report page (月報, 年度 and any period) and its files, and the 重なり map."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select

from bot.web.dashboard import charts, exports, overlap_map, report_files
from bot.web.dashboard.report_files import edge_rows
from bot.web.dashboard.threads import send_export
from bot.web.dashboard.web import bp, db, local, network_or_404, now, runtime
from models import Network, Thread
from models.report import (
    Period,
    date_period,
    fiscal_year_of,
    fiscal_year_period,
    month_period,
    months_period,
    overlap_edges,
    parse_month,
    previous_month,
)
from models.submission import submit, submitted_copy, submitted_for

REPORT_COLUMNS = ("表", "項目", "値")
PDF_MIME = "application/pdf"


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
    local_first = first.astimezone(ZoneInfo(network.timezone or "Asia/Tokyo"))
    return local_first.year, local_first.month


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


def _fiscal_options(network: Network) -> list[int]:
    """年度 to choose from, newest (this one) first, back to the network's first."""
    tz = ZoneInfo(network.timezone or "Asia/Tokyo")
    newest = fiscal_year_of(now().astimezone(tz))
    year, month = _first_month(network)
    oldest = year if month >= 4 else year - 1
    return list(range(newest, min(oldest, newest) - 1, -1))


def _contract() -> tuple[date, date] | None:
    first, last = (runtime().config.day("report", key) for key in ("contract_start", "contract_end"))
    return (first, last) if first and last and first <= last else None


@dataclass(frozen=True)
class Chosen:
    """The period a request asks for, and the query arguments that ask for it again."""

    period: Period
    kind: str  # month | fiscal | range
    args: dict[str, str]


def chosen_period(network: Network) -> Chosen:
    """?month=YYYY-MM (the default: last month), ?fy=YYYY (年度), ?from=…&to=… (days), or
    ?period=contract ([report] contract_start/contract_end). A malformed value is a 400."""
    tz = network.timezone or "Asia/Tokyo"
    if request.args.get("period") == "contract":
        contract = _contract()
        if contract is None:
            abort(400, "契約期間が設定されていません（設定ファイルの [report]）。")
        return Chosen(date_period(*contract, tz), "range", {"period": "contract"})
    if "fy" in request.args:
        text = request.args["fy"]
        if not (text.isdigit() and 2000 <= int(text) <= 2999):
            abort(400, "年度は 2026 のように数字で指定してください。")
        return Chosen(fiscal_year_period(int(text), tz), "fiscal", {"fy": text})
    if "from" in request.args or "to" in request.args:
        try:
            first = date.fromisoformat(request.args.get("from", ""))
            last = date.fromisoformat(request.args.get("to", ""))
        except ValueError:
            abort(400, "期間は 2026-04-01 のような日付で指定してください。")
        if first > last or last - first > timedelta(days=366 * 5):
            abort(400, "期間の始まりと終わりを確かめてください（5年まで）。")
        return Chosen(date_period(first, last, tz), "range", {"from": first.isoformat(), "to": last.isoformat()})
    year, month = _month_arg(network)
    text = f"{year:04d}-{month:02d}"
    return Chosen(month_period(year, month, tz), "month", {"month": text})


def build_document(network: Network, chosen: Chosen) -> report_files.ReportDocument:
    due = runtime().config.day("report", "final_report_due")
    return report_files.build(db(), network, chosen.period, chosen.kind, now(), due)


@bp.get("/n/<int:network_id>/report")
def report(network_id: int) -> Any:
    network, member = network_or_404(network_id)
    chosen = chosen_period(network)
    doc = build_document(network, chosen)
    figures = doc.figures
    return render_template(
        "dashboard/report.html",
        network=network,
        doc=doc,
        report=figures,
        chosen=chosen,
        month=chosen.args.get("month", ""),
        months=_month_options(network),
        fiscal_years=_fiscal_options(network),
        contract=_contract(),
        edges=edge_rows(doc.edges),
        due=doc.due,
        month_columns=report_files.MONTH_COLUMNS,
        month_rows=report_files.month_rows(doc) if len(doc.months) > 1 else [],
        meeting_rows=report_files.meeting_rows(doc),
        local=lambda value: local(value, network),
        submitted=_submitted_view(network, chosen, doc),
        submit_url=url_for("dashboard.report_submit", network_id=network.id, **chosen.args),
        saved=request.args.get("saved", ""),
        ended=now() >= chosen.period.end,
        export_url=lambda fmt: url_for("dashboard.report_export", network_id=network.id, fmt=fmt, **chosen.args),
        charts={
            "category": charts.bar_chart("c-category", "分野別の困りごと", figures.by_category),
            "area": charts.bar_chart("c-area", "地区別の困りごと", figures.by_area),
            "outcome": charts.bar_chart("c-outcome", "結果", figures.outcomes),
            "handover": charts.bar_chart("c-handover", "つなぎ先", figures.handovers),
        },
    )


def handed_in_overview(xlsx: bytes) -> dict[str, Any]:
    """The 概要 sheet of a submitted workbook, read back from the stored file itself."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    try:
        return {row[0]: row[1] for row in book["概要"].iter_rows(min_row=2, values_only=True) if row and row[0]}
    finally:
        book.close()


def _submitted_view(network: Network, chosen: Chosen, doc: report_files.ReportDocument) -> dict[str, Any]:
    copies = submitted_for(db(), network.id, chosen.period)
    comparison: list[tuple[str, Any, Any]] = []
    if copies:
        handed = handed_in_overview(copies[0].xlsx)  # the newest copy's file (loaded only now)
        today = {item: value for table, item, value in exports.report_rows(doc.figures) if table == "概要"}
        comparison = [(item, handed.get(item), value) for item, value in today.items()]
    return {"copies": copies, "comparison": comparison}


@bp.post("/n/<int:network_id>/report/submit")
def report_submit(network_id: int) -> Any:
    """提出済みにする: keep the PDF and Excel exactly as they are handed in, with who and when."""
    network, member = network_or_404(network_id)
    chosen = chosen_period(network)
    if now() < chosen.period.end:
        # Its figures would still move: only an ended period is handed in.
        abort(400, "期間が終わってから提出済みにできます。")
    doc = build_document(network, chosen)
    label = f"{doc.title} {doc.period_text}"
    submit(
        db(), network.id, chosen.period, label, member, now(), report_files.xlsx_bytes(doc), report_files.pdf_bytes(doc)
    )
    db().commit()
    target = url_for("dashboard.report", network_id=network.id, saved="submitted", **chosen.args)
    return redirect(target + "#submitted-title")


@bp.get("/n/<int:network_id>/submitted/<int:submission_id>.<any(xlsx, pdf):fmt>")
def submitted_file(network_id: int, submission_id: int, fmt: str) -> Any:
    """A submitted copy, byte for byte as it was handed in."""
    network, _ = network_or_404(network_id)
    copy = submitted_copy(db(), network.id, submission_id)
    if copy is None:
        abort(404)
    data, mime = (copy.pdf, PDF_MIME) if fmt == "pdf" else (copy.xlsx, exports.XLSX_MIME)
    stamp = local(copy.submitted_at, network, "%Y%m%d-%H%M")
    name = f"kasane-submitted-{network.id}-{copy.id}-{stamp}.{fmt}"
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name)


@bp.get("/n/<int:network_id>/report.<any(xlsx, csv, pdf):fmt>")
def report_export(network_id: int, fmt: str) -> Any:
    network, _ = network_or_404(network_id)
    chosen = chosen_period(network)
    doc = build_document(network, chosen)
    name = f"{doc.file_stem}.{fmt}"
    if fmt == "csv":
        rows = [
            *exports.report_rows(doc.figures),
            *(("重なり（団体間）", f"{r[0]} → {r[2]}", r[4]) for r in edge_rows(doc.edges)),
        ]
        return send_export("csv", name, "月報", REPORT_COLUMNS, rows)
    if fmt == "pdf":
        data, mime = report_files.pdf_bytes(doc), PDF_MIME
    else:
        data, mime = report_files.xlsx_bytes(doc), exports.XLSX_MIME
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=name)


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
