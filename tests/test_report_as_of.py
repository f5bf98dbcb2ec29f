"""A period's figures are fixed at its end: what was corrected, reopened or erased later shows in
the month it was done (前月以前の訂正), never in the month already handed in.

The story (Japan time), counted by hand below:

  10-05 #1 posted by 子ども食堂ひまわり, 高齢, 東部; 10-06 東部包括 gives a 伝手
  10-20 #2 posted by 民生委員会, 困窮, 西部; 10-25 解決
  11-10 #1 つなぎ to 地域包括支援センター
  12-03 #1's 分野 corrected 高齢 → 困窮 (in chat)
  12-16 #1 corrected on the dashboard: つなぎ → 解決 (the issue's example)
  12-20 #2 再開
  01-10 #2 緩和
  01-12 #1 also 健康 (a second 分野)
  02-01 each month is computed again, then again after retention erased every text
"""

from __future__ import annotations

from dataclasses import asdict

import pytest
from test_dashboard_world import ORGS, close, jst, make_network, post, respond

from jobs.retention import erase_threads
from models import Outcome, ResponseKind
from models.casework import correct, reopen, set_outcome
from models.categories import add_category
from models.report import Correction, month_period, monthly_report, months_period

TZ = "Asia/Tokyo"
OCTOBER, NOVEMBER = month_period(2026, 10, TZ), month_period(2026, 11, TZ)
DECEMBER, JANUARY = month_period(2026, 12, TZ), month_period(2027, 1, TZ)


@pytest.fixture
def story(session):
    net = make_network(session, "Cgroup-asof", "Ucoord-asof", ORGS, jst(2026, 9, 1), "久留米ささえあいネット")
    first = post(
        session, net, "子ども食堂ひまわり", "通院の付き添い", jst(2026, 10, 5, 10), category="高齢", area="東部"
    )
    respond(session, net, first, "東部包括", ResponseKind.CONNECTION, jst(2026, 10, 6, 9), "包括で伺えます")
    second = post(session, net, "民生委員会", "食料が足りない", jst(2026, 10, 20, 9), category="困窮", area="西部")
    close(session, net, second, "民生委員会", Outcome.RESOLVED, jst(2026, 10, 25))
    close(
        session,
        net,
        first,
        "子ども食堂ひまわり",
        Outcome.REFERRED,
        jst(2026, 11, 10),
        referred_to="地域包括支援センター",
    )
    correct(session, first, net.members["子ども食堂ひまわり"], jst(2026, 12, 3), category="困窮")
    set_outcome(session, first, None, Outcome.RESOLVED, jst(2026, 12, 16, 15), reason="電話で確認", via="dashboard")
    reopen(session, second, net.members["民生委員会"], jst(2026, 12, 20))
    close(session, net, second, "民生委員会", Outcome.EASED, jst(2027, 1, 10))
    add_category(session, first, None, "健康", jst(2027, 1, 12))
    session.commit()
    return net


def figures(report):  # type: ignore[no-untyped-def]
    return {key: value for key, value in asdict(report).items() if key not in ("network_id", "period")}


def outcomes(report):  # type: ignore[no-untyped-def]
    return {label: n for label, n in report.outcomes if n}


def test_each_month_computed_in_february_is_the_hand_count(session, story):
    october, november, december, january = (
        monthly_report(session, story.network, p) for p in (OCTOBER, NOVEMBER, DECEMBER, JANUARY)
    )

    # October: two received, as they stood on 10-31 (#1 still 高齢); #2 解決; #1 open.
    assert october.received == 2
    assert october.by_category == [("高齢", 1), ("困窮", 1)] and october.compound == 0
    assert october.by_area == [("東部", 1), ("西部", 1)]
    assert (october.connections, october.offers) == (1, 0)
    assert outcomes(october) == {"解決": 1}
    assert october.carried_over == 1 and october.corrections == []
    assert october.first_response.answered == 1 and october.first_response.unanswered == 1

    # November: #1's つなぎ, still つなぎ however December corrected it.
    assert november.received == 0
    assert outcomes(november) == {"つなぎ": 1} and november.handovers == [("地域包括支援センター", 1)]
    assert november.carried_over == 0 and november.corrections == []

    # December: nothing new; three changes to what October and November recorded; #2 open again.
    assert december.received == 0 and outcomes(december) == {}
    assert december.carried_over == 1
    assert december.corrections == [
        Correction(jst(2026, 12, 3), 1, "分野", "高齢", "困窮"),
        Correction(jst(2026, 12, 16, 15), 1, "結果", "つなぎ", "解決"),
        Correction(jst(2026, 12, 20), 2, "再開", "解決", "受付中"),
    ]

    # January: #2 was open when January began, so its 緩和 is January's outcome.
    assert outcomes(january) == {"緩和": 1} and january.carried_over == 0 and january.corrections == []


def test_a_longer_period_counts_where_things_stood_at_its_end(session, story):
    autumn = monthly_report(session, story.network, months_period((2026, 10), (2027, 1), TZ))

    assert autumn.received == 2
    assert autumn.by_category == [("困窮", 2), ("健康", 1)]  # #1 corrected and given 健康 inside the period
    assert autumn.compound == 1
    assert outcomes(autumn) == {"解決": 1, "緩和": 1}  # #1 as corrected, #2 as closed again
    assert autumn.handovers == [] and autumn.carried_over == 0
    assert autumn.corrections == []  # nothing recorded before October was changed


def test_erasing_text_changes_no_figure(session, story):
    before = [figures(monthly_report(session, story.network, p)) for p in (OCTOBER, NOVEMBER, DECEMBER, JANUARY)]

    erase_threads(session, [t.id for t in story.threads], jst(2033, 4, 1))
    session.commit()

    after = [figures(monthly_report(session, story.network, p)) for p in (OCTOBER, NOVEMBER, DECEMBER, JANUARY)]
    assert after == before


def test_a_post_unsent_the_next_month_stays_in_its_month(session, story):
    from models.casework import retract

    late = post(session, story, "東部包括", "月末の相談", jst(2026, 11, 30, 23), category="住まい", area="東部")
    retract(session, late, jst(2026, 12, 1, 8))
    session.commit()

    november = monthly_report(session, story.network, NOVEMBER)
    december = monthly_report(session, story.network, DECEMBER)
    assert november.received == 1 and november.retracted == 0 and november.carried_over == 1
    assert Correction(jst(2026, 12, 1, 8), 3, "取り消し", "受付", "集計外") in december.corrections
    assert december.carried_over == 1  # #2 only: #3 left the count when it was unsent


def test_the_report_page_lists_decembers_corrections(client, runtime, story):
    from test_dashboard_world import sign_in

    sign_in(client, runtime, story.coordinator)

    december = client.get(f"/dashboard/n/{story.id}/report?month=2026-12").get_data(as_text=True)
    november = client.get(f"/dashboard/n/{story.id}/report?month=2026-11").get_data(as_text=True)

    assert "前月以前の訂正" in december
    assert "<td>2026-12-16 15:00</td><td>#1</td><td>結果</td><td>つなぎ</td><td>解決</td>" in december
    assert "<td>#2</td><td>再開</td><td>解決</td><td>受付中</td>" in december
    assert '<th scope="row">地域包括支援センター</th><td class="num">1件</td>' in november
