"""A scheduler that dies mid-reminder sends that reminder exactly once after it comes back.

Follow-ups (``jobs.followups.follow_up``) and meeting reminders (``jobs.reminders``) queue their
sends with a unique key per thread/meeting and step, in the job's transaction; the sender
delivers them with a retry key. Killed before the commit, after it, or while sending: once.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

import pytest
from conftest import JST, SECRET, TOKEN
from harness import RunningSender, sends_then_dies
from sqlalchemy import func, select, text

from bot.runtime import build_runtime
from bot.scheduler import run_job
from faults import (
    AcceptHook,
    KasaneProcess,
    check_outbox_delivered,
    fault_seed,
    fork_context,
    free_port,
    write_config,
)
from jobs import ScheduledJob, reminders
from jobs.followups import follow_up
from models import OutboxMessage, ThreadEvent

pytestmark = pytest.mark.faults

TICK_AT = datetime(2026, 12, 22, 15, 0, tzinfo=JST)  # 4 weeks on, the day before the 4th-Wednesday meeting
KILLS = 10


class Killed(BaseException):
    """The process died here (SIGKILL gives no chance to clean up, so neither does this)."""


@pytest.fixture
def networks(world):
    """Two networks, each with unanswered and answered threads and a monthly meeting (4th Wednesday 14:00)."""
    nets = []
    for n in range(2):
        group = world.group(f"ネット{n}")
        world.invite_bot(group)
        organizer, helper = world.person(f"世話役{n}"), world.person(f"支援者{n}")
        group.add(organizer, helper)
        organizer.follows_bot()
        organizer.says(group, "団体登録 子ども食堂ひまわり")
        helper.says(group, "団体登録 東部地域包括支援センター フォーマル")
        organizer.says(group, "会議設定 毎月第4水曜 14:00 公民館")
        for k in range(1, 7):
            organizer.says(group, f"困りごと 案件{n}-{k}：配食サービスを探しています")
            if k % 2 == 0:
                helper.says(group, f"#{k} 伝手 社協の配食があります")
        nets.append(group)
    world.deliver()
    return nets


def send_as_production(runtime) -> None:
    """The restarted process's sender: production's loop (``run_forever``) until it has nothing left to do."""
    with RunningSender(runtime.sender) as running:
        running.settle()


def job(fn) -> ScheduledJob:
    return ScheduledJob(f"test.{fn.__name__}", fn, "interval", {})


def tick(runtime, fn=follow_up) -> None:
    run_job(runtime, job(fn))


def followups(runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("followup:%")))
        )


def nudges_delivered(platform, group) -> list[str]:
    return [str(d.messages) for d in platform.deliveries(group.id) if "にまだ返信がありません" in str(d.messages)]


def test_killed_inside_the_job_transaction_sends_nothing_then_once_after_restart(world, networks, runtime, config):
    runtime.clock.set(TICK_AT)

    def dies_before_commit(session, now):
        follow_up(session, now)
        raise Killed()

    with pytest.raises(Killed):
        tick(runtime, dies_before_commit)
    assert followups(runtime) == [], "the transaction never committed: nothing queued"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).where(ThreadEvent.kind == "followup")) == 0

    restarted = build_runtime(config, clock=runtime.clock)
    for _ in range(3):  # the scheduler ticks again after the restart, several times
        tick(restarted)
    send_as_production(restarted)
    for group in networks:
        assert len(nudges_delivered(world.platform, group)) == 3  # threads 1, 3 and 5: once each
    assert len(followups(runtime)) == len(set(followups(runtime))) == 2 * (3 + 3 * 2)
    check_outbox_delivered(world.runtime.engine, world.platform)


def test_killed_after_commit_before_sending_sends_once_after_restart(world, networks, runtime, config):
    runtime.clock.set(TICK_AT)
    tick(runtime)  # committed; the process dies before its sender runs
    queued = followups(runtime)
    assert queued

    restarted = build_runtime(config, clock=runtime.clock)
    tick(restarted)
    tick(restarted)
    send_as_production(restarted)
    assert set(followups(runtime)) >= set(queued)
    for group in networks:
        assert len(nudges_delivered(world.platform, group)) == 3
    check_outbox_delivered(world.runtime.engine, world.platform)


def test_killed_while_sending_after_line_accepted_sends_once_after_restart(world, networks, runtime, config):
    runtime.clock.set(TICK_AT)
    tick(runtime)

    sends_then_dies(runtime)  # LINE accepted a push; the process died before recording it
    runtime.clock.advance(timedelta(seconds=31))  # the dead sender's lease expires
    restarted = build_runtime(config, clock=runtime.clock)
    tick(restarted)
    send_as_production(restarted)
    assert [r.status for r in world.platform.requests if r.status == 409], "the retried push was already accepted"
    for group in networks:
        assert len(nudges_delivered(world.platform, group)) == 3
    check_outbox_delivered(world.runtime.engine, world.platform)


def test_meeting_reminder_killed_before_and_after_commit_is_sent_once(world, networks, runtime, config):
    runtime.clock.set(TICK_AT)

    def dies_before_commit(session, now):
        reminders.send_meeting_reminders(session, now)
        raise Killed()

    with pytest.raises(Killed):
        tick(runtime, dies_before_commit)
    with runtime.sessions() as session:
        assert not session.scalar(select(func.count()).where(OutboxMessage.dedupe_key.like("meeting:%")))
    tick(runtime, reminders.send_meeting_reminders)  # committed; dies before sending
    restarted = build_runtime(config, clock=runtime.clock)
    tick(restarted, reminders.send_meeting_reminders)
    send_as_production(restarted)
    with runtime.sessions() as session:
        keys = list(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("meeting:%"))))
    assert keys and len(keys) == len(set(keys))
    assert sum(key.split(":")[3] == "day" for key in keys) == len(networks), keys  # one "tomorrow" per group
    check_outbox_delivered(world.runtime.engine, world.platform)


def test_sigkill_a_scheduler_process_ten_times(world, networks, database_url, platform, line_server, engine, tmp_path):
    """A forked process runs the follow-up and meeting-reminder jobs and the sender in a loop; it is
    SIGKILLed ten times (at random, or right after LINE accepted a push), then left to finish."""
    seed = fault_seed("scheduler")
    rng = random.Random(seed)
    names = ["follow_up", "send_meeting_reminders"]
    config = write_config(
        tmp_path / "kasane.toml",
        database_url=database_url,
        line_url=line_server.url,
        port=free_port(),
        secret=SECRET,
        token=TOKEN,
        lease_seconds=1.0,
    )
    platform.set_latency(0.02)  # each push takes a moment: kills land mid-round
    hook = AcceptHook(platform)
    process = KasaneProcess(
        config,
        log_dir=tmp_path,
        name="scheduler",
        target=("faults:tick_loop", (str(config), TICK_AT.isoformat(), time.time(), names)),
    )
    fork_context()
    kinds: dict[str, int] = {"random": 0, "after LINE accepted": 0}
    while process.kills < KILLS:
        process.start()
        if rng.random() < 0.5:
            hook.arm(
                lambda: process.kill() and kinds.__setitem__("after LINE accepted", kinds["after LINE accepted"] + 1)
            )
            deadline = time.monotonic() + 1.5
            while process.alive and time.monotonic() < deadline:
                time.sleep(0.01)
            hook.disarm()
            if process.alive:
                process.kill()
                kinds["random"] += 1
        else:
            time.sleep(rng.uniform(0.05, 0.6))
            if process.kill():
                kinds["random"] += 1
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as connection:
                keys = connection.execute(text("SELECT count(*) FROM outbox WHERE dedupe_key IS NOT NULL")).scalar()
                pending = connection.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()
            if keys >= 2 * (3 + 3 * 2) + 2 and not pending:
                break
            assert time.monotonic() < deadline, f"{keys} queued, {pending} pending\n{process.log_tail()}"
            assert process.alive, process.log_tail()
            time.sleep(0.2)
        time.sleep(0.5)  # a few more ticks: nothing new may be queued
    finally:
        process.stop()
    delivered = check_outbox_delivered(engine, platform)
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT dedupe_key FROM outbox WHERE dedupe_key IS NOT NULL")).scalars().all()
    assert len(keys) == len(set(keys))
    followup_keys = [k for k in keys if k.startswith("followup:")]
    assert len(followup_keys) == 2 * (3 + 3 * 2), followup_keys  # 3 nudges + 3 × (check1, check2) per network
    assert any(k.startswith("meeting:") for k in keys), keys
    for group in networks:
        assert len(nudges_delivered(platform, group)) == 3
    print(
        f"\n[scheduler] seed={seed} kills={process.kills} {kinds} follow-ups={len(followup_keys)} "
        f"reminders={len(keys) - len(followup_keys)} delivered={delivered.deliveries} 409s={delivered.conflicts}"
    )
