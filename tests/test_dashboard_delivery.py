"""The 送信の状況 page: messages LINE refused for good (or still retrying), per network."""

from __future__ import annotations

from test_dashboard_world import sign_in, two_networks

from bot.pipeline import outbox
from bot.replies import compose
from models import OutboxMessage


def test_failed_messages_show_on_the_networks_delivery_page_only(client, runtime, session, clock, platform):
    a, b = two_networks(session, clock.now())
    with runtime.sessions.begin() as s:
        outbox.enqueue(s, a.network.group_id, [compose.text("会議のお知らせA")], now=clock.now())
        outbox.enqueue(s, b.network.group_id, [compose.text("会議のお知らせB")], now=clock.now())
    runtime.sender.drain()  # the fake LINE platform knows neither group: 400, failed for good
    with runtime.sessions() as s:
        assert {r.status for r in s.query(OutboxMessage)} == {"failed"}

    sign_in(client, runtime, a.coordinator)
    page = client.get(f"/dashboard/n/{a.id}/delivery").get_data(as_text=True)

    assert "会議のお知らせA" in page and "送信できませんでした" in page and "rejected: 400" in page
    assert "会議のお知らせB" not in page
    assert client.get(f"/dashboard/n/{b.id}/delivery").status_code == 404
