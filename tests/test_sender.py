"""The outbox sender against the fake LINE platform: exactly once, in order, through outages."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from conftest import TOKEN, make_config, require_postgres
from harness import Answer, RunningSender, busy, eventually, sends_then_dies
from sqlalchemy import func, select

from bot.fakeline import FakeLineServer, encode_body
from bot.pipeline import outbox
from bot.pipeline.line_client import LineGateway, Outcome
from bot.pipeline.sender import Sender
from bot.replies import compose
from bot.runtime import build_runtime
from models import OutboxMessage


def queue_push(runtime, chat_id: str, body: str, **kwargs) -> OutboxMessage:
    with runtime.sessions.begin() as session:
        [row_id] = outbox.enqueue(session, chat_id, [compose.text(body)], now=runtime.clock.now(), **kwargs)
    return row(runtime, row_id)


def row(runtime, row_id: int) -> OutboxMessage:
    with runtime.sessions() as session:
        return session.get(OutboxMessage, row_id)


def send_through_backoff(world, rounds: int = 20) -> None:
    """Let production's sender loop settle, moving the clock past each backoff delay (the cap is 5 minutes)."""
    for _ in range(rounds):
        world.send_outbox()
        world.runtime.clock.advance(timedelta(minutes=6))


@pytest.fixture
def group(world):
    group = world.group()
    world.invite_bot(group)
    world.platform.clear()
    return group


@pytest.mark.usefixtures("production_sender")
def test_push_failing_twice_with_500_is_delivered_once_with_the_same_retry_key(world, runtime, platform, group):
    platform.fail_next(2, status=500, endpoint="push")
    queued = queue_push(runtime, group.id, "お知らせ")

    send_through_backoff(world)

    pushes = [r for r in platform.requests if r.path.endswith("/push")]
    assert [r.status for r in pushes] == [500, 500, 200]
    assert {r.headers.get("X-Line-Retry-Key") for r in pushes} == {queued.retry_key}
    assert len(platform.deliveries(group.id)) == 1
    assert row(runtime, queued.id).status == "sent" and row(runtime, queued.id).attempts == 2


def test_killed_after_line_accepted_a_push_does_not_deliver_twice(runtime, platform, group):
    queued = queue_push(runtime, group.id, "会議のお知らせ")

    sends_then_dies(runtime)  # the process dies before writing "sent"
    assert len(platform.deliveries(group.id)) == 1
    assert row(runtime, queued.id).status == "pending"

    with RunningSender(runtime.sender) as restarted:
        restarted.settle()  # still leased by the dead process: nothing happens yet
        assert [r.status for r in platform.requests if r.path.endswith("/push")] == [200]
        runtime.clock.advance(timedelta(seconds=31))
        restarted.settle()  # the lease expired: retried with the same key, LINE answers 409

    assert len(platform.deliveries(group.id)) == 1
    assert [r.status for r in platform.requests if r.path.endswith("/push")] == [200, 409]
    assert row(runtime, queued.id).status == "sent"


def test_reply_whose_outcome_was_lost_is_not_pushed_again(world, runtime, platform, group):
    alice = world.person("Alice")
    platform.add_member(group.id, alice.id, "Alice")
    event = world.line.text(group.id, alice.id, "ヘルプ")

    world.post(encode_body(world.line.payload(event)))
    runtime.inbox.drain()
    sends_then_dies(runtime)  # LINE took the reply; the process died before recording it
    runtime.clock.advance(timedelta(seconds=31))
    with RunningSender(runtime.sender) as restarted:
        restarted.settle()

    assert len(platform.deliveries(group.id)) == 1
    assert platform.deliveries(group.id)[0].via == "reply"


@pytest.mark.usefixtures("production_sender")
def test_expired_reply_token_falls_back_to_push(world, runtime, platform, group):
    alice = world.person("Alice")
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, "ヘルプ"))))
    runtime.clock.advance(timedelta(minutes=2))  # the worker was busy for two minutes: the token aged meanwhile
    world.deliver()
    [delivery] = platform.deliveries(group.id)
    assert delivery.via == "push" and delivery.retry_key


