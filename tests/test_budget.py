"""The network's message plan in the chat (``プラン``), and what it means for group notices."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import JST
from held import sent_or_held
from sqlalchemy import select

from jobs.followups import follow_up, nudge_unanswered
from models import Network
from models.budget import parse_plan
from models.settings import network_settings


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob = world.person("Carol"), world.person("Bob")
    group.add(carol, bob)
    carol.says(group, "団体登録 民生委員の会")  # the first to register organizes
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    world.deliver()
    return group, carol, bob


def test_an_organizer_sets_the_plan_by_name_or_number(world, net):
    group, carol, _ = net
    assert carol.says(group, "プラン ライト").text == (
        "LINE のプランを「ライト」（月 5,000 通）にしました。返信は無料、プッシュは受け取る人数分を数えます。"
    )
    assert "「1,000 通」（月 1,000 通）" in carol.says(group, "プラン １０００").text  # full-width digits
    assert "「スタンダード」" in carol.says(group, "プラン スタンダードプラン").text
    with world.runtime.sessions() as session:
        assert session.scalar(select(Network.settings))["plan"] == 30_000
    assert carol.says(group, "プラン").text.startswith("LINE のプラン：月 30,000 通。今月はここまで 0 通")


def test_an_unknown_plan_gets_the_list_of_plans(world, net):
    group, carol, _ = net
    answer = carol.says(group, "プラン ゴールド")
    assert answer.texts == [
        "「ゴールド」というプランはありません。次のどれかで設定してください：\n"
        "プラン 無料（月 200 通）\nプラン ライト（月 5,000 通）\n"
        "プラン スタンダード（月 30,000 通）\nプラン 1000（月の通数を数字で）"
    ]
    for bad in ("0", "-5", "99999999999", "200円"):
        assert parse_plan(bad) is None, bad


def test_only_an_organizer_sets_the_plan(world, net):
    group, _, bob = net
    assert bob.says(group, "プラン ライト").text == "プランの設定は世話役だけができます。"


def test_on_a_plan_with_room_a_nudge_is_pushed_on_a_tight_one_it_waits(world, net):
    group, carol, _ = net
    carol.says(group, "困りごと 配食サービスを探しています")
    carol.says(group, "困りごと 買い物の付き添いを探しています")
    carol.says(group, "プラン 40")  # a push to the two known members is 40: a twentieth or more
    world.runtime.clock.set(datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    with world.runtime.sessions.begin() as session:
        network = session.scalar(select(Network))
        nudge_unanswered(session, network, network_settings(network), world.runtime.clock.now())
    assert [d.via for d in sent_or_held(world).deliveries] == ["held", "held"]

    carol.says(group, "プラン ライト")
    world.runtime.clock.set(datetime(2026, 11, 28, 10, 5, tzinfo=JST))
    carol.says(group, "困りごと 通院の付き添い")
    world.runtime.clock.set(datetime(2026, 12, 1, 10, 5, tzinfo=JST))
    with world.runtime.sessions.begin() as session:
        follow_up(session, world.runtime.clock.now())
    assert [d.via for d in sent_or_held(world).deliveries] == ["push"]
