"""Acknowledge first, handle in the worker: the inbox between /callback and the handlers.

The webhook only records each event (sealed) and answers 200; the worker handles it later, in
one transaction with its effects. Nothing lost between the two, nothing handled twice, no raw
text readable in the database while an event waits.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest
from conftest import SECRET, USING_POSTGRES, make_config
from sqlalchemy import func, select

from bot.fakeline import encode_body
from bot.pipeline.inbox import InboxProcessor
from bot.pipeline.outbox import REPLY_TOKEN_LIFETIME
from bot.replies import compose, messages
from bot.runtime import build_runtime
from models import EventOutcome, Friend, InboxEvent, OutboxMessage, Thread, WebhookEvent

POST = "困りごと 一人暮らしの方の通院の付き添いを探しています 連絡は 090-1234-5678 まで"


@pytest.fixture
def net(world):
    group = world.group()
    alice = world.person("Alice")
    world.invite_bot(group)
    group.add(alice)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    return group, alice


def waiting(runtime) -> list:
    """What waits in the inbox (on SQLite a file of its own), oldest first."""
    with runtime.inbox.inbox.connect() as connection:
        return list(connection.execute(select(InboxEvent).order_by(InboxEvent.seq)).all())


def handled(session, key: str) -> WebhookEvent | None:
    return session.get(WebhookEvent, key)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def forms_of(text: str) -> list[bytes]:
    """How a text could appear in stored bytes: UTF-8, or JSON's ASCII escapes."""
    return [text.encode(), json.dumps(text).strip('"').encode()]


def test_the_webhook_answers_before_handling_and_keeps_no_readable_text(world, runtime, net):
    group, alice = net
    event = world.line.text(group.id, alice.id, POST)
    response = world.post(encode_body(world.line.payload(event)))
    assert response.status_code == 200

    [row] = waiting(runtime)
    assert row.event_key == event["webhookEventId"] and row.payload
    for secret in ("090-1234-5678", "通院の付き添い"):
        assert not any(form in row.payload for form in forms_of(secret))
    with runtime.sessions() as session:
        assert count(session, Thread) == 0 and handled(session, row.event_key) is None  # not handled yet

    answer = world.deliver()
    assert "#1" in answer.text
    assert waiting(runtime) == []  # the sealed payload is gone with it
    with runtime.sessions() as session:
        assert handled(session, row.event_key).outcome == EventOutcome.HANDLED
        assert count(session, Thread) == 1


def test_a_redelivery_arriving_before_the_first_was_handled_is_recorded_once(world, runtime, net):
    group, alice = net
    event = world.line.text(group.id, alice.id, POST)
    for body in (world.line.payload(event), world.line.payload(world.line.redelivery(event))):
        assert world.post(encode_body(body)).status_code == 200

    answer = world.deliver()
    assert len(answer.deliveries) == 1
    with runtime.sessions() as session:
        assert count(session, Thread) == 1
    # Later, after it was handled: LINE redelivers it again; it is recorded, then only removed.
    assert world.post(encode_body(world.line.payload(world.line.redelivery(event)))).status_code == 200
    assert len(waiting(runtime)) == 1
    assert not world.deliver()
    assert waiting(runtime) == []


def same_parts(runtime, cls: type[InboxProcessor]) -> InboxProcessor:
    """A processor of another kind (a test's subclass) over the runtime's database, inbox and handlers."""
    inbox = runtime.inbox
    return cls(inbox.sessions, inbox.inbox, inbox.registry, inbox.sealer, inbox.now, settings=inbox.settings)


class DiesBeforeCommit(InboxProcessor):
    """The worker is killed after handling an event, before its transaction commits."""

    def handle(self, *args, **kwargs):
        super().handle(*args, **kwargs)
        raise KeyboardInterrupt()