@pytest.mark.usefixtures("production_sender")
def test_order_per_chat_is_kept_while_an_earlier_message_waits(runtime, platform, group, world):
    other = world.group()
    world.invite_bot(other)
    platform.clear()
    platform.fail_next(1, status=500, endpoint="push")
    first = queue_push(runtime, group.id, "一通目")
    world.send_outbox()  # LINE answers 500: it waits for its retry
    assert row(runtime, first.id).attempts == 1
    queue_push(runtime, group.id, "二通目")
    queue_push(runtime, other.id, "別のグループ")

    world.send_outbox()
    assert [d.messages[0]["text"] for d in platform.deliveries()] == ["別のグループ"]

    send_through_backoff(world)
    assert [d.messages[0]["text"] for d in platform.deliveries(group.id)] == ["一通目", "二通目"]


@pytest.mark.usefixtures("production_sender")
def test_timeouts_and_connection_refused_are_retried_until_delivered(world, runtime, platform, group, line_server):
    platform.timeout_next(1, seconds=3, endpoint="push")  # longer than the client's 2 s timeout
    queued = queue_push(runtime, group.id, "タイムアウト後")
    world.send_outbox()
    assert row(runtime, queued.id).status == "pending"

    line_server.stop()
    runtime.clock.advance(timedelta(minutes=6))
    world.send_outbox()
    assert "connection" in row(runtime, queued.id).last_error

    with FakeLineServer(platform, port=line_server.port):
        send_through_backoff(world)
    assert row(runtime, queued.id).status == "sent"
    assert len(platform.deliveries(group.id)) == 1


@pytest.mark.usefixtures("production_sender")
def test_monthly_limit_is_surfaced_not_retried(world, runtime, platform, group):
    platform.monthly_limit_reached()
    queued = queue_push(runtime, group.id, "上限")
    send_through_backoff(world, rounds=3)

    failed = row(runtime, queued.id)
    assert failed.status == "failed" and "monthly limit" in failed.last_error
    assert len([r for r in platform.requests if r.path.endswith("/push")]) == 1


@pytest.mark.usefixtures("production_sender")
def test_other_client_errors_are_failed_with_the_reason(world, runtime, platform):
    queued = queue_push(runtime, "C" + "0" * 32, "存在しないグループ")
    world.send_outbox()
    failed = row(runtime, queued.id)
    assert failed.status == "failed" and failed.last_error.startswith("rejected: 400")


@pytest.mark.usefixtures("production_sender")
def test_a_message_retried_for_a_day_is_given_up_and_kept(world, runtime, platform, group):
    platform.fail_next(1000, status=503, endpoint="push")
    queued = queue_push(runtime, group.id, "ずっと失敗")
    send_through_backoff(world, rounds=300)
    failed = row(runtime, queued.id)
    assert failed.status == "failed" and "gave up" in failed.last_error


def concurrent_senders(url: str, line_url: str, platform, clock, rows: int = 120) -> None:
    runtime = build_runtime(make_config(url, line_url), clock=clock)
    chats = [f"C{i:032x}" for i in range(6)]
    platform.set_plan(None)  # many pushes in one month: the free plan's 200 are not what this is about
    for chat in chats:
        platform.add_group(chat, chat)
    for i in range(rows):
        queue_push(runtime, chats[i % len(chats)], f"#{i}")
    senders = [
        Sender(
            runtime.sessions,
            build_runtime(make_config(url, line_url), clock=clock).sender.gateway,
            clock.now,
            name=f"sender-{n}",
            batch=5,
            concurrency=4,
        )
        for n in range(2)
    ]
    with RunningSender(senders[0]), RunningSender(senders[1]):  # two processes' loops, as in production
        eventually(lambda: len(platform.deliveries()) >= rows, timeout=60, what="every row delivered")
        for sender in senders:
            eventually(lambda sender=sender: not busy(sender), what="both senders settle")

    keys = [d.retry_key for d in platform.deliveries()]
    assert len(keys) == rows and len(set(keys)) == rows
    assert not [r for r in platform.requests if r.status == 409]  # no row was ever sent by both
    for chat in chats:
        numbers = [int(d.messages[0]["text"][1:]) for d in platform.deliveries(chat)]
        assert numbers == sorted(numbers)


def test_two_senders_never_send_the_same_row(database_url, line_server, platform, clock):
    concurrent_senders(database_url, line_server.url, platform, clock)


