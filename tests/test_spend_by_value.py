"""Spending LINE's counted messages by value (issue 17): free replies first, the cheapest
recipient, one push per group and day, and nothing pushed out of habit.

Transcripts against the fake LINE platform, which counts as LINE bills (a reply 0, a push 1
per recipient); the clock is the test's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import JST
from held import sent_or_held
from sqlalchemy import select, update

from bot.links import Links
from jobs.budget import settle_held
from jobs.followups import follow_up
from jobs.reports import push_monthly_figures
from models import LedgerEntry, Network, OutboxMessage, Thread


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob, eve = world.person("Carol"), world.person("Bob"), world.person("Eve")
    group.add(carol, bob, eve)
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    # A push to the group would take more than a twentieth of the month: notices wait for replies.
    assert "月 40 通" in carol.says(group, "プラン 40").text
    world.deliver()
    return group, carol, bob, eve


def run(world, job, at: datetime | None = None, **kwargs):
    if at is not None:
        world.runtime.clock.set(at)
    with world.runtime.sessions.begin() as session:
        job(session, world.runtime.clock.now(), **kwargs)
    return sent_or_held(world)


def ledger(world) -> list[tuple[str, str, int, str | None]]:
    with world.runtime.sessions() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        return [(row.kind, row.outcome, row.counted, row.reason) for row in rows]


def test_a_nudge_rides_on_the_next_free_reply_in_the_group(world, net):
    group, carol, bob, eve = net
    carol.says(group, "困りごと 配食サービスを探しています")  # Tue 24 Nov 10:00

    held = run(world, follow_up, datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    assert [d.via for d in held.deliveries] == ["held"] and held.text.startswith("#1 にまだ返信がありません。")
    # The answer buttons are on the card itself (quick replies vanish once anyone posts).
    assert [b["label"] for b in held.buttons] == ["伝手あり", "手伝えます"]
    assert world.platform.counted_this_month() == 0

    world.runtime.clock.set(datetime(2026, 11, 27, 11, 0, tzinfo=JST))
    answer = eve.says(group, "一覧")
    assert [d.via for d in answer.deliveries] == ["reply"]  # one free reply carried both
    assert answer.texts[-1].startswith("#1 にまだ返信がありません。")
    assert world.platform.counted_this_month() == 0
    assert ledger(world) == [("nudge", "ridden", 0, ledger(world)[0][3])]
    with world.runtime.sessions() as session:
        nudge = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "nudge"))
        assert (nudge.status, nudge.sent_via) == ("carried", "ride")


def test_a_nudge_no_reply_carried_is_dropped_with_its_reason_and_never_pushed(world, net):
    group, carol, _, _ = net
    carol.says(group, "困りごと 配食サービスを探しています")
    run(world, follow_up, datetime(2026, 11, 27, 10, 5, tzinfo=JST))

    assert not run(world, settle_held, datetime(2026, 11, 29, 10, 0, tzinfo=JST))  # not yet: 2 days
    assert not run(world, settle_held, datetime(2026, 11, 29, 10, 10, tzinfo=JST))
    [(kind, outcome, counted, reason)] = ledger(world)
    assert (kind, outcome, counted, reason) == ("nudge", "dropped", 0, "no_reply_to_carry")
    assert world.platform.counted_this_month() == 0
    # Past its time, a held notice rides on nothing: a reply now is only the reply.
    answer = carol.says(group, "一覧")
    assert "まだ返信がありません" not in answer.text


def test_the_follow_up_question_goes_1_to_1_to_a_poster_who_follows_the_bot(world, net):
    group, carol, bob, _ = net
    carol.follows_bot()
    carol.says(group, "困りごと 配食サービスを探しています")
    bob.says(group, "#1 伝手 社協の配食があります")  # with a 1:1 notice to Carol: 1 counted
    assert world.platform.counted_this_month() == 1

    asked = run(world, follow_up, datetime(2026, 12, 8, 10, 30, tzinfo=JST))
    assert [d.to for d in asked.deliveries] == [carol.id]  # 1 counted message, not the group's 3
    assert asked.texts[0] == "久留米ささえあいネットの #1 のその後を教えてください。下のボタンで記録できます。"
    assert world.platform.counted_this_month() == 1  # December's first

    eased = carol.presses(None, asked.button("少し楽になった"))  # pressed in the 1:1 chat
    assert "緩和" in eased.text and eased.deliveries[0].via == "reply"
    with world.runtime.sessions() as session:
        assert session.scalar(select(Thread.outcome)) == "eased"


def test_the_follow_up_question_for_a_poster_who_is_not_a_friend_waits_for_a_reply_in_the_group(world, net):
    group, carol, bob, eve = net
    carol.says(group, "困りごと 配食サービスを探しています")
    bob.says(group, "#1 伝手 社協の配食があります")
    held = run(world, follow_up, datetime(2026, 12, 8, 10, 30, tzinfo=JST))
    assert held.texts[0] == "@Carol さん、#1 のその後を教えてください。" and held.deliveries[0].via == "held"

    answer = eve.says(group, "一覧")
    assert "@Carol さん、#1 のその後を教えてください。" in answer.texts
    assert world.platform.counted_this_month() == 0


def test_no_monthly_figures_for_a_network_an_hour_old(world, net, runtime):
    _, carol, _, _ = net
    carol.follows_bot()
    links = Links("https://kasane.example.org", "test-session-key-not-secret")
    with world.runtime.sessions.begin() as session:  # the bot joined an hour before the 1st's 9:00
        session.execute(update(Network).values(created_at=datetime(2026, 12, 1, 8, 0, tzinfo=JST)))
    assert not run(world, push_monthly_figures, datetime(2026, 12, 1, 9, 0, tzinfo=JST), links=links)
    with world.runtime.sessions() as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "monthly_figures")) is None


def test_a_held_accompany_check_in_is_pushed_when_nothing_carried_it_folded_with_others(world, net):
    group, carol, _, _ = net
    carol.says(group, "困りごと ひきこもりがちな方の話し相手を探しています")
    carol.says(group, "困りごと 買い物の付き添いを探しています")
    carol.says(group, "#1 伴走")
    carol.says(group, "#2 伴走")
    held = run(world, follow_up, datetime(2026, 12, 24, 10, 30, tzinfo=JST))
    assert [d.via for d in held.deliveries] == ["held", "held"]

    pushed = run(world, settle_held, datetime(2026, 12, 31, 10, 35, tzinfo=JST))
    assert [d.via for d in pushed.deliveries] == ["push"]  # one request with both cards
    assert len(pushed.messages) == 2
    assert [(k, o, c) for k, o, c, _ in ledger(world)] == [("accompany", "sent", 3), ("accompany", "folded", 0)]


def test_stale_held_notices_do_not_ride(world, net):
    group, carol, _, eve = net
    carol.says(group, "困りごと 配食サービスを探しています")
    run(world, follow_up, datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    world.runtime.clock.advance(timedelta(days=3))
    assert "まだ返信がありません" not in eve.says(group, "一覧").text


def test_the_monthly_figures_include_the_months_count(world, net):
    group, carol, bob, _ = net
    carol.follows_bot()  # the organizer: the figures come 1:1
    carol.says(group, "困りごと 配食サービスを探しています")
    bob.says(group, "#1 伝手 社協の配食があります")  # a 1:1 notice to Carol: 1 counted in November
    links = Links("https://kasane.example.org", "test-session-key-not-secret")
    figures = run(world, push_monthly_figures, datetime(2026, 12, 1, 9, 0, tzinfo=JST), links=links)
    assert "LINE の送信数（この月）：1通" in figures.to(carol.id).text


def timeline_lines(world, number: int = 1) -> list[str]:
    from bot.web.dashboard.timeline import timeline

    with world.runtime.sessions() as session:
        thread = session.scalar(select(Thread).where(Thread.number == number))
        return [f"{e.title}：{'／'.join(e.lines)}" for e in timeline(session, thread) if "フォローアップ" in e.title]


def test_the_case_log_says_a_follow_up_was_sent_only_once_line_accepted_it(world, net):
    group, carol, _, eve = net
    carol.says(group, "困りごと 配食サービスを探しています")
    run(world, follow_up, datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    assert timeline_lines(world) == ["フォローアップ（3日後の呼びかけ）：グループの次の返信に添えて届けます（待機中）"]
    eve.says(group, "一覧")
    assert timeline_lines(world) == ["フォローアップ（3日後の呼びかけ）：返信に添えて届けました"]


def test_the_case_log_says_why_a_follow_up_was_not_sent(world, net):
    group, carol, _, _ = net
    carol.says(group, "困りごと 配食サービスを探しています")
    run(world, follow_up, datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    run(world, settle_held, datetime(2026, 11, 29, 10, 10, tzinfo=JST))
    assert timeline_lines(world) == [
        "フォローアップ（3日後の呼びかけ）：送れませんでした（添えられる返信がないまま時期を過ぎました）"
    ]
