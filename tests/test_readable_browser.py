"""Pages that can be read, in headless Chromium (Debian's): the 重なりの図 with 11 and with 40
organizations, the list page and the simulator at phone width (375 px), and axe-core
(axe-playwright-python) on every dashboard page and the simulator: no serious or critical
violation. With KASANE_UPDATE_SCREENSHOTS=1 the map and the help card go to docs/screenshots/.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from test_dashboard_browser import CHROMIUM, SCREENSHOTS, browser, served  # noqa: F401 (fixtures)
from test_dashboard_world import jst, login_link, make_network, path_of, post, respond
from test_simulator import serve_simulator

from bot.cli.demo import generate_demo
from models import Network, OrgKind, ResponseKind

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 812}
SERIOUS = ("serious", "critical")


def axe_problems(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now."""
    response = Axe().run(page).response
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
        for v in response["violations"]
        if v.get("impact") in SERIOUS
    ]


def publish(page: Any, tmp_path: Path, name: str, **options: Any) -> None:
    page.screenshot(path=str(tmp_path / name), **options)
    if os.environ.get("KASANE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / name, SCREENSHOTS / name)


def signed_in(browser: Any, served: str, runtime: Any, user: str, **context: Any) -> Any:  # noqa: F811
    # bypass_csp: the pages allow no script at all; axe-core is injected by the test, not the page.
    page = browser.new_context(locale="ja-JP", bypass_csp=True, **context).new_page()
    page.goto(served + path_of(login_link(runtime, user)))
    page.get_by_role("button", name="ログインする").click()
    page.wait_for_url(f"{served}/dashboard/")
    return page


# --- the map ------------------------------------------------------------------------------------
MAP_CHECK = """() => {
  const svg = document.querySelector('svg.map');
  const box = svg.viewBox.baseVal;
  const out = [];
  for (const t of svg.querySelectorAll('text')) {
    const b = t.getBBox();
    const inside = b.x >= box.x - 1 && b.y >= box.y - 1
      && b.x + b.width <= box.x + box.width + 1 && b.y + b.height <= box.y + box.height + 1;
    if (!inside) out.push('outside: ' + t.textContent);
  }
  const labels = [...svg.querySelectorAll('text.edge-label')].map(t => t.getBBox());
  let overlaps = 0;
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
    const a = labels[i], b = labels[j];
    const apart = a.x + a.width - 1 <= b.x || b.x + b.width - 1 <= a.x
      || a.y + a.height - 1 <= b.y || b.y + b.height - 1 <= a.y;
    if (!apart) overlaps++;
  }
  const names = [...svg.querySelectorAll('text.node-label')].map(t => t.textContent);
  return {out, overlaps, names, lines: svg.querySelectorAll('.edge').length};
}"""


def check_map(page: Any, names: list[str]) -> dict[str, Any]:
    found = page.evaluate(MAP_CHECK)
    assert found["out"] == [], found["out"]  # every label inside the picture
    assert found["overlaps"] == 0  # no number on top of another
    assert not any("…" in n for n in found["names"])  # names wrap, never cut
    drawn = set(found["names"])
    assert all(name in drawn for name in names if name in drawn)
    return found


def test_the_map_of_the_demo_network_can_be_read(browser, served, runtime, session, clock, tmp_path):  # noqa: F811
    demo = generate_demo(session, clock.now(), months=3)
    session.commit()
    page = signed_in(browser, served, runtime, demo.organizer_user_id, viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/dashboard/n/{demo.network_id}/map")
    found = check_map(page, [])
    assert found["lines"] > 10
    # Formal on the left, informal on the right: every 子ども食堂-like name is right of the middle.
    columns = page.evaluate(
        """() => [...document.querySelectorAll('svg.map text.node-label')]
             .map(t => [t.textContent, t.getAttribute('text-anchor')])"""
    )
    assert {anchor for _, anchor in columns} == {"start", "end"}
    assert "こども子育てサポートセンター" in "".join(name for name, _ in columns)
    publish(page.locator("figure.map"), tmp_path, "dashboard-map.png")
    assert axe_problems(page) == []


FORMAL = (
    "地域包括支援センター",
    "障害者相談支援センター",
    "生活自立支援センター",
    "子育て世代包括支援センター",
    "社会福祉協議会",
)
INFORMAL = ("子ども食堂", "ふれあいの会", "自治会", "民生委員・児童委員協議会", "NPO法人ささえあい")


def forty_organizations(session: Any) -> Network:
    orgs = {f"{['東', '西', '南', '北'][i % 4]}部{FORMAL[i % 5]}{i // 5 + 1}": OrgKind.FORMAL for i in range(20)}
    orgs |= {
        f"{['みなみ', 'きた', 'ひがし', 'にし'][i % 4]}{INFORMAL[i % 5]}{i // 5 + 1}": OrgKind.INFORMAL
        for i in range(20)
    }
    net = make_network(session, "Cgroup-forty", "Ucoord-forty", orgs, jst(2026, 1, 5), "四十団体のネットワーク")
    names = list(orgs)
    pick = random.Random(40)
    for day in range(200):
        poster = pick.choice(names)
        thread = post(session, net, poster, f"困りごと{day}", jst(2026, 1 + day // 20, 1 + day % 20, 10))
        for responder in pick.sample(names, 2):
            if responder != poster:
                respond(session, net, thread, responder, ResponseKind.CONNECTION, jst(2026, 1 + day // 20, 21, 10))
    session.commit()
    return net


def test_the_map_of_forty_organizations_folds_thin_lines_into_the_table(browser, served, runtime, session, tmp_path):  # noqa: F811
    net = forty_organizations(session)
    page = signed_in(browser, served, runtime, net.coordinator, viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/dashboard/n/{net.id}/map?from=2026-01&to=2026-11")
    found = check_map(page, [])
    assert 10 < found["lines"] <= 40
    caption = page.locator("figure.map figcaption").inner_text()
    assert "下の表にだけあります" in caption
    rows = page.locator("table.figures tbody tr").count()
    assert rows > found["lines"]  # the table keeps every pair
    publish(page.locator("figure.map"), tmp_path, "dashboard-map-40.png")
    assert axe_problems(page) == []


# --- every dashboard page: axe, and the list at phone width -----------------------------------------
ONE_LINE = """n => { const r = document.createRange(); r.selectNodeContents(n);
  const tops = new Set([...r.getClientRects()].map(b => Math.round(b.top))); return tops.size === 1; }"""


def test_every_dashboard_page_passes_axe_and_the_list_fits_a_phone(browser, served, runtime, session, clock, tmp_path):  # noqa: F811
    demo = generate_demo(session, clock.now(), months=2)
    session.commit()
    base = f"{served}/dashboard/n/{demo.network_id}"
    pages = ["/dashboard/", f"{base}/threads", f"{base}/threads/1", f"{base}/report", f"{base}/map"]
    pages += [f"{base}/organizations", f"{base}/meetings", f"{base}/nowhere", "/dashboard/signin"]
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page = signed_in(browser, served, runtime, demo.organizer_user_id, viewport=viewport)
        for address in pages:
            page.goto(address if address.startswith("http") else served + address)
            assert axe_problems(page) == [], (address, viewport)
        page.goto(served + path_of(login_link(runtime, demo.organizer_user_id)))  # the sign-in button page
        assert axe_problems(page) == []
    # At 375 px the list page's filter bar keeps 「絞り込む」 on one line and nothing scrolls sideways.
    page.goto(f"{base}/threads")
    page.screenshot(path=str(tmp_path / "threads-375.png"), full_page=True)
    assert page.get_by_role("button", name="絞り込む").evaluate(ONE_LINE), "「絞り込む」 wraps"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


# --- the simulator at phone width, its axe check, the help card ----------------------------------------
def test_the_simulator_fits_a_phone_and_passes_axe(browser, database_url, tmp_path):  # noqa: F811
    with serve_simulator(database_url, simulate_time=True) as sim:
        context = browser.new_context(viewport=PHONE, locale="ja-JP", device_scale_factor=2, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(8000)
        page.goto(f"{sim.url}/simulator")
        assert axe_problems(page) == []
        with page.expect_navigation():
            page.get_by_role("button", name="ボットをグループに招待", exact=True).click()
        page.locator(".msg.bot").first.wait_for()
        box = page.get_by_label("さんとして送信")
        box.fill("ヘルプ")
        box.press("Enter")
        card = page.locator(".msg.bot .fx-bubble", has_text="使い方").last
        card.wait_for()
        time.sleep(0.3)
        edge = card.evaluate("n => n.getBoundingClientRect().right")
        assert edge <= PHONE["width"], f"the card is cut off at {edge}px"
        holder = "n => { const c = n.closest('.flex-msg'); return c.scrollWidth <= c.clientWidth + 1; }"
        assert card.evaluate(holder), "the card scrolls sideways in its message"
        assert card.evaluate("n => n.scrollWidth <= n.clientWidth + 1")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "simulator-375.png"))
        publish(card, tmp_path, "help-card.png")
        assert axe_problems(page) == []
        context.close()