@pytest.mark.postgres
def test_two_senders_on_postgresql_never_send_the_same_row(line_server, platform, clock, request):
    require_postgres()
    url = request.getfixturevalue("postgres_migrated")
    from conftest import truncate_all
    from sqlalchemy import text

    from bot.store.db import make_engine

    engine = make_engine(url)
    truncate_all(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    concurrent_senders(url, line_server.url, platform, clock, rows=300)


def test_classify_maps_line_answers_to_decisions(runtime, platform, group):
    gateway = runtime.sender.gateway
    assert gateway.push(group.id, [compose.text("a")], "not-a-uuid").outcome == Outcome.REJECTED
    assert gateway.group_summary("C" + "1" * 32).outcome == Outcome.NOT_FOUND


# --- many at once: lanes ---------------------------------------------------------------------------------


class CountingGateway(LineGateway):
    """The real gateway, counting how many of its calls to LINE are in flight at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.in_flight = self.most = 0

    def push(self, *args, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            return super().push(*args, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def run_until_sent(sender: Sender, runtime, rows: int, timeout: float = 30.0) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=sender.run_forever, args=(stop, 0.05))
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with runtime.sessions() as session:
                sent = session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
            if sent >= rows:
                return
            time.sleep(0.05)
        raise AssertionError(f"only {sent} of {rows} sent")
    finally:
        stop.set()
        thread.join(timeout=10)


def test_lanes_are_sent_side_by_side_and_each_lane_in_order(runtime, platform, group, line_server):
    platform.set_latency(0.2)  # every call waits for LINE, as in reality
    lanes = {f"{group.id}/U{n:032x}": [f"{n}-{i}" for i in range(3)] for n in range(4)}
    for lane, texts in lanes.items():
        for text_ in texts:
            queue_push(runtime, group.id, text_, lane=lane)
    gateway = CountingGateway(line_server.url, TOKEN)
    sender = Sender(runtime.sessions, gateway, runtime.clock.now, name="many", concurrency=4)
    try:
        run_until_sent(sender, runtime, rows=12)
    finally:
        gateway.close()

    delivered = [d.messages[0]["text"] for d in platform.deliveries(group.id)]
    assert sorted(delivered) == sorted(t for texts in lanes.values() for t in texts)  # each once
    for texts in lanes.values():
        assert [t for t in delivered if t in texts] == texts  # in order within its lane
    assert 2 <= gateway.most <= 4  # lanes overlapped, never more than the concurrency


class GatedGateway(LineGateway):
    """The real gateway, each push held until the test lets one through (``release``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.waiting, self.answered, self.gate, self.lock = 0, 0, threading.Semaphore(0), threading.Lock()

    def push(self, *args, **kwargs):
        with self.lock:
            self.waiting += 1
        assert self.gate.acquire(timeout=30), "never released"
        result = super().push(*args, **kwargs)
        with self.lock:
            self.answered += 1
        return result

    def release(self, n: int = 1) -> None:
        self.gate.release(n)


class RoundCounter(Sender):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.recording_rounds = 0

    def _round(self, done, free):  # type: ignore[no-untyped-def]
        self.recording_rounds += bool(done)
        return super()._round(done, free)


def sent_count(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))


@pytest.mark.parametrize("gather, one_at_a_time", [(0.0, True), (0.3, False)])
def test_deliveries_that_finish_close_together_are_recorded_in_one_round(
    runtime, group, line_server, gather, one_at_a_time
):
    """Each round is a transaction. Eight sends finishing one right after another (each let go as
    soon as the one before was answered) are recorded in one or two rounds when the sender lets
    them gather; without gathering, each send recorded before the next is let go takes a round.

    The gateway holds every push until the test lets it go: the order of events is the test's."""
    runtime.sender.drain()  # what setting up the group queued
    already = sent_count(runtime)
    for n in range(8):
        queue_push(runtime, group.id, f"m{n}", lane=f"{group.id}/U{n:032x}")
    gateway = GatedGateway(line_server.url, TOKEN)
    sender = RoundCounter(runtime.sessions, gateway, runtime.clock.now, name="gather", concurrency=8, gather=gather)
    stop = threading.Event()
    thread = threading.Thread(target=sender.run_forever, args=(stop, 0.05))
    thread.start()
    try:
        eventually(lambda: gateway.waiting == 8, what="all eight pushes in flight")
        if one_at_a_time:
            for n in range(1, 9):
                gateway.release()
                eventually(lambda n=n: sent_count(runtime) == already + n, what=f"push {n} recorded")
        else:
            for n in range(1, 9):
                gateway.release()
                eventually(lambda n=n: gateway.answered == n, what=f"push {n} answered")
            eventually(lambda: sent_count(runtime) == already + 8, what="all eight recorded")
    finally:
        gateway.release(8)
        stop.set()
        thread.join(timeout=30)
        gateway.close()
    assert sender.recording_rounds == 8 if one_at_a_time else 1 <= sender.recording_rounds <= 2


def test_in_a_group_each_members_answers_get_a_lane_of_their_own(world, runtime, group):
    alice, bob = world.person("Alice"), world.person("Bob")
    group.add(alice, bob)
    alice.says(group, "ヘルプ")
    bob.says(group, "ヘルプ")
    queue_push(runtime, group.id, "お知らせ")
    with runtime.sessions() as session:
        lanes = session.scalars(select(OutboxMessage.lane).order_by(OutboxMessage.id.desc()).limit(3)).all()
    assert lanes == [group.id, f"{group.id}/{bob.id}", f"{group.id}/{alice.id}"]


def a_conversation(world, group) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    """One network's usual start: join, registrations, a 困りごと, a 伝手, an offer, the list, an
    outcome; what LINE received after each step (how, and the texts), with names, not ids."""
    alice, bob = world.person("Alice"), world.person("Bob")
    steps = [
        lambda: world.invite_bot(group),
        lambda: group.add(alice, bob),
        lambda: alice.follows_bot(),  # so she is also told 1:1 when someone answers her 困りごと
        lambda: alice.says(group, "団体登録 子ども食堂ひまわり"),
        lambda: bob.says(group, "団体登録 東部地域包括支援センター フォーマル"),
        lambda: alice.says(group, "困りごと 配食サービスを探しています（連絡先 090-1234-5678）"),
        lambda: bob.says(group, "#1 伝手 社協の配食があります"),
        lambda: bob.says(group, "#1 手伝えます 土曜なら"),
        lambda: alice.says(group, "一覧"),
        lambda: alice.says(group, "#1 解決"),
    ]
    seen = []
    for step in steps:
        answer = step()
        # Per step, as a set: lanes (the group, each 1:1 chat) go side by side, in no promised order.
        seen.append(sorted((d.via, "/".join(Answer([d], world.names).texts)) for d in answer.deliveries))
    return seen


def test_the_row_by_row_drain_and_productions_loop_deliver_the_same(world, runtime):
    """Conversation tests send with ``Sender.drain`` (row by row, quick); production runs ``run_forever``
    (threads and rounds). The same conversation, once each way, reaches LINE the same."""
    by_drain = a_conversation(world, world.group("ささえあいネット"))
    with RunningSender(runtime.sender) as running:
        world.running_sender = running
        by_rounds = a_conversation(world, world.group("ささえあいネット"))
        world.running_sender = None
    # The same messages, the same way (reply or push), each once. Which step's Answer a delivery
    # lands in is the test's own timing (production's loop has no steps), so the whole is compared.
    assert sorted(d for step in by_rounds for d in step) == sorted(d for step in by_drain for d in step)
    assert len(by_drain) == 10 and all(by_drain[2:]), by_drain  # every step answered
    assert ("push", "#1 に東部地域包括支援センターから申し出が届きました：土曜なら") in by_drain[7]  # 1:1, by push


def test_a_late_try_does_not_change_what_another_try_settled(runtime, platform, group):
    """A sender stalls past its lease; another takes the row and LINE accepts it. The stalled try's
    answer (here a 400) comes last and must not turn a delivered message into a failed one."""
    queued = queue_push(runtime, group.id, "お知らせ")
    [stalled] = runtime.sender.claim()
    runtime.clock.advance(timedelta(seconds=31))  # its lease lapses
    [retaken] = runtime.sender.claim()
    assert runtime.sender.deliver(retaken)
    platform.fail_next(1, status=400, endpoint="push")
    runtime.sender.deliver(stalled)

    assert row(runtime, queued.id).status == "sent"
    assert [d.messages[0]["text"] for d in platform.deliveries(group.id)] == ["お知らせ"]
