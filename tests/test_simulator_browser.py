"""The simulator in headless Chromium: the story a workshop shows, one screenshot per step.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/system-packages), never downloaded.
`KASANE_UPDATE_SCREENSHOTS=1` copies the best screenshots to docs/screenshots/simulator-*.png.
Every step is asserted: threads, meetings and attendance are the project's own features, so a
step that stops working fails the story instead of skipping the rest of it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_simulator import Served, serve_simulator

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
# step screenshot → docs/screenshots/simulator-<name>.png
PUBLISHED = {
    "registered": "simulator-registered.png",
    "phone": "simulator-phone.png",
    "thread": "simulator-thread.png",
    "connection": "simulator-connection.png",
    "attendance": "simulator-attendance.png",
    "reminder": "simulator-reminder.png",
}


def need_browser() -> Any:
    """Playwright's sync API bound to Debian's Chromium; skip without it, except under CI=true."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (bash .ci/system-packages installs it)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}, but CI=true: the browser tests must run")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    with serve_simulator(database_url, simulate_time=True) as served:
        yield served


class Screen:
    """The simulator page as a person uses it, taking a screenshot at each step."""

    def __init__(self, page: Any, base: str, shots: Path) -> None:
        self.page = page
        self.base = base
        self.shots = shots
        self.taken: dict[str, Path] = {}
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        page.on("pageerror", lambda e: self.problems.append(str(e)))

    def shot(self, name: str, page: Any = None) -> None:
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        (page or self.page).screenshot(path=str(path))
        self.taken[name] = path

    def open(self) -> None:
        self.page.goto(f"{self.base}/simulator")

    def press(self, label: str) -> None:
        self.page.get_by_role("button", name=label, exact=True).last.click()

    def act_as(self, name: str) -> None:
        self.page.get_by_label("発言する人").select_option(label=name)
        with self.page.expect_navigation():
            self.press("切り替え")

    def bot_messages(self) -> list[str]:
        return self.page.locator(".msg.bot").all_inner_texts()

    def says(self, text: str, timeout: float = 5.0) -> list[str]:
        """Type and send like in LINE; returns the bot's messages that followed (none after `timeout`)."""
        before = len(self.bot_messages())
        box = self.page.get_by_label("さんとして送信")
        box.fill(text)
        box.press("Enter")
        return self.new_bot_messages(before, timeout)

    def new_bot_messages(self, before: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.bot_messages()[before:]
            if found:
                time.sleep(0.15)  # a reply can carry several messages: let the rest arrive
                return self.bot_messages()[before:]
            time.sleep(0.1)
        return []

    def wait_for_bot(self, needle: str, timeout: float = 5.0) -> None:
        self.page.locator(".msg.bot", has_text=needle).last.wait_for(timeout=timeout * 1000)


def publish(taken: dict[str, Path]) -> None:
    if os.environ.get("KASANE_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    for step, target in PUBLISHED.items():
        if step in taken:
            shutil.copyfile(taken[step], DOCS / target)


def test_a_workshop_story_in_the_browser(served: Served, tmp_path: Path):
    sync_playwright = need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 860}, locale="ja-JP")
        page.set_default_timeout(8000)
        screen = Screen(page, served.url, tmp_path)
        try:
            story(screen, browser)
        finally:
            publish(screen.taken)
            browser.close()


