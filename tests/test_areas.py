"""A city's 校区: Kurume has 46. The organizer registers them, the chooser pages through them,
every area gets a row in the report (0 where nothing came), and the dashboard and chat rename,
merge and order them; threads follow with a correction, past months keep their names."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Network
from models.areas import area_names
from models.report import month_period, monthly_report

KURUME = [f"第{n}校区" for n in range(1, 47)]  # 46, as in Kurume (seed 002)
NOVEMBER = month_period(2026, 11, "Asia/Tokyo")  # the test clock is 2026-11-24


@pytest.fixture
def net(world):
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice, carol = world.person("Alice"), world.person("Carol")
    group.add(alice, carol)
    alice.says(group, "団体登録 子ども食堂ひまわり")  # first: organizer
    carol.says(group, "団体登録 民生委員の会")
    assert "登録済みの地区：第1校区、第2校区" in alice.says(group, "地区登録 " + " ".join(KURUME)).text
    world.deliver()
    return group, alice, carol


def report(world):  # type: ignore[no-untyped-def]
    with world.runtime.sessions() as session:
        return monthly_report(session, session.scalars(select(Network)).one(), NOVEMBER)


def test_a_post_in_every_one_of_46_areas_gives_46_rows(world, net):
    group, _, carol = net
    for area in KURUME[:45]:
        carol.says(group, f"困りごと {area}で見守りの相談です")

    figures = report(world)

    assert len(figures.by_area) == 46 and figures.received == 45
    assert figures.by_area[:2] == [("第1校区", 1), ("第2校区", 1)]
    assert figures.by_area[-1] == ("第46校区", 0)  # listed, in order, with nothing this month


def test_the_chooser_pages_through_46_areas(world, net):
    group, _, carol = net
    card = carol.says(group, "困りごと 買い物の手伝いを探しています")

    first = carol.presses(group, card.button("地区を選ぶ"))
    assert "（1/5ページ）" in first.text
    assert [b["label"] for b in first.buttons] == [*KURUME[:11], "次へ"]
    second = carol.presses(group, first.button("次へ"))
    labels = [b["label"] for b in second.buttons]
    assert labels == [*KURUME[11:22], "前へ", "次へ"]
    last = second
    for _ in range(3):
        last = carol.presses(group, last.button("次へ"))
    assert "（5/5ページ）" in last.text and [b["label"] for b in last.buttons] == [*KURUME[44:], "前へ"]
    assert carol.presses(group, last.button("第46校区")).text == "#1 の地区を「第46校区」にしました。"


def test_rename_and_merge_in_chat_move_the_threads(world, net):
    group, alice, carol = net
    carol.says(group, "困りごと 第1校区で配食の相談")
    carol.says(group, "困りごと 第2校区で通院の相談")

    renamed = alice.says(group, "地区名変更 第1校区 東校区")
    merged = alice.says(group, "地区統合 第2校区 東校区")

    assert renamed.text.startswith("地区「第1校区」を「東校区」にしました（困りごと 1 件も移しました）。")
    assert merged.text.startswith("地区「第2校区」を「東校区」にまとめました（困りごと 1 件を移しました）。")
    assert "世話役の方" in carol.says(group, "地区統合 第3校区 東校区").text
    assert "変更できませんでした" in alice.says(group, "地区名変更 第3校区 第4校区").text
    figures = report(world)
    assert figures.by_area[0] == ("東校区", 2) and len(figures.by_area) == 45
    with world.runtime.sessions() as session:
        assert area_names(session, session.scalars(select(Network)).one().id)[:2] == ["東校区", "第3校区"]


def test_the_areas_page_adds_renames_merges_and_orders(client, runtime, session):
    from test_dashboard_world import ORGS, form_token, jst, make_network, post, sign_in

    net = make_network(session, "Cgroup-areas", "Ucoord-areas", ORGS, jst(2026, 9, 1), "久留米ささえあいネット")
    post(session, net, "社協", "南の相談", jst(2026, 11, 2), area="南校区")
    session.commit()
    sign_in(client, runtime, net.coordinator)
    page = f"/dashboard/n/{net.id}/areas"

    def send(**form):  # type: ignore[no-untyped-def]
        return client.post(page, data={"csrf_token": form_token(client, page), **form})

    assert send(action="add", names="北校区 南校区 西校区").status_code == 302
    assert send(action="down", name="北校区").status_code == 302
    assert send(action="rename", name="西校区", new="西部校区").status_code == 302
    assert send(action="merge", name="南校区", into="北校区").status_code == 302
    assert send(action="rename", name="北校区", new="西部校区").status_code == 400  # taken

    html = client.get(page).get_data(as_text=True)
    assert "南校区" not in html.split("<table")[1]  # merged away
    with runtime.sessions() as check:
        # 北 南 西 → (北 down) 南 北 西 → (西 renamed) 南 北 西部 → (南 into 北) 北 西部
        assert area_names(check, net.id) == ["北校区", "西部校区"]
    november = client.get(f"/dashboard/n/{net.id}/report?month=2026-11").get_data(as_text=True)
    assert '<th scope="row">北校区</th><td class="num">1件</td>' in november
    assert '<th scope="row">西部校区</th><td class="num">0件</td>' in november
