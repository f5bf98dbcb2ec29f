"""More than one 分野 per thread, as a chat transcript and in the report: the guess proposes every
分野 the text mentions, people add and remove, and the report counts each 分野 and 複合."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Network
from models.report import month_period, monthly_report

NOVEMBER = month_period(2026, 11, "Asia/Tokyo")  # the test clock is 2026-11-24


@pytest.fixture
def net(world):
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice, carol = world.person("Alice"), world.person("Carol")
    group.add(alice, carol)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    carol.says(group, "団体登録 民生委員の会")
    world.deliver()
    return group, alice, carol


def test_a_household_in_several_fields_is_counted_in_each_and_as_compound(world, net):
    group, alice, carol = net

    card = carol.says(group, "困りごと 介護が必要な母と不登校の子がいて、家賃も滞納しています")
    assert "分野：高齢・子ども・住まい・困窮" in card.text
    carol.says(group, "困りごと 配食サービスを探しています")  # #2: その他 only

    added = alice.presses(group, card.button("分野を追加・外す"))
    assert added.text == "#1 の分野を選んでください（いまの分野：高齢・子ども・住まい・困窮）。＋で加え、－で外します。"
    assert [b["label"] for b in added.buttons] == [
        *("＋障害", "＋仕事", "＋健康", "＋孤立", "＋その他"),
        *("－高齢", "－子ども", "－住まい", "－困窮"),
    ]
    assert alice.presses(group, added.button("＋健康")).text == (
        "#1 の分野に「健康」を加えました（分野：高齢・子ども・住まい・困窮・健康）。"
    )
    assert alice.presses(group, added.button("＋健康")).text == (  # a chooser pressed twice
        "#1 の分野は、すでに 高齢・子ども・住まい・困窮・健康 です。"
    )
    shown = carol.says(group, "#1")  # the card shown later carries the same button
    removing = carol.presses(group, shown.button("分野を追加・外す"))
    assert removing.button("－健康") and carol.presses(group, removing.button("－住まい")).text == (
        "#1 の分野から「住まい」を外しました（分野：高齢・子ども・困窮・健康）。"
    )
    assert (
        carol.says(group, "#1 分野削除 高齢").text == "#1 の分野から「高齢」を外しました（分野：子ども・困窮・健康）。"
    )
    assert (
        carol.says(group, "#2 分野削除 その他").text
        == "#2 の分野は一つ以上必要です。別の分野を加えてから外してください。"
    )
    only = carol.presses(group, carol.says(group, "#2").button("分野を追加・外す"))
    assert carol.presses(group, only.button("－その他")).text == (
        "#2 の分野は一つ以上必要です。別の分野を加えてから外してください。"
    )
    assert "分野は次から選んでください" in carol.says(group, "#2 分野追加 宇宙").text
    assert "分野：子ども・困窮・健康" in carol.says(group, "#1").texts[0]

    with world.runtime.sessions() as session:
        report = monthly_report(session, session.scalars(select(Network)).one(), NOVEMBER)
    assert report.received == 2 and report.compound == 1
    assert report.by_category == [("子ども", 1), ("困窮", 1), ("健康", 1), ("その他", 1)]
