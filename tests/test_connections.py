"""つなぎ of every kind and 足りなかった資源, as a chat transcript and in the report.

Formal and informal resources have no ranking; 参加支援 (a place in the community the person joins)
is counted apart; the resources a network lacked are counted for the 地域づくり discussion."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Network, ThreadEvent
from models.report import month_period, monthly_report

NOVEMBER = month_period(2026, 11, "Asia/Tokyo")  # the test clock is 2026-11-24


@pytest.fixture
def net(world):
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice, bob, carol = (world.person(n) for n in ("Alice", "Bob", "Carol"))
    group.add(alice, bob, carol)
    alice.says(group, "団体登録 子ども食堂ひまわり")  # first: organizer
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    carol.says(group, "団体登録 民生委員の会")
    world.deliver()
    return group, alice, bob, carol


def figures(world):  # type: ignore[no-untyped-def]
    with world.runtime.sessions() as session:
        return monthly_report(session, session.scalars(select(Network)).one(), NOVEMBER)


def test_every_kind_of_tsunagi_and_what_was_missing(world, net):
    group, alice, bob, carol = net
    for text in ("通院の付き添い", "夕方に一人で過ごす子", "仕事を探している方", "夜に行き場がない方"):
        carol.says(group, f"困りごと {text}")

    # The chooser offers the network's organizations first, then the usual agencies.
    asked = carol.says(group, "#1 つなぎ")
    labels = [action["label"] for action in asked.buttons]
    assert labels[:4] == ["子ども食堂ひまわり", "東部地域包括支援センター", "民生委員の会", "地域包括支援センター"]
    assert carol.presses(group, asked.button("東部地域包括支援センター")).text.startswith(
        "#1 を「つなぎ（東部地域包括支援センター）」として記録しました。"
    )
    informal = carol.says(group, "#2 つなぎ 子ども食堂ひまわり")
    assert informal.text.endswith("（インフォーマル（地域の人・場））")
    joined = carol.says(group, "#3 つなぎ 居場所カフェ 参加支援")
    assert joined.text == "#3 を「つなぎ（居場所カフェ）」として記録しました。（参加支援（地域の居場所・活動へ））"

    assert "足りなかった資源として「夜間の居場所」" in carol.says(group, "#4 不足 夜間の居場所").text
    assert "足りなかった資源として「移動手段」" in carol.says(group, "#1 不足 移動手段").text
    unknown = carol.says(group, "#4 不足 ヘリコプター")
    assert "一覧にありません" in unknown.text and "移動手段、夜間の居場所" in unknown.text

    report = figures(world)
    assert report.referral_kinds == [
        ("フォーマル（専門機関）", 1),
        ("インフォーマル（地域の人・場）", 1),
        ("参加支援（地域の居場所・活動へ）", 1),
    ]
    assert report.participation == 1
    assert dict(report.handovers) == {"東部地域包括支援センター": 1, "子ども食堂ひまわり": 1, "居場所カフェ": 1}
    assert report.missing == [("夜間の居場所", 1), ("移動手段", 1)]
    with world.runtime.sessions() as session:
        kinds = [e.detail.get("referral_kind") for e in session.scalars(select(ThreadEvent)) if e.kind == "outcome"]
    assert kinds == ["formal", "informal", "participation"]


def test_a_coordinator_adds_a_resource_and_records_it_on_the_thread_page(client, runtime, session):
    from test_dashboard_world import form_token, october_case_log, sign_in

    net = october_case_log(session)
    sign_in(client, runtime, net.coordinator)
    page = f"/dashboard/n/{net.id}/organizations"

    added = client.post(
        f"/dashboard/n/{net.id}/resources", data={"csrf_token": form_token(client, page), "name": "買い物代行"}
    )
    thread = f"/dashboard/n/{net.id}/threads/8"
    done = client.post(f"{thread}/missing", data={"csrf_token": form_token(client, thread), "resource": "買い物代行"})

    assert added.status_code == 302 and "買い物代行" in client.get(page).get_data(as_text=True)
    assert done.status_code == 302
    november = client.get(f"/dashboard/n/{net.id}/report?month=2026-11").get_data(as_text=True)
    assert '<th scope="row">買い物代行</th><td class="num">1件</td>' in november
    refused = client.post(f"{thread}/missing", data={"csrf_token": form_token(client, thread), "resource": "x"})
    assert refused.status_code == 400
