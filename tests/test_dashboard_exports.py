"""Exports for Excel users: exact columns, a BOM on CSV, real date-times in .xlsx; and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from test_dashboard_world import jst, october_case_log, path_of, post, sign_in

from bot.app import create_app
from bot.cli.main import main
from bot.config import load_config
from bot.runtime import build_runtime

COLUMNS = [
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
]


@pytest.fixture
def net(session):
    net = october_case_log(session)
    post(session, net, "民生委員会", "=HYPERLINK(1) のような書き出し", jst(2026, 10, 30, 9), category="その他")
    session.commit()
    return net


@pytest.fixture
def cli_config(tmp_path: Path, database_url: str, monkeypatch) -> Path:
    for name in ("KASANE_DATABASE_URL", "KASANE_SECRET_KEY", "KASANE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    # The same secret key as the test app, so a link printed by the CLI opens in it.
    path.write_text(f'[database]\nurl = "{database_url}"\n[server]\nsecret_key = "test-session-key-not-secret"\n')
    return path


def test_xlsx_export_opens_in_openpyxl_and_pandas(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    answer = client.get(f"/dashboard/n/{net.id}/threads.xlsx?month=2026-10")
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["Content-Type"]
    assert "attachment" in answer.headers["Content-Disposition"]

    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    sheet = book["困りごと一覧"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    by_number = {row[0]: row for row in rows[1:]}
    assert sorted(by_number) == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13]  # posted in October (Japan time)
    t6 = by_number[6]
    assert t6[1] == datetime(2026, 10, 20, 8, 0) and t6[8] == datetime(2026, 10, 20, 9, 0)  # local, naive
    assert t6[2:8] == ("子ども食堂ひまわり", "障害", "西部", "完了", "つなぎ", "生活自立支援センター")
    assert t6[9:12] == (1, 1, datetime(2026, 10, 30, 0, 0)) and t6[12] == "T6 障害のある方の就労"
    assert by_number[2][1] == datetime(2026, 10, 1, 0, 0)  # midnight JST, not 15:00 UTC the day before
    assert by_number[8][6] == "未完了" and by_number[8][11] is None
    assert by_number[10][12] == "（投稿が取り消されました）"
    cell = sheet.cell(row=2, column=2)
    assert cell.is_date and "yyyy" in cell.number_format
    formula = next(row for row in sheet.iter_rows() if row[0].value == 13)[12]
    assert formula.data_type == "s" and formula.value.startswith("=HYPERLINK")  # text, not a formula
    assert sheet.column_dimensions["M"].width >= 40 and sheet.freeze_panes == "A2"

    frame = pd.read_excel(io.BytesIO(answer.data), sheet_name="困りごと一覧")
    assert list(frame.columns) == COLUMNS and len(frame) == 11
    assert str(frame["投稿日時"].dtype).startswith("datetime64")


def test_csv_export_has_a_bom_and_the_columns(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    answer = client.get(f"/dashboard/n/{net.id}/threads.csv?month=2026-10&outcome=referred")
    assert answer.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]] == ["2", "6"]
    assert rows[1][1] == "2026-10-01 00:00" and rows[1][7] == "地域包括支援センター"
    everything = client.get(f"/dashboard/n/{net.id}/threads.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in everything  # CSV injection: a leading = stays text in Excel


def test_report_exports(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/n/{net.id}/report.xlsx?month=2026-10").data))
    assert book.sheetnames == [
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
    overview = {row[0]: row[1] for row in book["概要"].iter_rows(min_row=2, values_only=True)}
    assert overview["受け付けた困りごと"] == 10 and overview["フォーマルとインフォーマルがともに関わった困りごと"] == 4
    assert list(next(book["重なり（団体間）"].iter_rows(values_only=True))) == [
        "答えた団体",
        "種類",
        "困りごとを出した団体",
        "種類",
        "困りごとの数",
    ]
    csv_data = client.get(f"/dashboard/n/{net.id}/report.csv?month=2026-10").data
    assert csv_data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_data.decode("utf-8-sig"))))
    assert rows[0] == ["表", "項目", "値"] and ["概要", "前月以前の訂正", "0"] in rows


def test_cli_export_csv_and_xlsx(cli_config, tmp_path, net, capsys):
    out = tmp_path / "october.csv"
    status = main(
        [
            "--config",
            str(cli_config),
            "export",
            "--network",
            str(net.id),
            "--month",
            "2026-10",
            "--format",
            "csv",
            "--output",
            str(out),
        ]
    )
    assert status == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS and len(rows) == 12
    err = capsys.readouterr().err
    assert "exporting 11 threads" in err and "wrote 11 threads" in err

    xlsx = tmp_path / "october.xlsx"
    assert (
        main(
            [
                "--config",
                str(cli_config),
                "export",
                "--network",
                str(net.id),
                "--month",
                "2026-10",
                "--format",
                "xlsx",
                "--output",
                str(xlsx),
            ]
        )
        == 0
    )
    sheet = openpyxl.load_workbook(xlsx)["困りごと一覧"]
    assert [c.value for c in sheet[1]] == COLUMNS and sheet.max_row == 12


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["export", "--network", "{id}", "--month", "2026-13"], "--month must be YYYY-MM"),
        (["export", "--network", "{id}", "--month", "October"], "--month must be YYYY-MM"),
        (["export", "--network", "999", "--month", "2026-10"], "no network with id '999'"),
        (["export", "--network", "abc", "--month", "2026-10"], "no network with id 'abc'"),
        (["export", "--network", "{id}", "--month", "2026-10", "--format", "pdf"], "--format must be csv or xlsx"),
        (["report", "--network", "999", "--month", "2026-10"], "no network with id '999'"),
        (["report", "--network", "{id}", "--month", "26-10"], "--month must be YYYY-MM"),
        (["report", "--network", "{id}"], "give --month YYYY-MM, or --from YYYY-MM-DD and --to YYYY-MM-DD"),
        (["report", "--network", "{id}", "--from", "2026-04-01"], "give --month YYYY-MM, or --from"),
        (["report", "--network", "{id}", "--month", "2026-10", "--from", "2026-10-01"], "not both"),
        (["report", "--network", "{id}", "--from", "2026-4-1", "--to", "2027-03-31"], "--from must be YYYY-MM-DD"),
        (["report", "--network", "{id}", "--from", "2027-04-01", "--to", "2027-03-31"], "is after --to"),
        (["report", "--network", "{id}", "--month", "2026-10", "--format", "docx"], "--format must be text"),
        (["login-link", "--user", "Unobody"], "is not a coordinator or organizer"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(cli_config, net, capsys, args, expected):
    args = [a.replace("{id}", str(net.id)) for a in args]
    assert main(["--config", str(cli_config), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_cli_report_prints_the_figures(cli_config, net, capsys):
    assert main(["--config", str(cli_config), "report", "--network", str(net.id), "--month", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert "月報" in out and "2026年10月" in out and "提出期限 2026年11月15日" in out
    assert "受け付けた困りごと\t10" in out and "中央値（時間）\t4.0" in out and "[つなぎ先]" in out


def test_cli_login_link_opens_in_the_app(cli_config, client, net, capsys):
    assert main(["--config", str(cli_config), "login-link", "--user", net.coordinator]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://127.0.0.1:8000/dashboard/login/")
    assert client.get(path_of(link)).status_code == 200


def test_cli_login_link_without_a_configured_secret_uses_the_servers_kept_key(
    tmp_path, database_url, net, capsys, clock
):
    """README's two commands set no secret_key: the server generates one and keeps it, and
    `kasane login-link` signs with that same key, so its link signs in."""
    path = tmp_path / "nosecret.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    assert main(["--config", str(path), "login-link", "--user", net.coordinator]) == 0
    link = capsys.readouterr().out.strip()
    config = load_config(path, environ={"KASANE_LINE_CHANNEL_SECRET": "s", "KASANE_LINE_CHANNEL_ACCESS_TOKEN": "t"})
    runtime = build_runtime(config, clock=clock)
    try:
        client = create_app(runtime).test_client()
        assert client.get(path_of(link)).status_code == 200
    finally:
        runtime.close()
