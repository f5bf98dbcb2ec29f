"""Reports to hand in: any period (月報, 年度, the contract period, any days), as a PDF to print and
an Excel book, from the dashboard and from ``kasane report``.

The data set is ``october_case_log`` (test_dashboard_report.py counts it by hand): 9 threads
received in October 2026, T1 on 09-30, T9 on 11-01, T10 unsent. So the 2026年度 received 11.
"""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import make_config
from pypdf import PdfReader
from test_dashboard_world import october_case_log, sign_in

from bot.cli.main import main

A4 = (595, 842)  # points, portrait


@pytest.fixture
def config(database_url, line_server):  # type: ignore[no-untyped-def]
    contract = {"contract_start": "2026-09-01", "contract_end": "2026-11-30", "final_report_due": "2026-12-10"}
    return make_config(database_url, line_server.url, report=contract)


@pytest.fixture
def net(session):
    return october_case_log(session)


@pytest.fixture
def cli_config(tmp_path: Path, database_url: str, monkeypatch) -> Path:
    for name in ("KASANE_DATABASE_URL", "KASANE_SECRET_KEY", "KASANE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n[report]\nfinal_report_due = "2027-04-10"\n')
    return path


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_the_years_pdf_from_the_cli_opens_and_shows_period_totals_and_due_date(cli_config, net, tmp_path, capsys):
    out = tmp_path / "fy2026.pdf"
    args = ["report", "--network", str(net.id), "--from", "2026-04-01", "--to", "2027-03-31", "--format", "pdf"]

    assert main(["--config", str(cli_config), *args, "--output", str(out)]) == 0

    reader, text = pdf_text(out.read_bytes())
    assert "wrote 年度実績報告" in capsys.readouterr().err
    assert all((round(p.mediabox.width), round(p.mediabox.height)) == A4 for p in reader.pages)
    assert "年度実績報告" in text and "2026年度（2026年4月1日〜2027年3月31日）" in text
    assert "久留米ささえあいネット" in text and "提出期限：2027年4月10日" in text
    assert "受け付けた困りごと 11" in text.replace("\u3000", " ")
    pages = len(reader.pages)
    assert pages >= 2 and f"1 / {pages} ページ" in text and f"{pages} / {pages} ページ" in text


def test_a_months_xlsx_from_the_cli_opens_in_pandas_with_a_sheet_per_table(cli_config, net, tmp_path):
    out = tmp_path / "october.xlsx"
    args = ["report", "--network", str(net.id), "--month", "2026-10", "--format", "xlsx", "--output", str(out)]

    assert main(["--config", str(cli_config), *args]) == 0

    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == [
        "表紙",
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
        "重なり（団体間）",
        "前月以前の訂正",
        "月別",
        "会議と議事録",
    ]
    cover = dict(zip(sheets["表紙"]["項目"], sheets["表紙"]["内容"], strict=True))
    assert cover["対象期間"] == "2026年10月" and cover["提出期限"] == "2026年11月15日"
    overview = dict(zip(sheets["概要"]["項目"], sheets["概要"]["値"], strict=True))
    assert overview["受け付けた困りごと"] == 9 and overview["翌月へ持ち越し（未終了）"] == 4
    assert sheets["月別"].to_dict("records") == [
        {
            "月": "2026-10",
            "受け付けた困りごと": 9,
            "伝手": 3,
            "申し出": 4,
            "フォーマルとインフォーマルがともに関わった": 4,
            "解決": 1,
            "緩和": 1,
            "つなぎ": 2,
            "伴走": 1,
            "終了": 1,
            "取り下げ": 1,
            "月末に未終了（持ち越し）": 4,
            "前月以前の訂正": 0,
        }
    ]


def test_the_year_on_the_dashboard_has_a_row_per_month_and_the_same_files(client, runtime, net):
    sign_in(client, runtime, net.coordinator)

    page = client.get(f"/dashboard/n/{net.id}/report?fy=2026").get_data(as_text=True)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/n/{net.id}/report.xlsx?fy=2026").data))
    pdf = client.get(f"/dashboard/n/{net.id}/report.pdf?fy=2026")

    assert "年度実績報告：2026年度（2026年4月1日〜2027年3月31日）" in page
    assert "<dt>受け付けた困りごと</dt><dd>11件</dd>" in page
    assert '<th scope="row">2026-09</th><td class="num">1</td>' in page  # T1
    assert '<th scope="row">2026-11</th><td class="num">1</td>' in page  # T9
    months = list(book["月別"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in months] == [f"2026-{m:02d}" for m in range(4, 13)] + ["2027-01", "2027-02", "2027-03"]
    assert sum(row[1] for row in months) == 11
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert "2026年度" in pdf_text(pdf.data)[1]


def test_the_contract_period_and_any_days_on_the_dashboard(client, runtime, net):
    sign_in(client, runtime, net.coordinator)

    contract = client.get(f"/dashboard/n/{net.id}/report?period=contract").get_data(as_text=True)
    days = client.get(f"/dashboard/n/{net.id}/report?from=2026-10-01&to=2026-10-15").get_data(as_text=True)

    assert "実績報告：2026年9月1日〜2026年11月30日" in contract and "2026年12月10日" in contract
    assert "<dt>受け付けた困りごと</dt><dd>11件</dd>" in contract
    # 1–15 October: T2 T3 T4 T5 T11 T12 (T10 unsent).
    assert "実績報告：2026年10月1日〜2026年10月15日" in days and "<dt>受け付けた困りごと</dt><dd>6件</dd>" in days


@pytest.mark.parametrize(
    "query",
    ["from=2026-10-01", "from=2026-10-01&to=2026-13-01", "from=2026-10-15&to=2026-10-01", "fy=26x"],
)
def test_a_malformed_period_is_a_400_in_japanese(client, runtime, net, query):
    sign_in(client, runtime, net.coordinator)
    answer = client.get(f"/dashboard/n/{net.id}/report?{query}")
    assert answer.status_code == 400 and "入力を確かめてください" in answer.get_data(as_text=True)
