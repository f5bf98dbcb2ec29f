"""The 送信の状況 page: messages LINE refused for good (or still retrying), per network."""

from __future__ import annotations

from sqlalchemy import select
from test_dashboard_world import sign_in, two_networks

from bot.pipeline import outbox
from bot.replies import compose
from models import Network, OutboxMessage


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


def test_a_members_one_to_one_message_about_another_network_stays_off_this_networks_page(world, client, runtime):
    """Carol coordinates network A and posts a trouble in network B: the 1:1 notice of B's answer
    (held back by LINE) is B's business, and never shown to A's coordinators (issue 18, finding 2)."""
    carol, bob, dave = world.person("Carol"), world.person("Bob"), world.person("Dave")
    a, b = world.group("東ネット"), world.group("西ネット")
    for group, people in ((a, (carol, dave)), (b, (carol, bob))):
        world.invite_bot(group)
        group.add(*people)
    dave.says(a, "団体登録 東部包括 フォーマル")  # A's organizer
    carol.says(a, "団体登録 子ども食堂ひまわり")
    carol.says(b, "団体登録 子ども食堂ひまわり")  # B's organizer
    bob.says(b, "団体登録 西自治会")
    carol.follows_bot()
    card = carol.says(b, "困りごと 西地区の見守りの相談です")
    world.platform.fail_next(status=400, message="bad", endpoint="push")
    bob.presses(b, card.button("伝手あり"))
    bob.says(b, "民生委員さんに声をかけられます")
    with runtime.sessions() as s:
        networks = dict(s.execute(select(Network.group_id, Network.id)).all())
        failed = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
        assert [row.chat_id for row in failed] == [carol.id]  # the push LINE refused

    sign_in(client, runtime, dave.id)  # A's organizer
    page = client.get(f"/dashboard/n/{networks[a.id]}/delivery").get_data(as_text=True)
    assert "民生委員さん" not in page and "伝手が届きました" not in page
    sign_in(client, runtime, carol.id)  # B's organizer sees it on B's page
    page = client.get(f"/dashboard/n/{networks[b.id]}/delivery").get_data(as_text=True)
    assert "伝手が届きました" in page
