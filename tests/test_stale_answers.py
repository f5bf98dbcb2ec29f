"""No stale acknowledgements (issue 17): an answer whose reply token expired before the sender got
to it (a backlog, an outage) is not pushed by habit, where a push to a group counts once per member.

- an answer that only acknowledged an action is dropped, with its reason in the ledger (the
  action is recorded and shows in #N);
- late answers waiting for one chat leave merged, in one push;
- what people must see (the poster's 伝手 notice) is still pushed.

Transcripts against the fake LINE platform, which counts as LINE bills; events are recorded by
the webhook, then handled only after the token's life (the test's clock moves on in between).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from conftest import JST, make_config
from sqlalchemy import select

from bot.fakeline.webhook import encode_body
from jobs.followups import follow_up
from models import LedgerEntry, OutboxMessage, Thread

LATE = timedelta(minutes=3)  # LINE's reply tokens live a minute


@pytest.fixture
def config(database_url, line_server):
    # Kasane stops waiting for LINE before the fake answers a held request: an unknown outcome.
    return make_config(database_url, line_server.url, line={"request_timeout": 0.5})


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob, eve = world.person("Carol"), world.person("Bob"), world.person("Eve")
    group.add(carol, bob, eve)
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    eve.says(group, "団体登録 社会福祉協議会 フォーマル")
    posted = carol.says(group, "困りごと 配食サービスを探しています")
    world.deliver()
    assert world.platform.counted_this_month() == 0  # everything so far was a free reply
    return group, carol, bob, eve, posted


def backlog(world, *events) -> None:
    """LINE delivered these events and the webhook recorded them; the worker gets to them late."""
    for event in events:
        assert world.post(encode_body(world.line.payload(event))).status_code == 200
    world.runtime.clock.advance(LATE)


def ledger(world) -> list[tuple[str, str, int, str | None]]:
    with world.runtime.sessions() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        return [(row.kind, row.outcome, row.counted, (row.reason or "").split(":")[0] or None) for row in rows]


def pushes(answer) -> list:
    return [d for d in answer.deliveries if d.via == "push"]


def test_acknowledgements_that_missed_their_token_are_dropped_and_the_actions_stay_recorded(world, net):
    group, carol, bob, eve, posted = net
    backlog(
        world,
        world.line.postback(group.id, eve.id, posted.button("気にかけています")["data"]),
        world.line.text(group.id, carol.id, "#1 緩和"),  # 「#1 を「緩和」として記録しました」
    )

    late = world.deliver()

    assert not late.deliveries  # no push to the group of 3: the acknowledgements are not news now
    assert world.platform.counted_this_month() == 0
    assert ledger(world) == [("ack", "dropped", 0, "stale_ack"), ("ack", "dropped", 0, "stale_ack")]
    with world.runtime.sessions() as session:
        assert session.scalar(select(Thread.outcome)) == "eased"  # the actions themselves took effect
        dropped = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ack")).all()
        assert {(row.status, row.last_error) for row in dropped} == {("dropped", "stale_ack")}
    shown = carol.says(group, "#1")  # and #N shows them (a fresh reply, free)
    assert "緩和" in shown.text and world.platform.counted_this_month() == 0


def test_late_answers_to_one_group_leave_in_one_push_and_the_acknowledgement_is_dropped(world, net):
    group, carol, bob, eve, _ = net
    backlog(
        world,
        world.line.text(group.id, eve.id, "一覧"),
        world.line.text(group.id, carol.id, "#1 緩和"),  # only an acknowledgement
        world.line.text(group.id, bob.id, "ヘルプ"),
    )

    late = world.deliver()

    [push] = pushes(late)  # one request, not one push per answer
    assert push.to == group.id and not [d for d in late.deliveries if d.via == "reply"]
    texts = late.texts
    assert texts[0] == "返信が遅れました。届けられなかった返信をまとめてお送りします。"
    assert texts[1].startswith("受付中の困りごと") and "\n#1\u3000今日\u3000" in texts[1]  # Eve's 一覧
    assert "配食サービス" not in texts[1]  # its summary stays out of the group: no 本人同意 yet
    assert texts[2].startswith("使い方")  # the help card Bob asked for
    assert not any("として記録しました" in text for text in texts)
    assert len(push.messages) <= 5
    members = len(group.members)  # Carol, Bob and Eve: LINE counts a push to the group 3 times
    assert world.platform.counted_this_month() == members  # one push to the group: its members, once
    assert sorted(ledger(world)) == sorted(
        [("ack", "dropped", 0, "stale_ack"), ("answer", "sent", members, None), ("answer", "folded", 0, "fold")]
    )


def test_the_posters_notice_still_arrives_when_its_reply_token_expired(world, net):
    group, carol, bob, eve, _ = net
    backlog(world, world.line.text(group.id, bob.id, "#1 伝手 社協の配食サービスがあります"))

    late = world.deliver()

    [push] = pushes(late)
    assert push.to == group.id
    assert late.texts == [
        "@Carol さん、#1 に東部地域包括支援センターから伝手が届きました：社協の配食サービスがあります"
    ]
    assert ledger(world) == [("notice", "sent", len(group.members), None)]


def test_a_fresh_acknowledgement_is_still_a_free_reply(world, net):
    group, carol, _, _, _ = net
    answer = carol.says(group, "#1 緩和")
    assert [d.via for d in answer.deliveries] == ["reply"] and "緩和" in answer.text
    assert world.platform.counted_this_month() == 0 and ledger(world) == []


def lost_reply_answer(world, event) -> None:
    """LINE takes the reply but its answer never comes back; then the token expires."""
    world.platform.timeout_next(1, seconds=0.8, processed=True, endpoint="reply")
    world.post(encode_body(world.line.payload(event)))
    world.runtime.inbox.drain()
    world.runtime.sender.drain()
    world.runtime.clock.advance(LATE)


def test_an_answer_whose_reply_outcome_was_lost_is_not_pushed_once_its_token_expired(world, net):
    group, _, _, eve, _ = net
    lost_reply_answer(world, world.line.text(group.id, eve.id, "一覧"))

    late = world.deliver()

    assert [d.via for d in late.deliveries] == ["reply"]  # what LINE took: the list arrived once
    assert world.platform.counted_this_month() == 0
    assert ledger(world) == [("answer", "dropped", 0, "reply_outcome_unknown")]


def test_a_notice_whose_reply_outcome_was_lost_is_pushed_once_its_token_expired(world, net):
    # The poster must learn of the 伝手: pushed, at worst twice, never lost (LINE offers no way to
    # ask whether a reply arrived).
    group, carol, bob, _, _ = net
    lost_reply_answer(world, world.line.text(group.id, bob.id, "#1 伝手 社協の配食サービスがあります"))

    late = world.deliver()

    assert [d.via for d in late.deliveries] == ["reply", "push"]
    assert ledger(world) == [("notice", "sent", len(group.members), None)]


def test_a_held_nudge_on_a_dropped_acknowledgement_waits_for_the_next_free_reply(world, net):
    group, carol, _, eve, posted = net
    assert "月 40 通" in carol.says(group, "プラン 40").text  # a group push is dear: nudges are held
    world.runtime.clock.set(datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    with world.runtime.sessions.begin() as session:
        follow_up(session, world.runtime.clock.now())  # 3 days without an answer: a nudge, held
    backlog(world, world.line.postback(group.id, eve.id, posted.button("気にかけています")["data"]))

    assert not world.deliver().deliveries  # the late acknowledgement (the nudge rode on it) is dropped
    assert ledger(world) == [("ack", "dropped", 0, "stale_ack")]

    answer = eve.says(group, "一覧")  # the next free reply carries the nudge
    assert answer.texts[-1].startswith("#1 にまだ返信がありません。")
    assert world.platform.counted_this_month() == 0
    assert ledger(world)[-1][:2] == ("nudge", "ridden")


def test_a_members_next_answer_waits_for_their_late_answer_merged_into_another_push(world, net):
    group, _, bob, eve, _ = net
    backlog(world, world.line.text(group.id, eve.id, "一覧"), world.line.text(group.id, bob.id, "ヘルプ"))
    world.platform.fail_next(1, status=500, endpoint="push")  # the merged push must be tried again
    assert not world.deliver().deliveries

    asked_again = bob.says(group, "一覧")  # Bob's lane: his late help card has not left yet
    assert not asked_again.deliveries
    world.runtime.clock.advance(timedelta(seconds=5))

    late = world.deliver()

    assert [d.via for d in late.deliveries] == ["push", "reply"]  # in the order Bob asked
    assert late.deliveries[0].messages[2]["altText"].startswith("【使い方】")
    assert late.to(group).texts[-1].startswith("受付中の困りごと")