def test_a_worker_killed_mid_handling_leaves_the_event_waiting_and_it_is_handled_once(world, runtime, net):
    group, alice = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, POST))))
    doomed = same_parts(runtime, DiesBeforeCommit)

    with pytest.raises(KeyboardInterrupt):
        doomed.run_once()
    assert len(waiting(runtime)) == 1
    with runtime.sessions() as session:
        assert count(session, Thread) == 0

    answer = world.deliver()
    assert len(answer.deliveries) == 1 and "#1" in answer.text
    with runtime.sessions() as session:
        assert count(session, Thread) == 1


def test_events_recorded_by_a_server_that_died_are_handled_by_the_next_worker(
    world, runtime, net, config, clock, engine, platform
):
    group, alice = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, POST))))
    # A new process: another app on the same database (the first one never handled the event).
    successor = build_runtime(config, clock=clock, engine=engine)
    try:
        assert successor.inbox.drain() == 1
        successor.sender.drain()
    finally:
        successor.close()
    assert "#1" in world.deliver().text  # delivered by the successor
    assert runtime.inbox.drain() == 0


def test_events_are_handled_in_the_order_they_arrived(world, runtime, net):
    group, alice = net
    posts = [f"困りごと その{n}: 買い物の付き添いを探しています" for n in range(1, 6)]
    for text in posts:
        world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, text))))

    world.deliver()
    with runtime.sessions() as session:
        threads = session.scalars(select(Thread).order_by(Thread.number)).all()
        assert [t.summary.split(":")[0] for t in threads] == [f"その{n}" for n in range(1, 6)]


def test_a_payload_sealed_with_another_channel_secret_is_reported_and_does_not_block_the_inbox(
    world, runtime, net, database_url, line_server, clock, engine, caplog
):
    group, alice = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, "ヘルプ"))))
    # The channel secret was reissued on LINE's side and the server restarted with the new one.
    rotated = make_config(database_url, line_server.url, line={"channel_secret": SECRET + "-reissued"})
    successor = build_runtime(rotated, clock=clock, engine=engine)
    try:
        with caplog.at_level(logging.ERROR):
            assert successor.inbox.drain() == 1
    finally:
        successor.close()
    assert "cannot open its sealed payload" in caplog.text
    assert waiting(runtime) == []
    with runtime.sessions() as session:
        outcomes = session.scalars(select(WebhookEvent.outcome)).all()
        assert EventOutcome.UNREADABLE in outcomes
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, "ヘルプ"))))
    assert "使い方" in world.deliver().text


def test_two_workers_at_once_handle_every_event_once_and_in_order(world, runtime, net, config, clock, engine):
    group, alice = net
    bob = world.person("Bob")
    group.add(bob)
    bob.says(group, "団体登録 地域包括支援センター フォーマル")
    for n in range(1, 31):
        person = alice if n % 2 else bob
        text = f"困りごと その{n}: ゴミ出しを手伝える人を探しています"
        world.post(encode_body(world.line.payload(world.line.text(group.id, person.id, text))))

    others = [build_runtime(config, clock=clock, engine=engine) for _ in range(2)]
    inboxes = [runtime.inbox] + [other.inbox for other in others]
    for inbox in inboxes:
        inbox.batch = 3  # small batches: the workers take turns many times
    errors: list[BaseException] = []

    def work(inbox: InboxProcessor) -> None:
        try:
            for _ in range(200):
                inbox.drain()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(inbox,)) for inbox in inboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for other in others:
        other.close()

    assert not errors
    assert waiting(runtime) == []
    with runtime.sessions() as session:
        threads_made = session.scalars(select(Thread).order_by(Thread.number)).all()
        assert [t.summary.split(":")[0] for t in threads_made] == [f"その{n}" for n in range(1, 31)]
        cards = session.scalar(select(func.count()).where(OutboxMessage.topic.like("thread:%")))
        assert cards == 30


@pytest.mark.skipif(not USING_POSTGRES, reason="the advisory lock is PostgreSQL's")
def test_on_postgresql_a_second_worker_waits_its_turn(runtime, world, net):
    group, alice = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, "ヘルプ"))))
    from sqlalchemy import text

    from bot.pipeline.inbox import INBOX_LOCK

    with runtime.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INBOX_LOCK})
        assert runtime.inbox.run_once() == 0  # another worker holds the inbox
    assert runtime.inbox.run_once() == 1


