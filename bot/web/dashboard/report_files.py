"""The report as files to hand in: Excel (a sheet per table and a month-by-month sheet), a PDF
ready to print (A4, page numbers, the network's name, the period and the 提出期限) and plain
text for the terminal. The dashboard, ``kasane report`` and 提出済みにする all build them here.

The PDF is HTML laid out by WeasyPrint (``report_print.html``) in Noto Sans CJK JP, the
Japanese font the server has installed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.web.dashboard import exports
from models import Network
from models.meeting_minutes import MeetingOfPeriod, meetings_in
from models.network import OrgKind
from models.report import Edge, MonthlyReport, Period, monthly_report, months_of, next_month, overlap_edges
from models.settings import network_settings

KIND_LABELS = {OrgKind.FORMAL: "フォーマル", OrgKind.INFORMAL: "インフォーマル"}
EDGE_COLUMNS = ("答えた団体", "種類", "困りごとを出した団体", "種類", "困りごとの数")
CORRECTION_COLUMNS = ("日時", "番号", "項目", "訂正前", "訂正後")
MONTH_COLUMNS = (
    "月",
    "受け付けた困りごと",
    "伝手",
    "申し出",
    "フォーマルとインフォーマルがともに関わった",
    "解決",
    "緩和",
    "つなぎ",
    "伴走",
    "終了",
    "取り下げ",
    "月末に未終了（持ち越し）",
    "前月以前の訂正",
)
# The PDF's month table fits A4 portrait with short headings (explained under the table).
MONTH_HEADINGS = (
    "月",
    "受付",
    "伝手",
    "申し出",
    "重なり",
    "解決",
    "緩和",
    "つなぎ",
    "伴走",
    "終了",
    "取下げ",
    "持越し",
    "訂正",
)
TABLES = (
    "概要",
    "初回反応",
    "分野別",
    "地区別",
    "結果",
    "つなぎ先",
    "終了の理由",
    "つなぎの種類",
    "足りなかった資源",
    "本人同意",
)
# A big network has a thousand and more pairs of organizations: a PDF of them takes WeasyPrint
# half a minute and nobody reads page 30. The PDF keeps the strongest; the Excel has them all.
PDF_EDGES = 40
TEMPLATES = Path(__file__).parent / "templates"
# A month's 月報 is due on the 15th of the next month (Kurume's specification, §6(5)).
MONTHLY_DUE_DAY = 15


@dataclass
class ReportDocument:
    """Everything one report shows, computed once and rendered to any format."""

    network_id: int
    network_name: str
    title: str  # 月報 | 年度実績報告 | 実績報告
    period: Period
    period_text: str  # 2026年10月 | 2026年度（2026年4月1日〜2027年3月31日）
    due: str
    made_at: str  # when these figures were computed (local time)
    tz: str
    figures: MonthlyReport
    edges: list[Edge]
    months: list[tuple[str, MonthlyReport]] = field(default_factory=list)  # one per month of the period
    meetings: list[MeetingOfPeriod] = field(default_factory=list)  # held in the period, with minutes
    meeting_kind: str = "ネットワーク会議"

    @property
    def is_month(self) -> bool:
        return self.title == "月報"

    def local(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(ZoneInfo(self.tz)).strftime(fmt) if value else ""

    @property
    def file_stem(self) -> str:
        return f"kasane-report-{self.network_id}-{self.period.label}".replace("〜", "_")


def japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def monthly_due(period: Period) -> date:
    year, month = next_month(period.start.year, period.start.month)
    return date(year, month, MONTHLY_DUE_DAY)


def period_text(period: Period, kind: str) -> str:
    first, last = period.start.date(), (period.end - timedelta(days=1)).date()
    if kind == "month":
        return f"{first.year}年{first.month}月"
    span = f"{japanese_date(first)}〜{japanese_date(last)}"
    return f"{period.label}（{span}）" if kind == "fiscal" else span


def build(
    session: Session,
    network: Network,
    period: Period,
    kind: str,
    now: datetime,
    final_due: date | None = None,
) -> ReportDocument:
    """``kind``: month, fiscal (年度) or range. ``final_due``: the 実績報告's due date when the
    contract sets one ([report] final_report_due)."""
    tz = network.timezone or "Asia/Tokyo"
    if kind == "month":
        title, due = "月報", japanese_date(monthly_due(period))
    else:
        title = "年度実績報告" if kind == "fiscal" else "実績報告"
        last = (period.end - timedelta(days=1)).date()
        due = japanese_date(final_due) if final_due else f"期間の終了（{japanese_date(last)}）後すみやかに"
    figures = monthly_report(session, network, period)
    parts = months_of(period)
    months = [(part.label, figures if len(parts) == 1 else monthly_report(session, network, part)) for part in parts]
    return ReportDocument(
        network_id=network.id,
        network_name=network.name or f"ネットワーク {network.id}",
        title=title,
        period=period,
        period_text=period_text(period, kind),
        due=due,
        made_at=now.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
        tz=tz,
        figures=figures,
        edges=overlap_edges(session, network, period),
        months=months,
        meetings=meetings_in(session, network, period.start, period.end),
        meeting_kind=network_settings(network).meeting_kind,
    )


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


def correction_rows(doc: ReportDocument) -> list[tuple[Any, ...]]:
    return [(doc.local(c.at), f"#{c.number}", c.what, c.before, c.after) for c in doc.figures.corrections]


def month_rows(doc: ReportDocument) -> list[tuple[Any, ...]]:
    rows = []
    for label, figures in doc.months:
        outcomes = dict(figures.outcomes)
        rows.append(
            (
                label,
                figures.received,
                figures.connections,
                figures.offers,
                figures.overlap,
                outcomes.get("解決", 0),
                outcomes.get("緩和", 0),
                outcomes.get("つなぎ", 0),
                outcomes.get("伴走", 0),
                outcomes.get("終了", 0),
                outcomes.get("取り下げ", 0),
                figures.carried_over,
                len(figures.corrections),
            )
        )
    return rows


MEETING_COLUMNS = ("会議の日", "出席した団体", "欠席の団体", "話し合った困りごと", "議事録")


def meeting_rows(doc: ReportDocument) -> list[tuple[Any, ...]]:
    rows = []
    for meeting in doc.meetings:
        when = doc.local(meeting.start) if meeting.start else meeting.original.isoformat()
        when += "（臨時）" if meeting.extra else ""
        discussed = "、".join(f"#{number}（{category}）" for number, category in meeting.discussed)
        rows.append((when, "、".join(meeting.attended), "、".join(meeting.absent), discussed, meeting.minutes or ""))
    return rows


def tables(doc: ReportDocument) -> dict[str, list[tuple[str, Any]]]:
    """The report's tables of (item, value), in order: 概要, 初回反応, 分野別, …"""
    # Every table, even an empty one: the book has the same sheets every month.
    found: dict[str, list[tuple[str, Any]]] = {name: [] for name in TABLES}
    for table, item, value in exports.report_rows(doc.figures):
        found.setdefault(table, []).append((item, value))
    return found


