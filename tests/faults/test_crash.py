"""SIGKILL a real ``kasane serve`` at random moments while a network talks to it; nothing lost, nothing twice.

A scripted conversation (3 groups, ~150 events: join, registrations, 困りごと, 伝手, offers,
watch and connect buttons, outcomes, reopen) is posted as signed webhooks over HTTP. Twenty
times the server is killed with SIGKILL, at one of three kinds of moment:

- ``webhook``: 0–30 ms after a webhook POST left, so mid-transaction, between commit and the
  HTTP answer, or while the sender delivers the answer;
- ``sender``: inside the fake LINE platform, right after it accepted a reply or push and before
  it answered: LINE has the message, the bot never learns it (the retry must not deliver twice);
- ``random``: 0–500 ms later, wherever the process happens to be.

It is restarted on the same port, every event not answered 200 is redelivered as LINE does
(same webhookEventId and reply token, ``isRedelivery: true``), and once the outbox is empty
the database and the fake platform are checked against the script (``faults.check_conversation``).
The sender's lease is 2 s (``[sender] lease_seconds``), so a killed process's rows are retried quickly.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder
from bot.store.db import make_engine
from faults import (
    RAW_PHONE,
    RAW_PHONE_DIGITS,
    AcceptHook,
    Conversation,
    KasaneProcess,
    check_conversation,
    drive,
    fault_seed,
    fork_context,
    free_port,
    secrets_in,
    wait_until_sent,
    write_config,
)

pytestmark = pytest.mark.faults

KILLS = int(os.environ.get("KASANE_FAULTS_KILLS", "20"))
MODES = ("webhook", "sender", "random")


class Killer:
    """Kills the server as planned, restarts it, and counts what happened."""

    def __init__(self, server: KasaneProcess, platform: FakeLinePlatform, plan: dict[int, str], rng: random.Random):
        self.server = server
        self.plan = plan
        self.rng = rng
        self.hook = AcceptHook(platform)
        self.kinds: Counter[str] = Counter()
        self.restarts: list[float] = []
        self.timers: list[threading.Timer] = []

    def kill(self, kind: str, pid: int | None = None) -> None:
        if self.server.kill(expected_pid=pid):
            self.kinds[kind] += 1

    def before_post(self, index: int) -> None:
        mode = self.plan.get(index)
        if mode is None or self.server.kills >= KILLS:
            return
        self.hook.disarm()
        if mode == "sender":
            self.hook.arm(lambda: self.kill("sender"))
            return
        delay = self.rng.uniform(0, 0.03) if mode == "webhook" else self.rng.uniform(0, 0.5)
        timer = threading.Timer(delay, self.kill, (mode,))
        timer.start()
        self.timers.append(timer)

    def recover(self, _index: int, _status: int | None) -> None:
        if self.server.alive:
            time.sleep(0.05)  # answered 500 or slow: LINE retries a little later
            return
        self.restart()

    def restart(self) -> None:
        for _ in range(10):
            started = time.monotonic()
            self.server.start(fork=True)
            try:
                self.server.wait_healthy()
            except RuntimeError:
                continue  # killed again while starting (a late ``sender`` kill): start once more
            self.restarts.append(time.monotonic() - started)
            return
        raise AssertionError(f"the server does not come back:\n{self.server.log_tail()}")

    def finish(self) -> None:
        """Join the timers, then top the kills up to KILLS while the outbox drains."""
        for timer in self.timers:
            timer.join()
        self.hook.disarm()
        while self.server.kills < KILLS:
            if not self.server.alive:
                self.restart()
            time.sleep(self.rng.uniform(0, 0.3))
            self.kill("draining", self.server.pid)
        if not self.server.alive:
            self.restart()


def kill_and_restart(database_url: str, tmp_path: Path, label: str) -> None:
    seed = fault_seed(f"crash {label}")
    rng = random.Random(seed)
    platform = FakeLinePlatform(TOKEN)  # real time, like the server process
    with FakeLineServer(platform) as line_server:
        conversation = Conversation(platform, groups=3, posts=9, seed=seed)
        line = WebhookBuilder(platform)
        port = free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
            lease_seconds=2.0,
        )
        server = KasaneProcess(config, port=port, log_dir=tmp_path)
        engine = make_engine(database_url)
        started = time.monotonic()
        try:
            fork_context()  # the fork server warms up while the first process starts
            server.start(fork=False)  # the first one is a real `python -m bot --config … serve`
            server.wait_healthy()
            # One kill in each of KILLS equal stretches of the script, of a kind drawn at random.
            width = (len(conversation) - 3) / KILLS
            plan = {3 + int(n * width + rng.uniform(0, width - 1)): rng.choice(MODES) for n in range(KILLS)}
            killer = Killer(server, platform, plan, rng)
            stats = drive(
                conversation,
                line,
                SECRET,
                lambda: server.url,
                before_post=killer.before_post,
                on_unacknowledged=killer.recover,
            )
            killer.finish()
            drained = wait_until_sent(engine, alive=lambda: server.alive)
            assert server.stop() == 0, server.log_tail()
            figures = check_conversation(engine, conversation, platform)
        finally:
            server.stop()
            engine.dispose()
        logs = server.logs()

    assert server.kills == KILLS, (server.kills, killer.kinds)
    assert "handler failed" not in logs, "a handler crashed"
    assert not secrets_in(logs, [SECRET, TOKEN, RAW_PHONE, RAW_PHONE_DIGITS])
    print(
        f"\n[{label}] seed={seed} kills={server.kills} {dict(killer.kinds)} "
        f"restart={sum(killer.restarts) / max(1, len(killer.restarts)):.2f}s avg "
        f"events={figures.events} posts={stats.posts} redelivered={stats.redeliveries} {dict(stats.statuses)} "
        f"threads={figures.threads} responses={figures.responses} outcomes={figures.outcomes} "
        f"messages={figures.messages_expected} delivered={figures.deliveries} "
        f"(reply {figures.via_reply}, push {figures.via_push}) 409s={figures.saved_by_retry_key} "
        f"used-token={logs.count('reply token already used by an earlier attempt')} "
        f"lost={figures.lost} duplicated={figures.duplicated} drain={drained:.1f}s "
        f"total={time.monotonic() - started:.1f}s"
    )


def test_sigkill_twenty_times_loses_and_duplicates_nothing(database_url, tmp_path):
    """On the suite's database: SQLite, and PostgreSQL in the PostgreSQL pass (``KASANE_TEST_DATABASE=postgres``,
    which needs ``KASANE_TEST_POSTGRES_URL``): each CI pass kills one of them twenty times."""
    kill_and_restart(database_url, tmp_path, "postgresql" if USING_POSTGRES else "sqlite")
