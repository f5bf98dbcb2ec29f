"""The 送信数 page: the month's counted messages, the plan, and what was not pushed and why."""

from __future__ import annotations

from test_dashboard_world import form_token, sign_in, two_networks

from bot.pipeline import outbox
from bot.replies import compose
from models import Network, Role
from models.ledger import Kind
from models.membership import grant_role


def test_the_page_counts_the_month_and_an_organizer_sets_the_plan(client, runtime, session, clock, platform):
    a, b = two_networks(session, clock.now())
    platform.add_group(a.network.group_id, "A")
    for n in range(4):
        platform.add_member(a.network.group_id, f"U{n:032x}", f"m{n}")
    with runtime.sessions.begin() as s:
        outbox.enqueue(s, a.network.group_id, [compose.text("会議のお知らせ")], now=clock.now(), kind=Kind.MEETING_WEEK)
    runtime.sender.drain()

    sign_in(client, runtime, a.coordinator)
    page = client.get(f"/dashboard/n/{a.id}/cost").get_data(as_text=True)
    assert '<dd id="spent">4 通' in page and '<dd id="allowance">200 通（残り 196 通）' in page
    assert "<td>会議の案内（7日前）</td><td>4</td><td>1</td>" in page
    assert "プランを設定" not in page  # a coordinator sees the plan; an organizer sets it
    assert client.get(f"/dashboard/n/{a.id}/cost?month=2026-13").status_code == 400
    assert client.get(f"/dashboard/n/{b.id}/cost").status_code == 404

    with runtime.sessions.begin() as s:
        grant_role(s, s.get(Network, a.id), a.coordinator, Role.ORGANIZER)
    path = f"/dashboard/n/{a.id}/cost"
    refused = client.post(f"{path}/plan", data={"csrf_token": form_token(client, path), "plan": "ゴールド"})
    assert refused.status_code == 400 and "「ゴールド」というプランはありません" in refused.get_data(as_text=True)
    saved = client.post(f"{path}/plan", data={"csrf_token": form_token(client, path), "plan": "ライト"})
    assert saved.status_code == 302
    assert '<dd id="allowance">5000 通（残り 4996 通）' in client.get(path).get_data(as_text=True)