class DiesBeforeForgetting(InboxProcessor):
    """The worker is killed after the handling commit, before the events leave the inbox."""

    def _forget(self, done):
        raise KeyboardInterrupt()


@pytest.mark.skipif(USING_POSTGRES, reason="on PostgreSQL the inbox is emptied in the handling transaction")
def test_a_worker_killed_after_handling_but_before_emptying_the_inbox_does_not_handle_twice(world, runtime, net):
    group, alice = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, POST))))
    doomed = same_parts(runtime, DiesBeforeForgetting)
    assert doomed.run_once() == 1
    with pytest.raises(KeyboardInterrupt):
        doomed.forget_handled()
    assert len(waiting(runtime)) == 1  # handled, still in the inbox

    answer = world.deliver()
    assert len(answer.deliveries) == 1 and "#1" in answer.text  # the one reply, queued by the killed worker
    assert waiting(runtime) == []
    with runtime.sessions() as session:
        assert count(session, Thread) == 1


# --- each way an event can end, and the line the operator reads ------------------------------
# The worker never lets one event block the inbox: every path ends in an outcome recorded by the
# event's id, and says why in one log line (by the event's key, never its text).

def handle_raw(runtime, raw: dict | bytes, key: str = "01TESTEVENT0000000000000000"):
    """Seal ``raw`` as the door would and hand it to the worker: its outcome, and the messages it
    queued (chat, text, reply deadline)."""
    plain = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    received = took(runtime)
    with runtime.sessions.begin() as session:
        before = session.scalar(select(func.max(OutboxMessage.id))) or 0
        outcome = runtime.inbox.handle(session, key, runtime.inbox.sealer.seal(key, plain), received)
        new = select(OutboxMessage).where(OutboxMessage.id > before, ~OutboxMessage.chat_id.startswith("lookup:"))
        queued = session.scalars(new.order_by(OutboxMessage.id)).all()
        first = [row.messages[0] for row in queued]
        texts = [message.get("text") or message.get("altText") for message in first]
        return outcome, [(row.chat_id, text, row.reply_deadline) for row, text in zip(queued, texts, strict=True)]


def took(runtime):
    """When the door took the event: ten seconds before the worker handles it."""
    return runtime.clock.now() - timedelta(seconds=10)


def inbox_lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "bot.pipeline.inbox"]


def text_event(world, group, person, text: str) -> dict:
    return world.line.text(group.id, person.id, text)


def test_a_payload_that_cannot_be_read_back_is_skipped_as_invalid(runtime, caplog):
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        assert handle_raw(runtime, b"not json", key="K1") == (EventOutcome.INVALID, [])
    assert ("WARNING", "event K1: payload cannot be read back; skipped") in inbox_lines(caplog)


def test_a_shape_the_sdk_cannot_validate_is_acknowledged_unparsed(runtime, caplog):
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        assert handle_raw(runtime, {"type": "message", "message": 5}, key="K2") == (EventOutcome.UNPARSED, [])
    [(level, line)] = [entry for entry in inbox_lines(caplog) if "not parsed" in entry[1]]
    assert (level, line) == ("INFO", "event K2 (message) not parsed by the SDK: TypeError")  # the kind, not the text


