"""The ledger of counted messages: every push LINE accepts is counted as LINE counts it, in the
transaction that marks it sent; LINE's monthly limit is handled as exactly that."""

from __future__ import annotations

from datetime import datetime, timedelta

from conftest import JST
from sqlalchemy import select

from bot import metrics
from bot.pipeline import outbox
from bot.replies import compose
from models import LedgerEntry, OutboxMessage
from models.ledger import Kind, counted_this_month


def queue(world, chat_id: str, body: str, **kwargs) -> int:
    runtime = world.runtime
    with runtime.sessions.begin() as session:
        [row_id] = outbox.enqueue(session, chat_id, [compose.text(body)], now=runtime.clock.now(), **kwargs)
    return row_id


def outbox_row(world, row_id: int) -> OutboxMessage:
    with world.runtime.sessions() as session:
        return session.get(OutboxMessage, row_id)


def ledger(world) -> list[LedgerEntry]:
    with world.runtime.sessions() as session:
        return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))


def pushes(platform) -> int:
    return len([r for r in platform.requests if r.path.endswith("/message/push")])


def counted(world) -> int:
    with world.runtime.sessions() as session:
        return counted_this_month(session, world.runtime.clock.now())


def network_of(world, size: int):
    group = world.group()
    world.invite_bot(group)
    people = [world.person(f"P{i}") for i in range(size)]
    group.add(*people)
    return group, people


def test_a_group_push_counts_its_members_and_a_reply_nothing(world):
    group, people = network_of(world, 6)
    people[0].says(group, "ヘルプ")  # answered by reply: free, no ledger row
    assert ledger(world) == []

    queue(world, group.id, "お知らせ", kind=Kind.NUDGE)
    world.deliver()
    [entry] = ledger(world)
    assert (entry.kind, entry.counted, entry.outcome, entry.recipients) == ("nudge", 6, "sent", "group")
    assert counted(world) == 6 == world.platform.counted_this_month()
    assert metrics.counted_messages_this_month is not None


def test_a_push_to_a_friend_counts_one(world):
    dan = world.person("Dan")
    dan.follows_bot()
    queue(world, dan.id, "集計です", kind=Kind.MONTHLY_FIGURES)
    world.deliver()
    assert [(e.kind, e.counted, e.recipients) for e in ledger(world)] == [("monthly_figures", 1, "user")]


def test_the_member_count_is_asked_once_an_hour_and_its_failure_falls_back_to_known_members(world):
    group, people = network_of(world, 4)
    for person in people:
        person.says(group, f"団体登録 {person.name}の会")  # Kasane knows the four as members
    world.platform.fail_next(1, status=500, endpoint="group_member_count")
    queue(world, group.id, "一つめ")
    world.deliver()
    queue(world, group.id, "二つめ")
    world.deliver()
    asked = [r for r in world.platform.requests if r.path.endswith("/members/count")]
    assert [r.status for r in asked] == [500, 200]  # the failed answer was not kept
    # Kasane knew the four who joined; LINE counted four too.
    assert [e.counted for e in ledger(world)] == [4, 4]
    queue(world, group.id, "三つめ")
    world.deliver()
    assert len([r for r in world.platform.requests if r.path.endswith("/members/count")]) == 2


def test_quota_spent_mid_month_replies_keep_working_and_pushes_stop_without_a_storm(world):
    group, people = network_of(world, 5)
    world.platform.set_plan(8)  # one push to the five, not two
    first = queue(world, group.id, "一つめ")
    world.deliver()
    refused = [queue(world, group.id, f"{n}つめ") for n in ("二", "三", "四")]
    world.deliver()
    for _ in range(5):
        world.runtime.clock.advance(timedelta(minutes=10))
        world.deliver()

    assert pushes(world.platform) == 2  # one accepted, one refused: the others never asked LINE
    assert outbox_row(world, first).status == "sent"
    for row_id in refused:
        row = outbox_row(world, row_id)
        assert row.status == "failed" and "monthly limit" in row.last_error and row.sent_at is None
    assert [(e.outcome, e.counted, e.reason) for e in ledger(world)] == [("sent", 5, None)] + [
        ("dropped", 0, "monthly_limit")
    ] * 3
    assert counted(world) == 5
    answer = people[0].says(group, "ヘルプ")
    assert answer.deliveries and answer.deliveries[0].via == "reply"


def test_a_push_refused_on_the_last_evening_waits_for_the_first(world):
    group, _ = network_of(world, 3)
    world.runtime.clock.set(datetime(2026, 11, 30, 22, 0, tzinfo=JST))
    world.platform.monthly_limit_reached()
    waiting = queue(world, group.id, "月末のお知らせ")
    world.deliver()
    row = outbox_row(world, waiting)
    assert row.status == "pending" and "monthly limit" in row.last_error
    assert row.next_attempt_at == datetime(2026, 12, 1, tzinfo=JST)

    world.runtime.clock.set(datetime(2026, 12, 1, 0, 5, tzinfo=JST))  # a new month at LINE too
    world.deliver()
    assert outbox_row(world, waiting).status == "sent"
    assert [e.counted for e in ledger(world) if e.outcome == "sent"] == [3]