def sheets(doc: ReportDocument) -> list[exports.Sheet]:
    cover = [
        ("ネットワーク", doc.network_name),
        ("報告", doc.title),
        ("対象期間", doc.period_text),
        ("提出期限", doc.due),
        ("集計日時", doc.made_at),
        ("会議の種類", doc.meeting_kind),
        ("集計の基準", "各期間の末日の時点で経過に記録されていたとおり（後日の訂正は訂正した月に計上）"),
    ]
    result = [exports.Sheet("表紙", ("項目", "内容"), cover, widths={"内容": 70})]
    result += [exports.Sheet(name, ("項目", "値"), rows) for name, rows in tables(doc).items()]
    result.append(exports.Sheet("重なり（団体間）", EDGE_COLUMNS, edge_rows(doc.edges)))
    result.append(exports.Sheet("前月以前の訂正", CORRECTION_COLUMNS, correction_rows(doc)))
    result.append(exports.Sheet("月別", MONTH_COLUMNS, month_rows(doc), widths={"月": 24}))
    widths = {"会議の日": 18, "出席した団体": 40, "欠席の団体": 24, "話し合った困りごと": 30, "議事録": 80}
    result.append(exports.Sheet("会議と議事録", MEETING_COLUMNS, meeting_rows(doc), widths=widths))
    return result


def xlsx_bytes(doc: ReportDocument) -> bytes:
    out = io.BytesIO()
    exports.write_xlsx(sheets(doc), out)
    return out.getvalue()


def pdf_bytes(doc: ReportDocument) -> bytes:
    """A4, page numbers and the network, period and due date on every page (WeasyPrint)."""
    # Imported here: WeasyPrint and its fonts load in about a second, and only reports need them.
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from weasyprint import HTML

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template("dashboard/report_print.html").render(
        doc=doc,
        tables=tables(doc),
        edges=edge_rows(doc.edges[:PDF_EDGES]),  # the strongest first; Excel lists every pair
        more_edges=max(0, len(doc.edges) - PDF_EDGES),
        corrections=correction_rows(doc),
        month_columns=MONTH_HEADINGS,
        months=month_rows(doc),
        meetings=meeting_rows(doc),
    )
    return HTML(string=html).write_pdf()


def text_lines(doc: ReportDocument) -> Iterator[str]:
    yield f"{doc.title} {doc.network_name}（network {doc.network_id}） {doc.period_text}"
    yield f"提出期限 {doc.due}　集計 {doc.made_at}"
    for name, rows in tables(doc).items():
        yield ""
        yield f"[{name}]"
        for item, value in rows:
            yield f"  {item}\t{'-' if value is None else value}"
    if doc.figures.corrections:
        yield ""
        yield "[前月以前の訂正]"
        for row in correction_rows(doc):
            yield "  " + "\t".join(str(v) for v in row)
    yield ""
    yield "[会議と議事録]"
    for when, attended, absent, discussed, minutes in meeting_rows(doc):
        yield f"  {when}　出席：{attended or '-'}　欠席：{absent or '-'}　話し合い：{discussed or '-'}"
        for line in (minutes or "（議事録なし）").splitlines():
            yield f"    {line}"
    if not doc.meetings:
        yield "  期間中の会議はありません。"
    if len(doc.months) > 1:
        yield ""
        yield "[月別]"
        yield "  " + "\t".join(MONTH_COLUMNS)
        for row in month_rows(doc):
            yield "  " + "\t".join(str(v) for v in row)