def test_a_handler_bug_gets_the_sender_an_apology_by_reply(world, runtime, net, monkeypatch, caplog):
    group, alice = net

    def bug(registry, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr("bot.pipeline.inbox.dispatch", bug)
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        outcome, queued = handle_raw(runtime, text_event(world, group, alice, "一覧"), key="K3")
    assert outcome == EventOutcome.FAILED
    assert [(chat, text) for chat, text, _ in queued][-1] == (group.id, messages.SORRY_FAILED)
    assert queued[-1][2] == took(runtime) + REPLY_TOKEN_LIFETIME  # the token ages from when the door took it
    assert ("ERROR", "event K3 (message): handler failed") in inbox_lines(caplog)


def test_a_unique_key_taken_meanwhile_is_handled_again_once_then_given_up(world, runtime, net, monkeypatch, caplog):
    from sqlalchemy.exc import IntegrityError

    from bot.pipeline import inbox as inbox_module

    group, alice = net
    real, calls = inbox_module.dispatch, []

    def twin_first(times: int):  # type: ignore[no-untyped-def]
        def dispatch(registry, ctx):  # type: ignore[no-untyped-def]
            calls.append(ctx)
            if len(calls) <= times:
                raise IntegrityError("INSERT", {}, Exception("unique"))
            return real(registry, ctx)

        return dispatch

    monkeypatch.setattr(inbox_module, "dispatch", twin_first(1))
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        outcome, queued = handle_raw(runtime, text_event(world, group, alice, "ヘルプ"), key="K4")
    assert outcome == EventOutcome.HANDLED and len(calls) == 2
    assert [chat for chat, _, _ in queued] == [group.id]  # the second try answered, once
    assert ("INFO", "event K4: a unique key was taken meanwhile; handling it again") in inbox_lines(caplog)

    calls.clear()
    monkeypatch.setattr(inbox_module, "dispatch", twin_first(2))
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        outcome, queued = handle_raw(runtime, text_event(world, group, alice, "ヘルプ"), key="K5")
    assert outcome == EventOutcome.FAILED and len(calls) == 2  # twice, not for ever
    assert queued[-1][1] == messages.SORRY_FAILED
    [given_up] = [r for r in caplog.records if r.getMessage() == "event K5 (message): handler failed"]
    assert given_up.levelname == "ERROR" and given_up.exc_info


def test_a_value_the_database_refuses_is_skipped_as_invalid(world, runtime, net, monkeypatch, caplog):
    from sqlalchemy.exc import DataError

    group, alice = net

    def refused(registry, ctx):  # type: ignore[no-untyped-def]
        raise DataError("INSERT", {}, Exception("value too long"))

    monkeypatch.setattr("bot.pipeline.inbox.dispatch", refused)
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        outcome, queued = handle_raw(runtime, text_event(world, group, alice, "一覧"), key="K6")
    assert (outcome, queued) == (EventOutcome.INVALID, [])  # bad input: no apology, nothing queued
    assert ("WARNING", "event K6: refused by the database as invalid data; skipped") in inbox_lines(caplog)


def test_handlers_get_the_typed_event_the_links_and_when_the_door_took_it(world, runtime, net, monkeypatch):
    from bot.pipeline import inbox as inbox_module

    group, alice = net
    seen = []
    real = inbox_module.dispatch

    def spy(registry, ctx):  # type: ignore[no-untyped-def]
        seen.append((type(ctx.event).__name__, ctx.links, ctx.received_at))
        return real(registry, ctx)

    monkeypatch.setattr(inbox_module, "dispatch", spy)
    outcome, _ = handle_raw(runtime, text_event(world, group, alice, "一覧"), key="K7")
    assert outcome == EventOutcome.HANDLED
    assert seen == [("MessageEvent", runtime.inbox.links, took(runtime))]
    assert runtime.inbox.links is not None


def test_an_event_no_handler_takes_is_handled_quietly(world, runtime, net, caplog):
    group, alice = net
    beacon = {
        "type": "beacon",
        "mode": "active",
        "timestamp": 1700000000000,
        "source": {"type": "user", "userId": alice.id},
        "webhookEventId": "K8",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "r" * 32,
        "beacon": {"hwid": "d41d8cd98f", "type": "enter"},
    }
    with caplog.at_level(logging.DEBUG, logger="bot.pipeline.inbox"):
        outcome, queued = handle_raw(runtime, beacon, key="K8")
    assert (outcome, queued) == (EventOutcome.HANDLED, [])
    assert ("DEBUG", "event K8 (beacon): no handler") in inbox_lines(caplog)


def test_a_button_press_is_routed_by_its_data(world, runtime, net):
    group, alice = net
    press = world.line.postback(group.id, alice.id, compose.postback_data("help", t="outcome"))
    outcome, queued = handle_raw(runtime, press, key="K9")
    assert outcome == EventOutcome.HANDLED
    [(chat, text, _)] = queued
    assert chat == group.id and "結果" in text  # the 結果 topic of ヘルプ, not the whole card


def test_talking_one_to_one_shows_the_bot_is_followed_and_a_group_message_does_not(world, runtime, net):
    group, alice = net
    bob, carol = world.person("Bob"), world.person("Carol")

    def friends() -> dict:
        with runtime.sessions() as session:
            return dict(session.execute(select(Friend.line_user_id, Friend.updated_at)).all())

    known = friends()
    assert bob.id not in known and carol.id not in known
    handle_raw(runtime, world.line.text(group.id, bob.id, "一覧"), key="K10")
    assert friends() == known  # a group message says nothing about following the bot
    runtime.clock.advance(timedelta(minutes=1))
    handle_raw(runtime, world.line.text(carol.id, carol.id, "ヘルプ"), key="K11")
    assert friends() == {**known, carol.id: runtime.clock.now()}  # a 1:1 text, seen now
    runtime.clock.advance(timedelta(minutes=1))
    handle_raw(runtime, world.line.postback(bob.id, bob.id, compose.postback_data("help", t="post")), key="K12")
    assert friends() == {**known, carol.id: runtime.clock.now() - timedelta(minutes=1), bob.id: runtime.clock.now()}
    dave = world.person("Dave")
    handle_raw(runtime, world.line.unsend(dave.id, dave.id, "1"), key="K13")
    assert dave.id not in friends()  # 1:1, but neither a message nor a press


def test_each_handled_event_is_recorded_by_its_id_with_type_chat_times_and_outcome(world, runtime, net, caplog):
    group, alice = net
    event = world.line.redelivery(world.line.text(group.id, alice.id, "ヘルプ"))
    took_at = runtime.clock.now()
    assert world.post(encode_body(world.line.payload(event))).status_code == 200
    runtime.clock.advance(timedelta(seconds=3))  # the worker gets to it a little later
    world.deliver()

    with runtime.sessions() as session:
        row = session.get(WebhookEvent, event["webhookEventId"])
        recorded = (row.event_type, row.chat_id, row.redelivery, row.received_at, row.handled_at, row.outcome)
    assert recorded == ("message", group.id, True, took_at, runtime.clock.now(), EventOutcome.HANDLED)

    assert world.post(encode_body(world.line.payload(event))).status_code == 200  # LINE sends it again
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        assert not world.deliver()
    assert ("INFO", f"event {event['webhookEventId']}: already handled (redelivery=True)") in inbox_lines(caplog)


# --- one round: how much it takes, and when handled events leave the inbox ----------------------
# SQLite has one write lock, which the sender needs for every delivery it records: a round of
# handling holds it for a short time budget and a bounded batch, then lets go.

def post_texts(world, group, person, count: int) -> None:
    for n in range(1, count + 1):
        world.post(encode_body(world.line.payload(world.line.text(group.id, person.id, f"ヘルプ {n}"))))


def handled_count(runtime) -> int:
    with runtime.sessions() as session:
        return count(session, WebhookEvent)


def test_a_round_takes_at_most_a_batch_and_the_next_round_the_rest(world, runtime, net):
    group, alice = net
    post_texts(world, group, alice, 5)
    inbox = runtime.inbox
    inbox.batch, inbox.forget_every = 2, 3600.0
    before = handled_count(runtime)

    assert [inbox.run_once() for _ in range(4)] == [2, 2, 1, 0]
    assert handled_count(runtime) == before + 5


def test_after_each_round_that_took_events_the_sender_is_woken(world, runtime, net):
    group, alice = net
    woken: list[int] = []
    inbox = runtime.inbox
    inbox.after_commit = lambda: woken.append(handled_count(runtime))  # after the commit: the rows are visible
    before = handled_count(runtime)
    assert inbox.run_once() == 0 and woken == []  # nothing waiting: no wake

    post_texts(world, group, alice, 3)
    inbox.batch = 2
    inbox.run_once()
    inbox.run_once()
    assert woken == [before + 2, before + 3]


@pytest.mark.skipif(USING_POSTGRES, reason="on PostgreSQL the inbox is emptied in the handling transaction")
def test_in_an_inbox_of_its_own_handled_events_are_not_read_again_and_leave_together(world, runtime, net):
    group, alice = net
    post_texts(world, group, alice, 3)
    inbox = runtime.inbox
    inbox.batch, inbox.forget_every = 2, 3600.0

    assert inbox.run_once() == 2
    assert inbox.run_once() == 1  # past the two handled, though they are still in the inbox
    assert inbox.run_once() == 0
    assert len(waiting(runtime)) == 3
    inbox.forget_handled()  # after a checkpoint of the main database
    assert waiting(runtime) == []
    inbox.forget_handled()  # nothing left to remove: no error


@pytest.mark.skipif(not USING_POSTGRES, reason="the inbox shares PostgreSQL's database")
def test_on_postgresql_handled_events_leave_the_inbox_with_their_handling(world, runtime, net):
    group, alice = net
    post_texts(world, group, alice, 3)
    runtime.inbox.batch = 2
    assert runtime.inbox.run_once() == 2
    assert len(waiting(runtime)) == 1


class SteppedTime:
    """The inbox module's clock for its time budget: moves only when an event is handled."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def stepped(monkeypatch) -> SteppedTime:
    """The stepped clock, as the inbox module's ``time``."""
    import bot.pipeline.inbox as inbox_module

    clock = SteppedTime()
    monkeypatch.setattr(inbox_module, "time", clock)
    return clock


class TakesTime(InboxProcessor):
    step = 0.0
    stepped: SteppedTime

    def handle(self, *args, **kwargs):
        outcome = super().handle(*args, **kwargs)
        self.stepped.now += self.step
        return outcome


# The budget of one round: SQLite's one write lock is wanted by the sender, PostgreSQL's is not.
BUDGET_OF_A_ROUND = {"sqlite": 0.02, "postgresql": 0.1}


def test_a_round_stops_taking_events_once_its_time_budget_is_spent(world, runtime, net, stepped):
    group, alice = net
    post_texts(world, group, alice, 6)
    slow = same_parts(runtime, TakesTime)
    slow.stepped, slow.forget_every = stepped, 3600.0
    slow.step = BUDGET_OF_A_ROUND[runtime.engine.dialect.name] / 2  # each event takes half the budget

    # Two events spend the budget exactly (not over it); the third goes over, and the round ends.
    taken = []
    for _ in range(3):
        stepped.now = 0.0  # each round from zero: sums of binary fractions stay exact
        taken.append(slow.run_once())
    assert taken == [3, 3, 0]


@pytest.mark.skipif(USING_POSTGRES, reason="on PostgreSQL the inbox is emptied in the handling transaction")
def test_handled_events_leave_an_inbox_of_its_own_once_forget_every_has_passed(world, runtime, net, stepped):
    group, alice = net
    post_texts(world, group, alice, 3)
    inbox = runtime.inbox
    inbox.batch, inbox._forgotten_at = 1, 0.0

    stepped.now = 0.5  # not more than forget_every (0.5 s) since the last removal: they stay
    assert inbox.run_once() == 1 and len(waiting(runtime)) == 3
    stepped.now = 0.6
    assert inbox.run_once() == 1 and len(waiting(runtime)) == 1  # both handled ones leave together
    stepped.now = 0.7
    assert inbox.run_once() == 1 and len(waiting(runtime)) == 1  # the clock starts again from 0.6


def test_drain_handles_at_most_its_rounds_and_leaves_nothing_handled_behind(world, runtime, net):
    group, alice = net
    post_texts(world, group, alice, 3)
    inbox = runtime.inbox
    inbox.batch, inbox.forget_every = 1, 3600.0
    assert inbox.drain(max_rounds=2) == 2
    assert len(waiting(runtime)) == 1  # the third, not yet handled; the two handled are removed
    assert inbox.drain() == 1 and waiting(runtime) == []


# --- the worker's loop: outages, bugs, idling -------------------------------------------------------
class RecordedStop(threading.Event):
    """``stop`` whose waits return at once and are remembered (the backoff under test)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return self.is_set()


class RecordedWakeup:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    def clear(self) -> None:
        self.calls.append(("clear", None))

    def wait(self, timeout: float) -> None:
        self.calls.append(("wait", timeout))


class ScriptedRounds(InboxProcessor):
    """Each round answers from a script: a number of events taken, or an exception raised."""

    script: list
    stop: RecordedStop
    rounds = 0
    forgets = 0

    def run_once(self) -> int:
        self.rounds += 1
        step = self.script.pop(0)
        if not self.script:
            self.stop.set()
        if isinstance(step, BaseException):
            raise step
        return step

    def forget_handled(self) -> None:
        self.forgets += 1


def scripted(runtime, script: list) -> tuple[ScriptedRounds, RecordedStop, RecordedWakeup]:
    rounds = same_parts(runtime, ScriptedRounds)
    rounds.script, rounds.stop = list(script), RecordedStop()
    beats: list[int] = []
    rounds.on_round = lambda: beats.append(rounds.rounds)
    rounds.beats = beats
    return rounds, rounds.stop, RecordedWakeup()


def outage():
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def test_a_database_outage_is_waited_out_with_a_growing_pause(runtime, caplog):
    rounds, stop, wakeup = scripted(runtime, [outage() for _ in range(6)] + [1, outage(), 0])
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        rounds.run_forever(stop, wakeup, poll_interval=1.0)

    # Doubling from twice the poll interval, at most 30 s; a round that works starts it again.
    assert stop.waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 2.0]
    assert ("WARNING", "inbox: database unavailable (OperationalError); retrying in 2.0s") in inbox_lines(caplog)
    assert rounds.beats == list(range(9))  # the heartbeat beats at every loop, outage or not
    assert ("INFO", "inbox: handling webhook events") == inbox_lines(caplog)[0]


def test_a_failed_round_is_logged_and_the_worker_goes_on(runtime, caplog):
    rounds, stop, wakeup = scripted(runtime, [RuntimeError("a bug"), 2, 0])
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        rounds.run_forever(stop, wakeup, poll_interval=0.5)
    [failed] = [r for r in caplog.records if r.getMessage() == "inbox: round failed; retrying"]
    assert failed.levelname == "ERROR" and failed.exc_info
    assert rounds.rounds == 3 and stop.waits == []
    # Idle after the failure and at the end (clear, look, wait); busy in between: straight on.
    assert wakeup.calls == [("clear", None), ("wait", 0.5), ("clear", None), ("clear", None), ("wait", 0.5)]
    assert rounds.forgets == 3  # when idle twice, and once at stopping


@pytest.mark.skipif(USING_POSTGRES, reason="on PostgreSQL the inbox is emptied in the handling transaction")
def test_handled_events_that_cannot_be_removed_during_an_outage_wait_for_the_next_time(world, runtime, net, caplog):
    inbox = runtime.inbox

    def cut(seqs):
        raise outage()

    inbox._handled_seqs = [1]
    inbox._forget, inbox.forget_every = cut, 3600.0
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"):
        inbox._forget_quietly()
    assert ("WARNING", "inbox: cannot remove handled events yet (OperationalError)") in inbox_lines(caplog)


def test_a_payload_that_is_not_sealed_is_reported_unreadable(runtime, caplog):
    with caplog.at_level(logging.INFO, logger="bot.pipeline.inbox"), runtime.sessions.begin() as session:
        outcome = runtime.inbox.handle(session, "K14", b"plain bytes", took(runtime))
    assert outcome == EventOutcome.UNREADABLE
    why = "event K14: cannot open its sealed payload (not a sealed payload); not handled"
    assert inbox_lines(caplog) == [("ERROR", why)]


def test_lone_surrogates_anywhere_in_an_event_become_replacement_characters():
    from bot.pipeline.inbox import clean

    raw = {"text\ud800": ["a\udfffb", {"k": "\ud83d"}, 7, None], "n": 1.5}
    assert clean(raw) == {"text\ufffd": ["a\ufffdb", {"k": "\ufffd"}, 7, None], "n": 1.5}


def test_only_a_failed_message_or_button_press_gets_an_apology(world, runtime, net, monkeypatch):
    group, alice = net

    def bug(registry, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr("bot.pipeline.inbox.dispatch", bug)
    press = world.line.postback(group.id, alice.id, compose.postback_data("help", t="post"))
    outcome, queued = handle_raw(runtime, press, key="K15")
    assert outcome == EventOutcome.FAILED and [(c, t) for c, t, _ in queued] == [(group.id, messages.SORRY_FAILED)]
    outcome, queued = handle_raw(runtime, world.line.member_joined(group.id, [alice.id]), key="K16")
    assert (outcome, queued) == (EventOutcome.FAILED, [])  # nobody asked anything: no apology pushed to the group


def test_each_line_logged_while_an_event_is_handled_carries_its_id(world, runtime, net, caplog):
    from bot import logs

    group, alice = net
    caplog.handler.addFilter(logs.EventFields())
    with caplog.at_level(logging.DEBUG, logger="bot.pipeline.inbox"):
        outcome, _ = handle_raw(runtime, text_event(world, group, alice, "ヘルプ"), key="K17")
    assert outcome == EventOutcome.HANDLED
    ours = [r for r in caplog.records if r.name == "bot.pipeline.inbox"]
    lines = [(r.levelname, r.getMessage(), getattr(r, "event_id", None)) for r in ours]
    assert lines == [("DEBUG", "event K17: handled", "K17")]  # and no "no handler": the command took it


def test_a_reply_token_ages_from_when_the_door_took_the_event(world, runtime, net):
    group, alice = net
    took_at = runtime.clock.now()
    with runtime.sessions() as session:
        before = session.scalar(select(func.max(OutboxMessage.id)))
    world.post(encode_body(world.line.payload(world.line.text(group.id, alice.id, "ヘルプ"))))
    runtime.clock.advance(timedelta(seconds=20))  # the worker was busy for twenty seconds
    assert runtime.inbox.run_once() == 1
    with runtime.sessions() as session:
        new = select(OutboxMessage.reply_deadline).where(OutboxMessage.id > before, OutboxMessage.chat_id == group.id)
        assert list(session.scalars(new)) == [took_at + REPLY_TOKEN_LIFETIME]


def test_a_sticker_is_not_taken_for_a_typed_answer(world, runtime, net):
    group, alice = net
    bob = world.person("Bob")
    group.add(bob)
    bob.says(group, "団体登録 地域包括支援センター フォーマル")
    card = alice.says(group, "困りごと 通院の付き添いを探しています")
    bob.presses(group, card.button("伝手あり"))

    # Only a text message is offered to the commands and to a pending answer.
    sticker = world.line.text(group.id, bob.id, "")
    del sticker["message"]["text"]
    sticker["message"].update(type="sticker", packageId="446", stickerId="1988", stickerResourceType="STATIC")
    assert not world.send(sticker)
    with runtime.sessions() as session:
        assert session.get(WebhookEvent, sticker["webhookEventId"]).outcome == EventOutcome.HANDLED

    answered = bob.says(group, "社協の移送サービスが使えるかもしれません")
    assert "伝手が届きました：社協の移送サービスが使えるかもしれません" in answered.text
