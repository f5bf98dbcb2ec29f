"""The month's count against LINE's: reconciled at least hourly, organizers told at 80 % and 100 %
once each, in the next free reply; a quota call that fails leaves Kasane on its own ledger."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.pipeline import outbox
from bot.replies import compose
from jobs.budget import reconcile_quota
from models import OutboxMessage, QuotaMonth
from models.ledger import counted_this_month, month_of


def network_of(world, size: int):
    group = world.group()
    world.invite_bot(group)
    people = [world.person(f"P{i}") for i in range(size)]
    group.add(*people)
    people[0].says(group, "団体登録 民生委員の会")
    world.deliver()
    return group, people


def push(world, chat_id: str, body: str) -> None:
    with world.runtime.sessions.begin() as session:
        outbox.enqueue(session, chat_id, [compose.text(body)], now=world.runtime.clock.now())
    world.deliver()


def reconcile(world) -> None:
    with world.runtime.sessions.begin() as session:
        reconcile_quota(session, world.runtime.clock.now())
    world.deliver()


def quota(world) -> QuotaMonth | None:
    with world.runtime.sessions() as session:
        return session.get(QuotaMonth, month_of(world.runtime.clock.now()))


def calls(world, path: str) -> int:
    return len([r for r in world.platform.requests if r.path.endswith(path)])


def test_the_month_is_read_from_line_at_most_hourly(world):
    world.platform.set_plan(200)
    group, _ = network_of(world, 4)
    push(world, group.id, "お知らせ")
    reconcile(world)
    assert (quota(world).line_limit, quota(world).line_usage) == (200, 4)
    reconcile(world)
    assert calls(world, "/quota/consumption") == 1  # within the hour: not asked again
    world.runtime.clock.advance(timedelta(minutes=61))
    reconcile(world)
    assert calls(world, "/quota/consumption") == 2


def test_a_quota_call_that_fails_leaves_kasane_on_its_own_ledger_and_sending(world):
    group, _ = network_of(world, 4)
    world.platform.fail_next(1, status=500, endpoint="message_quota")
    reconcile(world)
    assert quota(world) is None or quota(world).line_usage is None
    push(world, group.id, "お知らせ")  # never blocked by the failed read
    with world.runtime.sessions() as session:
        assert counted_this_month(session, world.runtime.clock.now()) == 4


def test_at_80_percent_the_groups_are_told_once_in_their_next_free_reply(world):
    group, people = network_of(world, 5)
    people[0].says(group, "プラン 10")
    push(world, group.id, "一つめ")  # 5 of 10
    assert "8 割" not in people[1].says(group, "ヘルプ").text
    push(world, group.id, "二つめ")  # 10 of 10: told that the month is used up (once, not twice)
    first = people[1].says(group, "一覧")
    assert first.deliveries[0].via == "reply"
    told = [t for t in first.texts if t.startswith("お知らせ：今月の LINE の通数")]
    assert told == [
        "お知らせ：今月の LINE の通数が上限に達しました（10 / 10 通）。"
        "来月 1 日まで、こちらから送るお知らせは止まります（返信は届きます）。"
    ]
    assert "お知らせ：今月" not in people[2].says(group, "一覧").text


def test_quota_spent_mid_month_organizers_told_once_pushes_never_recorded_as_sent(world):
    group, people = network_of(world, 3)
    world.platform.monthly_limit_reached()
    for n in range(3):
        push(world, group.id, f"お知らせ{n}")
    assert calls(world, "/message/push") == 1  # the others were not tried: no storm
    answers = [people[0].says(group, "一覧").text, people[0].says(group, "一覧").text]
    assert [a.count("上限に達しました") for a in answers] == [1, 0]
    with world.runtime.sessions() as session:
        assert counted_this_month(session, world.runtime.clock.now()) == 0
        statuses = session.scalars(select(OutboxMessage.status)).all()
    assert "sent" in statuses and statuses.count("failed") == 3
