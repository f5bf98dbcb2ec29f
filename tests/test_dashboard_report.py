"""The monthly figures equal what a coordinator counts by hand on a fixed data set.

The data set is ``october_case_log`` in test_dashboard_world.py; the month is 2026-10 (Japan
time). Organizations: F1 東部包括 and F2 社協 (formal), I1 子ども食堂ひまわり and I2 民生委員会
(informal). Threads T1..T12:

  T1  09-30 23:59 I1 高齢 東部  F1 伝手 10-01 08:00                      open (September)
  T2  10-01 00:00 I1 高齢 東部  F1 伝手 +2h         つなぎ 包括 10-05     closed
  T3  10-03 10:00 F1 子ども 西部 I2 申し出 +4h, I1 コメント  解決 10-10   closed
  T4  10-10 09:00 I2 困窮 東部  I1 申し出 +24h      緩和 10-20            closed
  T5  10-15 12:00 F2 孤立 -     (none)             終了 本人が希望しない  closed
  T6  10-20 08:00 I1 障害 西部  F2 伝手 +1h, F1 申し出 10-21  つなぎ 生活自立 10-30
  T7  10-25 18:00 I2 高齢 西部  F1 気にかけ (watch)  伴走 (open)
  T8  10-31 23:59:59 F1 住まい 東部  (none)          open
  T9  11-01 00:00 I1 高齢 東部  F1 伝手 11-01       (November)
  T10 10-12 09:00 I1 その他 東部 F1 伝手 10-12      unsent (retracted): left out
  T11 10-05 09:00 I2 仕事 北部  F2 コメント          取り下げ 10-06
  T12 10-08 10:00 F2 高齢 東部  F1 申し出 +30h      解決 11-03 (closed after the month)
"""

from __future__ import annotations

import pytest
from test_dashboard_world import october_case_log, sign_in

from bot.web.dashboard.exports import report_rows
from models.report import month_period, monthly_report, organization_stats, overlap_edges

OCTOBER = month_period(2026, 10, "Asia/Tokyo")


@pytest.fixture
def net(session):
    return october_case_log(session)


def test_monthly_figures_match_the_hand_count(session, net):
    report = monthly_report(session, net.network, OCTOBER)

    # October threads, not retracted: T2 T3 T4 T5 T6 T7 T8 T11 T12 (T1 is September, T9
    # November, T10 was unsent).
    assert report.received == 9
    assert report.retracted == 1
    # 高齢 T2 T7 T12; 障害 T6; 子ども T3; 困窮 T4; 住まい T8; 仕事 T11; 孤立 T5 (catalogue order).
    assert report.by_category == [
        ("高齢", 3),
        ("障害", 1),
        ("子ども", 1),
        ("困窮", 1),
        ("住まい", 1),
        ("仕事", 1),
        ("孤立", 1),
    ]
    # 東部 T2 T4 T8 T12; 西部 T3 T6 T7; 北部 T11; no area T5.
    assert report.by_area == [("東部", 4), ("西部", 3), ("北部", 1), ("（地区なし）", 1)]
    # Given in October: 伝手 on T1 (a September thread), T2, T6; offers on T3, T4, T6, T12.
    # Not counted: T9's (November), T10's (unsent), comments and watching.
    assert (report.connections, report.offers) == (3, 4)
    # Formal and informal both took part: T2 (I1+F1), T3 (F1+I2+I1), T6 (I1+F2+F1), T11 (I2+F2
    # by a comment). Not T4 (I2+I1), T7 (a watch is not taking part), T12 (F2+F1).
    assert report.overlap == 4
    # Recorded in October: T12's 解決 (11-03) belongs to November's report.
    assert report.outcomes == [
        ("解決", 1),  # T3
        ("緩和", 1),  # T4
        ("つなぎ", 2),  # T2, T6
        ("伴走", 1),  # T7
        ("終了", 1),  # T5
        ("取り下げ", 1),  # T11
    ]
    assert report.handovers == [("地域包括支援センター", 1), ("生活自立支援センター", 1)]
    assert report.end_reasons == [("本人が希望しない", 1)]
    # First 伝手/offer after: T6 1h, T2 2h, T3 4h, T4 24h, T12 30h; none for T5 T7 T8 T11.
    # Median of 1,2,4,24,30 = 4; 90th percentile at position 0.9*4 = 3.6: 24 + 0.6*(30-24) = 27.6.
    first = report.first_response
    assert (first.answered, first.unanswered) == (5, 4)
    assert (first.median_hours, first.p90_hours) == (4.0, 27.6)
    # Open at the end of October: T1, T7 (伴走), T8, and T12 (closed on 11-03).
    assert report.carried_over == 4


def test_the_overlap_map_and_organizations_match_the_hand_count(session, net):
    edges = {(e.responder.name, e.poster.name): e.threads for e in overlap_edges(session, net.network, OCTOBER)}
    # 東部包括 answered 子ども食堂ひまわり's T1, T2 and T6; the rest once each. T7's watch, T9
    # (November) and T10 (unsent) do not count; nor would an organization answering itself.
    assert edges == {
        ("東部包括", "子ども食堂ひまわり"): 3,
        ("民生委員会", "東部包括"): 1,  # T3
        ("子ども食堂ひまわり", "東部包括"): 1,  # T3, a comment
        ("子ども食堂ひまわり", "民生委員会"): 1,  # T4
        ("社協", "子ども食堂ひまわり"): 1,  # T6
        ("社協", "民生委員会"): 1,  # T11, a comment
        ("東部包括", "社協"): 1,  # T12
    }
    stats = {s.node.name: (s.members, s.posted, s.answered) for s in organization_stats(session, net.network)}
    # All time: I1 posted T1 T2 T6 T9 (T10 unsent); F1 answered T1 T2 T6 T9 T12 with 伝手/offers.
    assert stats == {
        "子ども食堂ひまわり": (1, 4, 1),
        "東部包括": (1, 2, 5),
        "民生委員会": (1, 3, 1),
        "社協": (1, 2, 1),
    }


def test_the_report_page_shows_the_same_figures(client, runtime, net):
    sign_in(client, runtime, net.coordinator)

    page = client.get(f"/dashboard/n/{net.id}/report?month=2026-10").get_data(as_text=True)

    assert "月報：2026年10月" in page and "2026年11月15日" in page
    assert "<dt>受け付けた困りごと</dt><dd>9件</dd>" in page
    assert "<dt>フォーマルとインフォーマルがともに関わった</dt><dd>4件</dd>" in page
    assert '<th scope="row">生活自立支援センター</th><td class="num">1件</td>' in page
    assert "<svg" in page and "<title" in page and "<script" not in page
    assert "27.6時間" in page


def test_report_rows_feed_csv_and_cli(session, net):
    rows = report_rows(monthly_report(session, net.network, OCTOBER))
    assert ("概要", "受け付けた困りごと", 9) in rows
    assert ("結果", "解決", 1) in rows and ("つなぎ先", "地域包括支援センター", 1) in rows


def test_an_empty_month(session, net):
    report = monthly_report(session, net.network, month_period(2025, 1, "Asia/Tokyo"))
    assert report.received == 0 and report.first_response.median_hours is None
    assert report.outcomes[-1] == ("取り下げ", 0) and report.carried_over == 0 and report.corrections == []