def story(screen: Screen, browser: Any) -> None:
    page = screen.page
    screen.open()
    screen.shot("start")

    # 1. The bot joins the group and greets.
    with page.expect_navigation():
        screen.press("ボットをグループに招待")
    screen.wait_for_bot("はじめまして。「重ね（Kasane）」です。")
    screen.shot("greeting")

    # 2. Two organizations register; each confirmation mentions its sender.
    replies = screen.says("団体登録 子ども食堂ひまわり インフォーマル")
    assert any("@田中ゆかり さんを「子ども食堂ひまわり」（インフォーマル）として登録" in r for r in replies), replies
    screen.act_as("佐藤健")
    replies = screen.says("団体登録 東部地域包括支援センター フォーマル")
    assert any("@佐藤健 さんを「東部地域包括支援センター」（フォーマル）として登録" in r for r in replies), replies
    assert page.locator(".msg.mine .bubble", has_text="東部地域包括支援センター").count() == 1
    assert page.locator(".mention", has_text="@田中ゆかり").count() == 1
    screen.shot("registered")
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP", device_scale_factor=2)
    phone.goto(page.url)
    phone.locator(".msg.bot", has_text="@佐藤健").last.scroll_into_view_if_needed()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll
    screen.shot("phone", phone)
    phone.close()
    # 佐藤 answers 田中 with a quote (reply-to), mistypes, and unsends it: everyone sees that he did.
    tanaka = page.locator(".msg.other", has_text="団体登録 子ども食堂ひまわり")
    tanaka.hover()
    tanaka.get_by_role("button", name="田中ゆかりのメッセージに返信（引用）").click()
    assert page.locator("#quote-text").inner_text().startswith("田中ゆかり：団体登録")
    screen.says("よろしくお願いしまう", timeout=0.5)
    slip = page.locator(".msg.mine", has_text="よろしくお願いしまう")
    assert slip.locator(".quoted", has_text="団体登録 子ども食堂ひまわり").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    slip.hover()
    slip.get_by_role("button", name="このメッセージの送信を取り消す").click()
    page.get_by_text("佐藤健さんがメッセージの送信を取り消しました").wait_for()
    assert not screen.problems, screen.problems  # no script errors, no CSP violations

    # 3. A 困りごと with a phone number: the card, and a warning that the number was hidden.
    screen.act_as("田中ゆかり")
    replies = screen.says("困りごと 高齢の父の通院の付き添いを探しています。連絡は090-1234-5678まで")
    assert any("#1" in r for r in replies), replies
    screen.wait_for_bot("電話番号")
    assert not page.locator(".msg.bot", has_text="090-1234-5678").count()
    mine = page.locator(".msg.mine", has_text="090-1234-5678")
    mine.evaluate("node => { node.closest('.log').scrollTop = node.offsetTop - node.closest('.log').offsetTop - 8 }")
    screen.shot("thread")

    # 4. 佐藤 has a connection: presses 「伝手あり」 on the card and types it.
    screen.act_as("佐藤健")
    before = len(screen.bot_messages())
    screen.press("伝手あり")
    asked = screen.new_bot_messages(before)
    assert any("#1" in r for r in asked), asked
    replies = screen.says("社協の移送サービスが使えるかもしれません")
    assert any("#1" in r for r in replies), replies
    screen.shot("connection")

    # 5. 田中 records that things eased (緩和), not only solved.
    screen.act_as("田中ゆかり")
    replies = screen.says("#1 緩和")
    assert any("#1" in r for r in replies), replies
    screen.shot("eased")

    # 6. The meeting: set the monthly rule, move the clock, the reminder arrives in the group.
    replies = screen.says("会議設定 毎月第4水曜 14:00 市民センター")
    assert any("会議の予定" in r for r in replies), replies
    # A week ahead the card with the attendance buttons is due: one hour on, it arrives; 田中 answers.
    before = len(screen.bot_messages())
    screen.press("1時間進める")
    cards = screen.new_bot_messages(before, timeout=8)
    assert any("出席" in c for c in cards), cards
    screen.press("出席")
    page.locator(".msg.mine", has_text="出席します").wait_for()
    # Its confirmation first: arriving late, it would pass for the reminder looked for below.
    screen.wait_for_bot("承りました", timeout=10)
    screen.shot("attendance")
    # The day before, the reminder mentions whoever has not answered.
    before = len(screen.bot_messages())
    page.get_by_label("進める量").fill("5")
    page.get_by_label("単位").select_option("hours")
    page.get_by_role("button", name="進める", exact=True).click()
    reminders = screen.new_bot_messages(before, timeout=8)
    assert any("明日" in r for r in reminders), reminders
    screen.shot("reminder")
    assert not screen.problems, screen.problems
