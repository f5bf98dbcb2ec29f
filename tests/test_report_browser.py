"""Reports a city accepts, in a real browser (Debian's Chromium, driven by Playwright): the year's
report with its month-by-month table, 提出済みにする on October, minutes written on the 会議 page,
and a thread's 本人同意. With KASANE_UPDATE_SCREENSHOTS=1 the pages are saved for the README."""

from __future__ import annotations

import pytest
from test_dashboard_browser import ARGS, CHROMIUM, browser, served, shoot  # noqa: F401 (fixtures)
from test_dashboard_world import jst, login_link, october_case_log, path_of

from models.areas import add_areas
from models.meeting import answer, set_schedule
from models.meeting_agenda import record_discussed
from models.meeting_rule import parse_rule

pytestmark = pytest.mark.browser


def test_a_coordinator_hands_in_october_and_writes_the_minutes(browser, served, runtime, session, tmp_path):  # noqa: F811
    net = october_case_log(session)
    set_schedule(session, net.network, parse_rule("毎月第4水曜 14:00"), "公民館", None, None, jst(2026, 9, 1))
    for org, reply in (("東部包括", "yes"), ("子ども食堂ひまわり", "yes"), ("社協", "no")):
        answer(session, net.network, jst(2026, 10, 28).date(), net.members[org], reply, jst(2026, 10, 20))
    record_discussed(session, net.network, jst(2026, 10, 28).date(), net.threads[6:8], None, jst(2026, 10, 28, 16))
    session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    page.goto(served + path_of(login_link(runtime, net.coordinator)))
    page.get_by_role("button", name="ログインする").click()
    page.wait_for_url(f"{served}/dashboard/")

    # Minutes of 28 October, with a phone number that is masked before it is kept.
    page.goto(f"{served}/dashboard/n/{net.id}/meetings")
    minutes = "T7 は民生委員が月2回訪問する。\nT8 は包括が住まいの窓口へ（連絡先 090-1234-5678）。"
    page.locator("#minutes-2026-10-28").fill(minutes)
    page.locator("#m-2026-10-28").get_by_role("button", name="議事録を保存").click()
    assert "議事録を保存しました" in page.inner_text("main") and "090-1234-5678" not in page.content()

    # T8 has no consent: it is listed for the 支援会議, on the dashboard only.
    page.goto(f"{served}/dashboard/n/{net.id}/threads/8")
    consent = page.get_by_role("region", name="本人同意")
    consent.get_by_label("なし").check()
    consent.get_by_role("button", name="記録する").click()
    assert "未確認 → なし" in page.locator("ol.timeline").inner_text()
    page.goto(f"{served}/dashboard/n/{net.id}/meetings")
    assert "#8" in page.locator("#support-title + p + table").inner_text()
    shoot(page, tmp_path, "dashboard-meetings-minutes.png")

    # October's 月報 handed in: the stored copy beside today's figures.
    page.goto(f"{served}/dashboard/n/{net.id}/report?month=2026-10")
    page.get_by_role("button", name="提出済みにする").click()
    main = page.inner_text("main")
    assert "提出済みにしました" in main and "提出した報告（最新）と今日の集計の概要" in main
    assert "T7 は民生委員が月2回訪問する。" in main
    shoot(page, tmp_path, "dashboard-report-submitted.png")

    # The 2026年度 report, with a row per month.
    page.goto(f"{served}/dashboard/n/{net.id}/report?fy=2026")
    assert "年度実績報告：2026年度" in page.inner_text("h1")
    assert page.locator("#months-title + div table tbody tr").count() == 12
    shoot(page, tmp_path, "dashboard-report-year.png")

    # Kurume's 46 校区 on the 地区 page, in order, with their threads.
    add_areas(session, net.id, [f"第{n}校区" for n in range(1, 47)])
    session.commit()
    page.goto(f"{served}/dashboard/n/{net.id}/areas")
    assert page.locator("table.figures tbody tr").count() == 46
    shoot(page, tmp_path, "dashboard-areas.png")
    context.close()
