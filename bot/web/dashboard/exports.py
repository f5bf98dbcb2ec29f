"""Excel (.xlsx) and CSV files for coordinators, who work in Excel.

- xlsx: one sheet per table, Japanese headers, dates as real Excel date-times (in the
  network's local time: Excel has no time zones), column widths set, header row frozen.
  Written in openpyxl's write-only mode so a 200,000-row case log streams to disk.
- CSV: UTF-8 with a BOM; without it Excel on Windows opens UTF-8 as Shift_JIS (文字化け).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from models.report import MonthlyReport

DATE_FORMAT = "yyyy-mm-dd hh:mm"
CSV_DATE_FORMAT = "%Y-%m-%d %H:%M"
PROGRESS_EVERY = 5000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
# Excel column widths are in characters of the default font; CJK characters take two.
WIDE_COLUMNS = {"要約": 60, "投稿団体": 24, "つなぎ先": 22, "項目": 40, "答えた団体": 24, "困りごとを出した団体": 24}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int], None]


@dataclass
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: dict[str, int] = field(default_factory=dict)


def _width(column: str, sheet: Sheet) -> int:
    if column in sheet.widths:
        return sheet.widths[column]
    if column in WIDE_COLUMNS:
        return WIDE_COLUMNS[column]
    return max(10, len(column) * 2 + 2)


def write_xlsx(sheets: Sequence[Sheet], out: IO[bytes], progress: Progress | None = None) -> int:
    """Write the workbook; returns the number of data rows written (all sheets)."""
    # Imported here: openpyxl takes 17 MB, and the server's processes export only now and then.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    written = 0
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        for index, column in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = _width(column, sheet)
        ws.freeze_panes = "A2"
        header = []
        for column in sheet.columns:
            cell = WriteOnlyCell(ws, value=column)
            cell.font = bold
            cell.alignment = Alignment(vertical="center")
            header.append(cell)
        ws.append(header)
        for row in sheet.rows:
            ws.append([_cell(ws, value, WriteOnlyCell) for value in row])
            written += 1
            if progress and written % PROGRESS_EVERY == 0:
                progress(written)
    book.save(out)
    return written


def _cell(ws: Any, value: Any, WriteOnlyCell: Any) -> Any:  # noqa: N803 (openpyxl's class, imported late)
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, str) and value.startswith("="):
        # openpyxl stores "=..." as a formula: text from the chat must stay text.
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_csv(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[bytes], progress: Progress | None = None
) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    written = 0
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
        written += 1
        if progress and written % PROGRESS_EVERY == 0:
            progress(written)
    text.flush()
    text.detach()  # leave ``out`` open for the caller
    return written


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(CSV_DATE_FORMAT)
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        # Excel runs a cell starting with = + - @ as a formula (CSV injection): keep it text.
        return "'" + value
    return value


def report_rows(report: MonthlyReport) -> list[tuple[str, str, int | float | None]]:
    """The report flattened to (table, item, value): for CSV, the CLI and the monthly push."""
    fr = report.first_response
    rows: list[tuple[str, str, int | float | None]] = [
        ("概要", "受け付けた困りごと", report.received),
        ("概要", "伝手", report.connections),
        ("概要", "申し出", report.offers),
        ("概要", "見守り（気にかけています）", report.watches),
        ("概要", "見守りのあった困りごと", report.watched),
        ("概要", "フォーマルとインフォーマルがともに関わった困りごと", report.overlap),
        ("概要", "二つ以上の分野にわたる困りごと（複合）", report.compound),
        ("概要", "つなぎ", sum(n for _, n in report.handovers)),
        ("概要", "うち参加支援（地域の居場所・活動へ）", report.participation),
        ("概要", "翌月へ持ち越し（未終了）" if report.is_month else "期間末に未終了（持ち越し）", report.carried_over),
        ("概要", "取り消された投稿（集計外）", report.retracted),
        ("概要", "前月以前の訂正", len(report.corrections)),
        ("初回反応", "反応があった困りごと", fr.answered),
        ("初回反応", "反応がない困りごと", fr.unanswered),
        ("初回反応", "中央値（時間）", fr.median_hours),
        ("初回反応", "90パーセンタイル（時間）", fr.p90_hours),
    ]
    rows += [("分野別", name, n) for name, n in report.by_category]
    rows += [("地区別", name, n) for name, n in report.by_area]
    rows += [("結果", name, n) for name, n in report.outcomes]
    rows += [("つなぎ先", name, n) for name, n in report.handovers]
    rows += [("終了の理由", name, n) for name, n in report.end_reasons]
    rows += [("つなぎの種類", name, n) for name, n in report.referral_kinds]
    rows += [("足りなかった資源", name, n) for name, n in report.missing]
    rows += [("本人同意", name, n) for name, n in report.by_consent]
    return rows
