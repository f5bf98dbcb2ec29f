"""A chat that forgives (issue 21), as transcripts: every command gets an answer, slips get a
suggestion with a button, quick replies sit on the last message, responses mean something,
一覧 reads with filters and pages, ヘルプ is a card, quiet days are kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from test_followups import tick as follow_up_tick

from models import OutboxMessage, Response, Thread, ThreadEvent

JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def net(world):
    """A network with two informal and one formal organization, an outsider, and two 地区."""
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice, bob, carol, dave = (world.person(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    group.add(alice, bob, carol, dave)
    alice.says(group, "団体登録 子ども食堂ひまわり")  # first: organizer
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    carol.says(group, "団体登録 民生委員の会")
    alice.says(group, "地区登録 南校区 北校区")
    world.deliver()
    return group, alice, bob, carol, dave


def count(session, model, *where) -> int:
    session.expire_all()
    found = session.scalar(select(func.count()).select_from(model).where(*where))
    session.commit()
    return found


# --- every message gets an answer --------------------------------------------------------------
def test_an_unregistered_member_is_answered_at_most_every_ten_minutes(world, net, session, clock):
    group, alice, _, carol, dave = net
    card = carol.says(group, "困りごと 通院の付き添いを探しています")

    first = dave.says(group, "#1 伝手 町内会長さんに相談できます")
    assert "団体の登録が必要です" in first.text and "団体登録" in first.text
    assert not dave.presses(group, card.button("伝手あり"))  # within 10 minutes: not nagged
    clock.advance(timedelta(minutes=10))
    pressed = dave.presses(group, card.button("伝手あり"))
    assert "団体の登録が必要です" in pressed.text
    clock.advance(timedelta(minutes=11))
    assert "団体の登録が必要です" in dave.says(group, "困りごと 子どもの居場所").text
    assert not dave.says(group, "よろしくお願いします")  # plain conversation stays unanswered
    assert count(session, Response) == 0 and count(session, Thread) == 1


# --- suggest, never guess --------------------------------------------------------------------------
def test_a_slip_gets_a_suggestion_and_its_button_sends_the_command(world, net, session):
    group, _, bob, carol, _ = net
    carol.says(group, "困りごと 通院の付き添いを探しています")

    slip = bob.says(group, "困りこと 駅前の団地で一人暮らしの方が困っています")
    assert slip.text.startswith("もしかして『困りごと 駅前の団地で一人暮らしの方が困っています』ですか？")
    assert count(session, Thread) == 1  # nothing is done on a guess
    posted = bob.presses(group, slip.button("この内容で送る"))
    assert posted.texts[0].startswith("#2 困りごと\n駅前の団地で一人暮らしの方が困っています")

    no_hash = bob.says(group, "1 伝手 社協の移送サービス")
    assert "もしかして『#1 伝手 社協の移送サービス』ですか？" in no_hash.text
    answered = bob.presses(group, no_hash.button("この内容で送る"))
    assert "#1 に東部地域包括支援センターから伝手が届きました" in answered.text
    assert "もしかして『#1 解決』ですか？" in carol.says(group, "#1 かいけつ").text
    assert "もしかして『一覧』ですか？" in bob.says(group, "一欄").text
    assert "もしかして『ヘルプ』ですか？" in bob.says(None, "へるぷ").text
    assert not bob.says(group, "会議室を予約しました")


def test_a_suggestion_never_carries_raw_identifiers(world, net, session):
    group, _, bob, *_ = net
    slip = bob.says(group, "困りこと 田中さん（090-1234-5678）の見守り")
    assert "［電話番号］" in slip.text and "5678" not in str(slip.messages)
    session.expire_all()
    queued = session.scalars(select(OutboxMessage.messages)).all()
    session.commit()
    assert "5678" not in str(queued) and "田中さん" not in str(queued)


# --- quick replies on the last message ----------------------------------------------------------------
def test_the_correction_chips_ride_on_the_privacy_notice_when_something_was_masked(world, net):
    group, _, _, carol, _ = net
    answer = carol.says(group, "困りごと 田中さん（090-1234-5678）の通院の付き添いを探しています")
    card, notice = answer.messages
    assert card["type"] == "flex" and "quickReply" not in card
    assert "電話番号" in notice["text"] and [i["action"]["label"] for i in notice["quickReply"]["items"]][:2] == [
        "高齢",
        "障害",
    ]
    fixed = carol.presses(group, answer.button("健康"))
    assert fixed.text == "#1 の分野を「健康」にしました。"


# --- responses that mean something ----------------------------------------------------------------------
def test_the_posters_own_organization_comments_and_the_same_answer_counts_once(world, net, session):
    group, _, bob, carol, _ = net
    card = carol.says(group, "困りごと 通院の付き添いを探しています")

    own = carol.says(group, "#1 伝手 民生委員の仲間に聞いてみます")
    assert "あなたの団体の困りごとなので、伝手ではなくコメントとして記録しました" in own.text
    carol.presses(group, card.button("手伝えます"))
    pressed_own = carol.says(group, "私が付き添えます")
    assert "申し出ではなくコメントとして記録しました" in pressed_own.text
    thread = session.scalar(select(Thread))
    session.refresh(thread)
    assert (thread.connection_count, thread.offer_count, thread.first_response_at) == (0, 0, None)
    session.commit()
    # No その後いかがですか for a thread only its own organization answered.
    assert not follow_up_tick(world, datetime(2026, 12, 9, 10, 0, tzinfo=JST)).text.count("その後")

    bob.says(group, "#1 伝手 社協の移送サービス")
    again = bob.says(group, "#1 伝手 社協の移送サービス")
    assert again.text == "#1 には、同じ伝手を記録済みです（同じ内容は1日に1回だけ記録します）。"
    assert count(session, Response, Response.kind == "connection") == 1


# --- 一覧 that reads --------------------------------------------------------------------------------------------
def test_the_list_reads_filters_and_pages(world, net, session):
    group, alice, bob, carol, dave = net
    for n in range(12):
        who = carol if n % 2 else bob
        area = "南校区" if n < 4 else "北校区"
        who.says(group, f"困りごと {area}で一人暮らしの高齢の方の見守りをお願いしたいです（{n + 1}件目）")

    alice.says(group, "#1 同意あり")  # the organizer records the person's consent: the list may show it
    page = alice.says(group, "一覧")
    head = "受付中の困りごと（古い順）\n1〜10件目／全12件\n#1　今日　高齢・南校区　伝手0・申し出0\n"
    assert page.texts[0].startswith(head)
    assert "\n南校区で一人暮らしの高齢の方の見守りをお願いしたいです（1件…\n" in page.text  # 30 characters
    assert "#11" not in page.text
    more = alice.presses(group, page.button("続きを見る"))
    assert "11〜12件目／全12件" in more.text and "#11" in more.text and not more.buttons

    south = alice.says(group, "一覧 南校区")
    assert "受付中の困りごと：南校区（古い順）\n1〜4件目／全4件" in south.text
    mine = carol.says(group, "一覧 自分")
    assert "自分の団体" in mine.text and "1〜6件目／全6件" in mine.text
    assert "1〜10件目／全12件" in alice.says(group, "一覧 高齢").text
    unknown = alice.says(group, "一覧 東校区")
    assert "「一覧 東校区」は分かりませんでした" in unknown.text and "南校区、北校区" in unknown.text
    assert "団体の登録が必要です" in dave.says(group, "一覧 自分").text


# --- ヘルプ as a card ------------------------------------------------------------------------------------------
def test_help_is_a_card_with_five_topics_one_tap_each(world, net):
    group, alice, *_ = net
    card = alice.says(group, "ヘルプ")
    assert card.messages[0]["type"] == "flex"
    assert [b["label"] for b in card.buttons] == ["投稿", "答える", "結果", "会議", "ダッシュボード"]
    expected = {
        "投稿": "困りごと 内容",
        "答える": "#12 伝手 内容",
        "結果": "#12 つなぎ 機関名",
        "会議": "会議設定",
        "ダッシュボード": "ログイン",
    }
    for topic, command in expected.items():
        detail = alice.presses(group, card.button(topic))
        assert detail.text.startswith(f"【{topic}】") and command in detail.text


# --- the 1:1 chat's rich menu buttons answer there -------------------------------------------------------------
def test_the_rich_menu_commands_answer_in_the_one_to_one_chat(world, net):
    _, alice, bob, *_ = net
    assert "ダッシュボードを開く" in str(alice.says(None, "ログイン").buttons)  # the organizer
    meetings = bob.says(None, "会議")
    assert "【久留米ささえあいネット】" in meetings.text
    assert "/calendar/" in alice.says(None, "カレンダー").text
    assert alice.says(None, "ヘルプ").button("投稿")


# --- an unsent post says so in the timeline ---------------------------------------------------------------------------
def test_an_unsend_is_recorded_as_the_posters(world, net, session):
    group, _, _, carol, _ = net
    carol.says(group, "困りごと 通院の付き添いを探しています")
    posted = session.scalar(select(Thread))
    session.commit()
    world.send(world.line.unsend(group.id, carol.id, posted.message_id))
    event = session.scalar(select(ThreadEvent).where(ThreadEvent.kind == "retracted"))
    assert event is not None and event.actor_id is not None
