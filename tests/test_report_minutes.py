"""Minutes and attendance in the report: the 月報 includes the meetings of the month (Kurume's
specification: 出席した会議の議事録等), with who attended, the threads discussed and the minutes
written on the dashboard's 会議 page (masked like every stored text).

October 2026's 第4水曜 is 10-28; the 久留米ささえあいネット meets at 14:00.
"""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from pypdf import PdfReader
from test_dashboard_world import form_token, jst, october_case_log, sign_in

from models.meeting import answer, set_schedule
from models.meeting_agenda import record_discussed
from models.meeting_rule import parse_rule

MEETING = date(2026, 10, 28)


@pytest.fixture
def net(session):
    net = october_case_log(session)
    set_schedule(session, net.network, parse_rule("毎月第4水曜 14:00"), "公民館", None, None, jst(2026, 9, 1))
    answer(session, net.network, MEETING, net.members["東部包括"], "yes", jst(2026, 10, 20))
    answer(session, net.network, MEETING, net.members["子ども食堂ひまわり"], "yes", jst(2026, 10, 21))
    answer(session, net.network, MEETING, net.members["社協"], "no", jst(2026, 10, 21))
    record_discussed(session, net.network, MEETING, [net.threads[6], net.threads[7]], None, jst(2026, 10, 28, 16))
    session.commit()
    return net


def test_minutes_written_on_the_meetings_page_are_masked_and_reach_every_report_format(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    page = f"/dashboard/n/{net.id}/meetings"
    minutes = "T7 は見守りを続ける。\n連絡先 090-1234-5678 は包括が把握。"

    saved = client.post(f"{page}/2026-10-28/minutes", data={"csrf_token": form_token(client, page), "text": minutes})

    assert saved.status_code == 302
    meetings = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "議事録を保存しました" in meetings and "090-1234-5678" not in meetings
    assert "出席：子ども食堂ひまわり、東部包括　欠席：社協" in meetings

    report = client.get(f"/dashboard/n/{net.id}/report?month=2026-10").get_data(as_text=True)
    assert '<th scope="row">2026-10-28 14:00</th><td>子ども食堂ひまわり、東部包括</td><td>社協</td>' in report
    assert "#7（高齢）、#8（住まい）" in report and "T7 は見守りを続ける。" in report

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/n/{net.id}/report.xlsx?month=2026-10").data))
    rows = list(book["会議と議事録"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1
    assert rows[0][:4] == ("2026-10-28 14:00", "子ども食堂ひまわり、東部包括", "社協", "#7（高齢）、#8（住まい）")
    assert rows[0][4].startswith("T7 は見守りを続ける。\n連絡先 ") and "090-1234-5678" not in rows[0][4]

    pdf = PdfReader(io.BytesIO(client.get(f"/dashboard/n/{net.id}/report.pdf?month=2026-10").data))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "会議と議事録" in text and "T7 は見守りを続ける。" in text and "090-1234-5678" not in text


def test_a_month_without_a_meeting_says_so_and_november_has_its_own(client, runtime, net):
    sign_in(client, runtime, net.coordinator)

    september = client.get(f"/dashboard/n/{net.id}/report?month=2026-09").get_data(as_text=True)
    november = client.get(f"/dashboard/n/{net.id}/report?month=2026-11").get_data(as_text=True)

    assert '<th scope="row">2026-09-23 14:00</th>' in september  # the rule's September meeting, no records
    assert "2026-10-28" not in november and '<th scope="row">2026-11-25 14:00</th>' in november


def test_empty_minutes_are_refused_politely(client, runtime, net):
    sign_in(client, runtime, net.coordinator)
    page = f"/dashboard/n/{net.id}/meetings"
    refused = client.post(f"{page}/2026-10-28/minutes", data={"csrf_token": form_token(client, page), "text": " "})
    assert refused.status_code == 400 and "議事録を入力してください" in refused.get_data(as_text=True)
    assert client.post(f"{page}/not-a-day/minutes", data={"csrf_token": form_token(client, page)}).status_code == 404


def test_retention_erases_old_minutes_with_the_threads(session, net):
    from jobs.retention import erase_network
    from models.meeting_minutes import minutes_of, write_minutes

    write_minutes(session, net.network, MEETING, "古い会議の議事録", None, jst(2026, 10, 29))
    session.commit()

    erase_network(session, net.network, jst(2032, 3, 31, 23))  # fiscal 2026 is kept to 2032-03-31
    assert minutes_of(session, net.network, MEETING) == "古い会議の議事録"
    erase_network(session, net.network, jst(2032, 4, 1, 0))
    assert minutes_of(session, net.network, MEETING) is None
