"""The dashboard in a real browser (headless Chromium, Debian's, driven by Playwright).

A coordinator signs in through a one-time link, filters the case log, opens a thread,
corrects its outcome with a reason, downloads the Excel file, and cannot open another
network's thread. With KASANE_UPDATE_SCREENSHOTS=1 the list and the monthly report are
saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from test_dashboard_world import login_link, make_network, october_case_log, path_of, post
from werkzeug.serving import make_server

from models import OrgKind

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run"]


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing, but CI=true (.ci/system-packages installs it)")
        pytest.skip("/usr/bin/chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def shoot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if os.environ.get("KASANE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_a_coordinator_works_through_the_case_log(browser, served, runtime, session, tmp_path):
    net = october_case_log(session)
    other = make_network(
        session, "Cgroup-other", "Ucoord-other", {"西自治会": OrgKind.INFORMAL}, net.network.created_at
    )
    post(session, other, "西自治会", "よその困りごと", net.network.created_at, category="孤立")
    session.commit()
    link = login_link(runtime, net.coordinator)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", accept_downloads=True)
    page = context.new_page()
    blocked: list[str] = []  # CSP violations are reported on the console
    page.on("console", lambda message: blocked.append(message.text) if "Content Security" in message.text else None)
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    # Sign in: the link shows a button; pressing it signs in.
    page.goto(served + path_of(link))
    page.get_by_role("button", name="ログインする").click()
    page.wait_for_url(f"{served}/dashboard/")
    page.get_by_role("link", name="困りごと一覧").first.click()

    # Filter: October, つなぎ.
    page.get_by_label("投稿月").fill("2026-10")
    page.get_by_label("結果").select_option(label="つなぎ")
    page.get_by_role("button", name="絞り込む").click()
    rows = page.locator("table.threads tbody tr")
    assert rows.count() == 2 and "#6" in rows.first.inner_text()
    page.goto(f"{served}/dashboard/n/{net.id}/threads?month=2026-10")
    shoot(page, tmp_path, "dashboard-threads.png")

    # Download the Excel file of this view and read it back.
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel（.xlsx）").click()
    saved = tmp_path / "threads.xlsx"
    download.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved)["困りごと一覧"]
    assert [c.value for c in sheet[1]][:3] == ["番号", "投稿日時", "投稿団体"]
    assert any(row[0] == 6 and row[6] == "つなぎ" for row in sheet.iter_rows(min_row=2, values_only=True))

    # Open #6 and correct its outcome with a reason; both records stay in the timeline.
    page.get_by_role("link", name="#6", exact=True).click()
    page.get_by_label("新しい結果（必須）").select_option(label="解決")
    page.get_by_label("修正の理由（必須）").fill("会議で確認したところ解決していた")
    page.get_by_role("button", name="結果を修正する").click()
    timeline = page.locator("ol.timeline")
    assert "つなぎ → 解決" in timeline.inner_text()
    assert "未完了 → つなぎ" in timeline.inner_text()
    assert "修正の理由：会議で確認したところ解決していた" in timeline.inner_text()

    page.goto(f"{served}/dashboard/n/{net.id}/report?month=2026-10")
    assert "受け付けた困りごと" in page.inner_text("main")
    shoot(page, tmp_path, "dashboard-report.png")

    # Another network's thread does not exist for this coordinator.
    answer = page.goto(f"{served}/dashboard/n/{other.id}/threads/1")
    assert answer is not None and answer.status == 404
    assert "よその困りごと" not in page.content()
    assert blocked == []
    assert [url for url in failed if not url.endswith("/favicon.ico")] == [f"{served}/dashboard/n/{other.id}/threads/1"]
    context.close()
