"""Follow-up jobs with a controlled clock: each fires once, at the right time, never in quiet hours."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from conftest import JST, require_postgres
from held import sent_or_held
from sqlalchemy import func, select

from jobs.followups import follow_up
from models import OutboxMessage, Thread, ThreadEvent


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob = world.person("Carol"), world.person("Bob")
    group.add(carol, bob)
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    world.deliver()
    return group, carol, bob


def tick(world, at: datetime | None = None):
    """Run the follow-up job as the scheduler would, then what it queued: delivered, or held for
    the next free reply in the group (tests/held.py)."""
    runtime = world.runtime
    if at is not None:
        runtime.clock.set(at)
    with runtime.sessions.begin() as session:
        follow_up(session, runtime.clock.now())
    return sent_or_held(world)


def events(session, kind: str) -> int:
    n = session.scalar(select(func.count(ThreadEvent.id)).where(ThreadEvent.kind == kind))
    session.commit()
    return n


def test_unanswered_thread_is_nudged_once_then_flagged(world, net, session):
    group, carol, _ = net
    carol.says(group, "困りごと 配食サービスを探しています")  # Tue 24 Nov 10:00

    assert not tick(world, datetime(2026, 11, 27, 9, 59, tzinfo=JST))  # 3 days minus a minute
    nudge = tick(world, datetime(2026, 11, 27, 10, 5, tzinfo=JST))
    assert nudge.text.startswith("#1 にまだ返信がありません。")
    assert not tick(world, datetime(2026, 11, 27, 10, 10, tzinfo=JST))

    tick(world, datetime(2026, 12, 1, 10, 5, tzinfo=JST))  # 7 days: on the agenda, nothing sent
    flagged = session.scalar(select(Thread.flagged_at))
    session.commit()
    assert flagged is not None and events(session, "flagged") == 1
    tick(world, datetime(2026, 12, 2, 10, 5, tzinfo=JST))
    assert events(session, "flagged") == 1 and events(session, "followup") == 1


def test_nothing_is_sent_in_quiet_hours(world, net, session):
    group, carol, _ = net
    carol.says(group, "困りごと 配食サービスを探しています")

    assert not tick(world, datetime(2026, 11, 27, 21, 0, tzinfo=JST))
    assert not tick(world, datetime(2026, 11, 28, 8, 59, tzinfo=JST))
    assert tick(world, datetime(2026, 11, 28, 9, 0, tzinfo=JST)).text.startswith("#1 にまだ返信")


def test_answered_thread_gets_how_did_it_go_twice_at_most(world, net, session):
    group, carol, bob = net
    carol.says(group, "困りごと 配食サービスを探しています")
    bob.says(group, "#1 伝手 社協の配食があります")

    assert not tick(world, datetime(2026, 12, 8, 9, 0, tzinfo=JST))  # 14 days minus an hour
    first = tick(world, datetime(2026, 12, 8, 10, 30, tzinfo=JST))
    assert first.texts[0] == "@Carol さん、#1 のその後を教えてください。"
    assert [b["label"] for b in first.buttons] == [
        "解決した",
        "少し楽になった",
        "つないだ",
        "伴走を続ける",
        "終了する",
        "取り下げる",
    ]
    assert not tick(world, datetime(2026, 12, 15, 10, 30, tzinfo=JST))
    assert tick(world, datetime(2026, 12, 22, 10, 30, tzinfo=JST))
    assert not tick(world, datetime(2027, 1, 5, 10, 30, tzinfo=JST))

    eased = carol.presses(group, first.button("少し楽になった"))
    assert "緩和" in eased.text
    assert not tick(world, datetime(2027, 1, 19, 10, 30, tzinfo=JST))


def test_downtime_sends_one_question_not_a_burst(world, net, session):
    group, carol, bob = net
    carol.says(group, "困りごと 配食サービスを探しています")
    bob.says(group, "#1 伝手 社協の配食があります")

    answer = tick(world, datetime(2027, 1, 20, 10, 0, tzinfo=JST))  # 57 days later
    assert len(answer.deliveries) == 1


def test_accompanied_thread_gets_a_monthly_check_in(world, net, session):
    group, carol, _ = net
    carol.says(group, "困りごと ひきこもりがちな方の話し相手を探しています")
    carol.says(group, "#1 伴走")

    assert not tick(world, datetime(2026, 12, 20, 10, 0, tzinfo=JST))
    first = tick(world, datetime(2026, 12, 24, 10, 30, tzinfo=JST))
    assert "伴走中" in first.text
    assert not tick(world, datetime(2026, 12, 28, 10, 30, tzinfo=JST))
    assert "伴走中" in tick(world, datetime(2027, 1, 23, 10, 30, tzinfo=JST)).text


def concurrent_ticks(runtime, at: datetime, workers: int = 2) -> None:
    runtime.clock.set(at)
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with runtime.sessions.begin() as session:
                follow_up(session, at)
        except BaseException as exc:  # a lost race must not be an error
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_two_ticks_at_once_send_once(world, net, session, runtime):
    group, carol, _ = net
    for i in range(5):
        carol.says(group, f"困りごと 相談{i}")
    concurrent_ticks(runtime, datetime(2026, 11, 27, 10, 30, tzinfo=JST))
    assert session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.dedupe_key.is_not(None))) == 5
    session.commit()
    assert events(session, "followup") == 5


@pytest.mark.postgres
def test_two_ticks_at_once_send_once_on_postgresql(request, line_server, platform, clock):
    require_postgres()
    from conftest import SECRET, make_config, truncate_all
    from harness import World

    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.store.db import make_engine

    url = request.getfixturevalue("postgres_migrated")
    engine = make_engine(url)
    truncate_all(engine)
    app = create_app(build_runtime(make_config(url, line_server.url), clock=clock, engine=engine))
    runtime = app.extensions["kasane"]
    world = World(app.test_client(), runtime, platform, SECRET)
    group = world.group()
    world.invite_bot(group)
    carol = world.person("Carol")
    group.add(carol)
    carol.says(group, "団体登録 民生委員の会")
    for i in range(20):
        carol.says(group, f"困りごと 相談{i}")

    for _ in range(3):
        concurrent_ticks(runtime, datetime(2026, 11, 27, 10, 30, tzinfo=JST), workers=4)

    with runtime.sessions() as session:
        keys = session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.is_not(None))).all()
        assert len(keys) == 20 == len(set(keys))
        assert session.scalar(select(func.count(ThreadEvent.id)).where(ThreadEvent.kind == "followup")) == 20
    held = sent_or_held(world)  # nudges wait for a free reply in the group
    assert len([d for d in held.deliveries if "まだ返信がありません" in str(d.messages)]) == 20
    engine.dispose()


def test_interval_settings_are_per_network(world, net, session, runtime):
    from models import Network

    group, carol, _ = net
    network = session.scalar(select(Network))
    network.settings = {"nudge_days": 1}
    session.commit()
    carol.says(group, "困りごと 配食サービスを探しています")
    assert tick(world, datetime(2026, 11, 25, 10, 30, tzinfo=JST)).text.startswith("#1 にまだ返信")
