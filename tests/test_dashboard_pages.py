"""The dashboard's pages as a coordinator uses them: filter, open a thread, note, correct."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from test_dashboard_world import form_token, jst, october_case_log, sign_in

from models import EventKind, ThreadEvent
from models.dashboard import ThreadNote


@pytest.fixture
def net(session, client, runtime):
    net = october_case_log(session)
    sign_in(client, runtime, net.coordinator)
    return net


def numbers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<th scope="row"[^>]*><a href="[^"]+">#(\d+)</a></th>', page)]


def test_the_thread_list_filters_sorts_and_counts(client, session, net):
    base = f"/dashboard/n/{net.id}/threads"
    page = client.get(base).get_data(as_text=True)
    assert numbers(page) == [9, 8, 7, 6, 5, 10, 4, 12, 11, 3, 2, 1]  # newest first
    assert "<dt>該当</dt><dd>12件</dd>" in page and "<dt>受付中</dt><dd>5件</dd>" in page

    assert numbers(client.get(f"{base}?month=2026-10&sort=old").get_data(as_text=True)) == [
        2,
        3,
        11,
        12,
        4,
        10,
        5,
        6,
        7,
        8,
    ]
    assert numbers(client.get(f"{base}?outcome=referred").get_data(as_text=True)) == [6, 2]
    assert numbers(client.get(f"{base}?outcome=none&state=open").get_data(as_text=True)) == [9, 8, 10, 1]
    assert numbers(client.get(f"{base}?category=高齢&area=西部").get_data(as_text=True)) == [7]
    org = net.org("社協").id
    session.rollback()  # SQLite: the test's read must not hold the lock the app needs
    assert numbers(client.get(f"{base}?organization={org}").get_data(as_text=True)) == [5, 12]
    assert numbers(client.get(f"{base}?q=付き添い").get_data(as_text=True)) == [2]
    assert numbers(client.get(f"{base}?q=%25").get_data(as_text=True)) == []  # LIKE wildcards are text
    closed = numbers(client.get(f"{base}?sort=closed").get_data(as_text=True))
    assert closed[:3] == [12, 6, 5] and closed[-5:] == [10, 9, 8, 7, 1]  # still open: last
    ignored = client.get(f"{base}?month=2026-13&page=x&sort=nope")  # bad input is ignored: the whole list
    assert ignored.status_code == 200
    assert numbers(ignored.get_data(as_text=True)) == numbers(client.get(base).get_data(as_text=True)) != []


def test_the_list_is_paginated(client, net, monkeypatch):
    from bot.web.dashboard import caselog

    monkeypatch.setattr(caselog, "PER_PAGE", 5)
    first = client.get(f"/dashboard/n/{net.id}/threads").get_data(as_text=True)
    third = client.get(f"/dashboard/n/{net.id}/threads?page=3").get_data(as_text=True)
    assert numbers(first) == [9, 8, 7, 6, 5] and "1 / 3 ページ" in first and 'rel="next"' in first
    assert numbers(third) == [2, 1] and 'rel="prev"' in third and 'rel="next"' not in third


def test_a_thread_shows_its_timeline(client, net):
    page = client.get(f"/dashboard/n/{net.id}/threads/6").get_data(as_text=True)
    assert "T6 障害のある方の就労" in page
    for text in (
        "投稿",
        "伝手",
        "相談窓口があります",
        "手伝えます",
        "同行できます",
        "結果の記録",
        "未完了 → つなぎ",
        "つなぎ先：生活自立支援センター",
        "社協の担当（社協）",
        "子ども食堂ひまわりの担当（子ども食堂ひまわり）",
    ):
        assert text in page, text
    retracted = client.get(f"/dashboard/n/{net.id}/threads/10").get_data(as_text=True)
    assert "投稿が取り消されました" in retracted and "T10" not in retracted


def test_correcting_an_outcome_needs_a_reason_and_keeps_history(client, session, net):
    path = f"/dashboard/n/{net.id}/threads/4"
    token = form_token(client, path)

    refused = client.post(f"{path}/outcome", data={"csrf_token": token, "outcome": "resolved", "reason": " "})
    assert refused.status_code == 400 and "修正の理由を入力してください" in refused.get_data(as_text=True)
    refused = client.post(f"{path}/outcome", data={"csrf_token": token, "outcome": "referred", "reason": "確認"})
    assert refused.status_code == 400 and "つなぎ先を入力してください" in refused.get_data(as_text=True)

    done = client.post(
        f"{path}/outcome",
        data={"csrf_token": token, "outcome": "referred", "referred_to": "社協", "reason": "電話 090-1234-5678 で確認"},
    )
    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "緩和 → つなぎ" in page and "未完了 → 緩和" in page  # both records stay
    assert "修正の理由：電話" in page and "090-1234-5678" not in page  # masked like every stored text
    assert "コーディネーター・ダッシュボード" in page
    events = session.scalars(
        select(ThreadEvent).where(ThreadEvent.kind == EventKind.OUTCOME, ThreadEvent.via == "dashboard")
    )
    (event,) = events.all()
    assert event.detail["before"]["outcome"] == "eased" and event.detail["referred_to"] == "社協"


def test_notes_stay_on_the_dashboard(client, session, net):
    path = f"/dashboard/n/{net.id}/threads/3"
    token = form_token(client, path)
    assert client.post(f"{path}/notes", data={"csrf_token": token, "text": ""}).status_code == 400
    assert client.post(f"{path}/notes", data={"csrf_token": token, "text": "家族と面談予定"}).status_code == 302

    page = client.get(path).get_data(as_text=True)
    assert "家族と面談予定" in page and "メモの追加" in page
    note = session.scalar(select(ThreadNote))
    event = session.scalar(select(ThreadEvent).where(ThreadEvent.kind == EventKind.NOTE))
    assert note.text == "家族と面談予定"
    # The timeline event says only that a note was added: never its text.
    assert "家族" not in str(event.detail) and event.via == "dashboard"


def test_map_organizations_meetings_and_home(client, net):
    page = client.get(f"/dashboard/n/{net.id}/map?from=2026-10&to=2026-10").get_data(as_text=True)
    assert "<svg" in page and 'class="node formal"' in page and 'class="node informal"' in page
    assert (
        '<td>東部包括</td><td>フォーマル</td><td>子ども食堂ひまわり</td><td>インフォーマル</td><td class="num">3</td>'
        in page
    )
    empty = client.get(f"/dashboard/n/{net.id}/map?from=2020-01&to=2020-02").get_data(as_text=True)
    assert "記録はありません" in empty
    orgs = client.get(f"/dashboard/n/{net.id}/organizations").get_data(as_text=True)
    assert "東部包括" in orgs and "フォーマル" in orgs
    meetings = client.get(f"/dashboard/n/{net.id}/meetings").get_data(as_text=True)
    # The meetings page itself (the navigation says 会議 on every page): the next meeting's section.
    assert "<h1>会議</h1>" in meetings and "次の会議" in meetings, meetings
    assert "会議の機能が入ると" not in meetings  # the fallback for when the meetings model fails
    home = client.get("/dashboard/").get_data(as_text=True)
    assert "先月の月報（2026-10）" in home


def test_past_discussions_appear_on_the_meetings_page(client, session, net):
    from models.casework import record_event

    record_event(session, net.threads[2], EventKind.DISCUSSED, jst(2026, 10, 28, 14), meeting="2026-10-28")
    session.commit()
    page = client.get(f"/dashboard/n/{net.id}/meetings").get_data(as_text=True)
    assert "2026-10-28" in page and "#3（子ども）" in page
