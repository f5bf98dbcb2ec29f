"""見守り counted, and the 事例集: 気にかけています counts as 見守り in the report (004's 見守り訪問活動
件数); a coordinator marks a closed thread 事例として共有 and exports the marked ones anonymised."""

from __future__ import annotations

import io

import openpyxl
import pytest
from test_dashboard_world import form_token, jst, october_case_log, post, sign_in

from models.report import month_period, monthly_report


@pytest.fixture
def net(session):
    net = october_case_log(session)
    # T6's summary names an organization of the network: the 事例集 must not.
    net.threads[5].summary = "子ども食堂ひまわりに来ている方の就労（電話［電話番号］）"
    post(session, net, "社協", "まだ続いている相談", jst(2026, 10, 9), category="孤立")
    session.commit()
    return net


def test_watching_counts_as_mimamori(session, net):
    october = monthly_report(session, net.network, month_period(2026, 10, "Asia/Tokyo"))
    assert (october.watches, october.watched) == (1, 1)  # 東部包括 watched T7 on 10-26


def test_marked_closed_threads_export_as_an_anonymised_casebook(client, runtime, net):
    sign_in(client, runtime, net.coordinator)

    def share(number: int, shared: str = "1"):  # type: ignore[no-untyped-def]
        path = f"/dashboard/n/{net.id}/threads/{number}"
        return client.post(f"{path}/share", data={"csrf_token": form_token(client, path), "shared": shared})

    assert share(6).status_code == 302 and share(3).status_code == 302 and share(4).status_code == 302
    assert share(4, "0").status_code == 302  # unmarked again
    assert share(13).status_code == 400  # still open
    page = client.get(f"/dashboard/n/{net.id}/threads/6").get_data(as_text=True)
    assert "事例集に載っています" in page and "事例集に載せます" in page

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/n/{net.id}/casebook.xlsx").data))
    rows = list(book["事例集"].iter_rows(values_only=True))
    assert rows[0][:5] == ("番号", "分野", "地区", "要約（伏せ字済み・団体名は同意のあるものだけ）", "結果")
    assert [row[0] for row in rows[1:]] == [3, 6]
    t6 = rows[2]
    assert t6[1:4] == ("障害", "西部", "（団体）に来ている方の就労（電話［電話番号］）")
    assert t6[4] == "つなぎ（フォーマル（専門機関））" and t6[5:8] == (1, 1, 9)  # 10-20 08:00 to 10-30 00:00
    assert t6[8] is None  # 投稿団体: nobody agreed to be named (the default)
    everything = str(rows)
    for name in ("子ども食堂ひまわり", "東部包括", "社協", "民生委員会", "生活自立支援センター"):
        assert name not in everything


def test_an_organization_named_in_the_casebook_only_when_it_agreed(world, client, runtime):
    from sqlalchemy import select

    from models import Network

    group = world.group()
    world.invite_bot(group)
    alice, bob, carol = world.person("Alice"), world.person("Bob"), world.person("Carol")
    group.add(alice, bob, carol)
    alice.says(group, "団体登録 子ども食堂ひまわり")  # the first: the organizer
    bob.says(group, "団体登録 東部包括 フォーマル")
    carol.says(group, "団体登録 民生委員の会")
    carol.says(group, "困りごと 子ども食堂ひまわりと東部包括で見守っている方の通院")
    carol.says(group, "#1 解決")
    sign_in(client, runtime, alice.id)
    with runtime.sessions() as session:
        network_id = session.scalar(select(Network)).id
    path = f"/dashboard/n/{network_id}/threads/1"
    client.post(f"{path}/share", data={"csrf_token": form_token(client, path), "shared": "1"})

    def story():  # type: ignore[no-untyped-def]
        book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/n/{network_id}/casebook.xlsx").data))
        row = list(book["事例集"].iter_rows(values_only=True))[1]
        return row[3], row[8]

    assert story() == ("（団体）と（団体）で見守っている方の通院", None)  # by default nobody is named

    assert bob.says(group, "事例集 名前を出す").text.startswith("事例集に「東部包括」の名前を出すことを記録しました。")
    assert bob.says(group, "事例集 名前を出す").text == "「東部包括」は、すでに事例集に名前を出すことになっています。"
    assert bob.says(group, "事例集 名前を出す 子ども食堂ひまわり").text == (
        "ほかの団体の分を記録できるのは世話役の方です。その団体の方にお願いしてください。"
    )
    assert "形：事例集 名前を出す" in bob.says(group, "事例集 よろしく").text
    assert alice.says(group, "事例集 名前を出す 宇宙団体").text == "「宇宙団体」という団体は登録されていません。"
    assert alice.says(group, "事例集 名前を出す 民生委員の会").text.startswith("事例集に「民生委員の会」の名前を")
    assert story() == ("（団体）と東部包括で見守っている方の通院", "民生委員の会")
    assert (
        carol.says(group, "事例集 名前を出さない").text
        == "事例集では「民生委員の会」の名前を出さないことを記録しました。"
    )
    assert story() == ("（団体）と東部包括で見守っている方の通院", None)

    orgs = client.get(f"/dashboard/n/{network_id}/organizations").get_data(as_text=True)
    rows = {
        row.split("</a></th>")[0].rsplit(">", 1)[1]: row.split("</tr>")[0]
        for row in orgs.split("<tr>")
        if "</a></th>" in row
    }
    assert rows["東部包括"].endswith("<td>出す</td>")  # the 団体 page says where each stands
    assert rows["民生委員の会"].endswith("<td>出さない</td>")
    with runtime.sessions() as session:  # recorded: who, when, each change kept
        log = session.scalar(select(Network)).settings["casebook_naming"]
    assert [(entry["named"], entry["at"][:10]) for entry in log] == [(True, "2026-11-24")] * 2 + [(False, "2026-11-24")]
    assert len({entry["by"] for entry in log}) == 3  # Bob, Alice for 民生委員の会, Carol
