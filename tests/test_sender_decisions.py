"""The sender's decisions (bot/pipeline/sender.py), one at a time: reply or push, what to do with
each answer LINE gives, when not to ask LINE at all, what a push costs, and how production's loop
records and claims in rounds and stops.

Against the fake LINE platform where it can give the answer (a real LineGateway over HTTP), and a
small scripted gateway in this file where it cannot (an answer held until the test lets it go, a
database error mid-send). Fast on purpose: no world, no app; mutation testing runs this file once
per mutant (bench/mutation.py)."""

from __future__ import annotations

import os
import queue
import socket
import threading
import time as real_time
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import JST, TOKEN
from harness import eventually
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.fakeline import new_group_id, new_user_id
from bot.pipeline import outbox
from bot.pipeline import sender as sender_module
from bot.pipeline.delivery_state import KNOWN_MONTHLY_LIMIT, Attempt
from bot.pipeline.line_client import LineGateway, Outcome, Result
from bot.pipeline.sender import ASK_AGAIN_AFTER, MEMBER_COUNT_TTL, STOP_GRACE, Sender, _take_all
from bot.replies import compose
from bot.replies.messages import MENTION_LEFT_NAME, STALE_REPLIES_HEADER
from bot.store.wakeup import LocalWakeup
from models import LedgerEntry, OutboxMessage, ReplyState
from models.ledger import Kind

ALICE, CAROL, BOB = new_user_id(), new_user_id(), new_user_id()  # Bob is not in the group
FRIEND = new_user_id()
# How long the tests wait for production's loop (in a thread) to do something that takes it
# milliseconds: generous, and short enough that a broken loop fails the test instead of hanging it.
LOOP_DEADLINE = 10.0


# --- the stage: a database, the fake LINE platform, a sender ---------------------------------------


@pytest.fixture
def sessions(engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@pytest.fixture
def gateway(line_server) -> Iterator[LineGateway]:
    gateway = LineGateway(line_server.url, TOKEN)
    yield gateway
    gateway.close()


@pytest.fixture
def group(platform) -> str:
    group_id = new_group_id()
    platform.add_group(group_id, "ささえあいネット")
    platform.add_member(group_id, ALICE, "Alice")
    platform.add_member(group_id, CAROL, "Carol")
    platform.add_friend(FRIEND, "Friend")
    return group_id


@pytest.fixture
def sender(sessions, gateway, clock) -> Sender:
    return Sender(sessions, gateway, clock.now, name="decisions")


def queue_row(sessions, clock, chat_id: str, *bodies: str, messages: list | None = None, **kwargs: Any) -> int:
    with sessions.begin() as session:
        [row_id] = outbox.enqueue(
            session, chat_id, messages or [compose.text(b) for b in bodies], now=clock.now(), **kwargs
        )
    return row_id


def queue_late_reply_to_carol(sessions, clock, group: str, body: str) -> int:
    """Another member's answer in the same group whose token ran out two minutes ago, never tried."""
    late = {"reply_token": "e" * 32, "token_issued_at": clock.now() - timedelta(minutes=2)}
    return queue_row(sessions, clock, group, body, lane=f"{group}/{CAROL}", **late)


def stored(sessions, row_id: int) -> OutboxMessage:
    with sessions() as session:
        found = session.get(OutboxMessage, row_id)
        assert found is not None
        return found


def set_reply_state(sessions, row_id: int, state: ReplyState) -> None:
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(reply_state=state))


def ledger(sessions) -> list[tuple[str, int, str]]:
    with sessions() as session:
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        return [(e.outcome, e.counted, e.recipients) for e in entries]


def requests_to(platform, ending: str) -> list:
    return [r for r in platform.requests if r.path.endswith(ending)]


def texts_of(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def sender_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.pipeline.sender"]


class FakeLine:
    """A scripted LineGateway (reply, push, member_count): answers SENT unless told otherwise, and
    can hold each push until the test lets it go (``gated``). Thread-safe: production's loop calls
    it from its sending threads."""

    def __init__(self, *, gated: bool = False) -> None:
        self.lock = threading.Lock()
        self.gate = threading.Semaphore(0) if gated else None
        self.pushes: list[tuple[str, list, str]] = []
        self.push_answers: list[Result | Exception] = []
        self.counts: list[Result] = []
        self.waiting = self.answered = self.in_flight = self.most = 0
        self.threads: set[str] = set()

    def reply(self, reply_token: str, messages: list) -> Result:
        return Result(Outcome.SENT, 200)

    def push(self, to: str, messages: list, retry_key: str) -> Result:
        with self.lock:
            self.waiting += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.threads.add(threading.current_thread().name)
        try:
            if self.gate is not None:
                assert self.gate.acquire(timeout=LOOP_DEADLINE), "never released"
            with self.lock:
                self.pushes.append((to, messages, retry_key))
                answer = self.push_answers.pop(0) if self.push_answers else Result(Outcome.SENT, 200)
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            with self.lock:
                self.in_flight -= 1
                self.answered += 1

    def member_count(self, chat_id: str) -> Result:
        return self.counts.pop(0) if self.counts else Result(Outcome.SENT, 200, data=SimpleNamespace(count=2))

    def release(self, n: int = 1) -> None:
        assert self.gate is not None
        self.gate.release(n)


def database_gone() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("the database is away"))


class FlakySessions:
    """The sender's ``sessionmaker``, whose next ``failures`` transactions cannot reach the database;
    counts the transactions begun."""

    def __init__(self, real: sessionmaker[Session], failures: int = 0) -> None:
        self.real, self.failures, self.begun = real, failures, 0

    def begin(self):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise database_gone()
        self.begun += 1
        return self.real.begin()

    def __call__(self) -> Session:
        return self.real()


class FakeTime:
    """``time`` as bot.pipeline.sender sees it: ``monotonic`` moves only when the test says; ``sleep``
    is noted (a round waiting for others to gather) and returns at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
        real_time.sleep(0)


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(sender_module, "time", fake)
    return fake


class RecordingWakeup(LocalWakeup):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float) -> None:
        self.waits.append(timeout)
        super().wait(timeout)


# --- the sender's own settings ----------------------------------------------------------------------


def test_a_sender_is_named_after_its_host_process_and_self_and_leases_for_30_seconds(sessions, gateway, clock):
    sender = Sender(sessions, gateway, clock.now)
    assert sender.name == f"{socket.gethostname()}:{os.getpid()}:{id(sender):x}"
    assert (sender.concurrency, sender.batch, sender.exhausted_at) == (1, 20, None)
    assert Sender(sessions, gateway, clock.now, concurrency=0).concurrency == 1  # at least one thread
    assert Sender(sessions, gateway, clock.now, concurrency=3).concurrency == 3

    row_id = queue_row(sessions, clock, FRIEND, "一")
    [claimed] = sender.claim()
    assert claimed.id == row_id
    leased = stored(sessions, row_id)
    assert (leased.locked_by, leased.locked_until) == (sender.name, clock.now() + timedelta(seconds=30))


def test_wake_sets_the_senders_wakeup(sender):
    assert not sender.wakeup.event.is_set()
    sender.wake()
    assert sender.wakeup.event.is_set()


def test_the_heartbeat_hook_does_nothing_until_the_app_sets_one(sender):
    assert sender.on_round() is None


# --- reply or push ----------------------------------------------------------------------------------


def test_a_fresh_token_is_used_for_a_free_reply(sender, sessions, clock, platform, group):
    token = platform.issue_reply_token(group)
    row_id = queue_row(sessions, clock, group, "こんにちは", reply_token=token, token_issued_at=clock.now())

    assert sender.run_once() == 1

    [delivery] = platform.deliveries(group)
    assert (delivery.via, delivery.reply_token, texts_of(delivery.messages)) == ("reply", token, ["こんにちは"])
    sent = stored(sessions, row_id)
    assert (sent.status, sent.sent_via, sent.reply_state) == ("sent", "reply", "attempted")
    assert requests_to(platform, "/push") == [] and requests_to(platform, "/members/count") == []
    assert ledger(sessions) == []  # a reply costs nothing


def test_a_token_at_its_deadline_is_not_tried_and_the_answer_is_pushed(sender, sessions, clock, platform, group):
    # LINE would still take it (its minute is not over), but the sender keeps a margin: 50 s.
    token = platform.issue_reply_token(group)
    row_id = queue_row(
        sessions, clock, group, "遅い返事", reply_token=token, token_issued_at=clock.now() - timedelta(seconds=50)
    )

    assert sender.run_once() == 1

    [delivery] = platform.deliveries(group)
    assert (delivery.via, texts_of(delivery.messages)) == ("push", ["遅い返事"])  # alone: no header
    assert requests_to(platform, "/reply") == []
    pushed = stored(sessions, row_id)
    assert (pushed.status, pushed.sent_via, pushed.reply_state) == ("sent", "push", "expired")
    assert ledger(sessions) == [("sent", 2, "group")]  # LINE counted the group's two members


def test_a_token_line_already_refused_is_not_tried_again(sender, sessions, clock, platform, group):
    token = platform.issue_reply_token(group)
    row_id = queue_row(sessions, clock, group, "再送", reply_token=token, token_issued_at=clock.now())
    set_reply_state(sessions, row_id, ReplyState.REJECTED)

    assert sender.run_once() == 1

    assert requests_to(platform, "/reply") == []
    assert [d.via for d in platform.deliveries(group)] == ["push"]


def test_a_reply_mentioning_someone_who_left_is_sent_without_the_mention(
    sender, sessions, clock, platform, group, caplog
):
    token = platform.issue_reply_token(group)
    thanks = compose.mention_text("{who}さん、ありがとう", {"who": BOB})
    row_id = queue_row(sessions, clock, group, messages=[thanks], reply_token=token, token_issued_at=clock.now())

    assert sender.run_once() == 1

    assert [r.status for r in requests_to(platform, "/reply")] == [400, 200]
    [delivery] = platform.deliveries(group)
    assert delivery.via == "reply"
    assert delivery.messages == [{"type": "text", "text": f"{MENTION_LEFT_NAME}さん、ありがとう"}]
    assert stored(sessions, row_id).sent_via == "reply"
    assert f"outbox #{row_id}: a mentioned member left the chat; sent without the mention" in sender_log(caplog)


def test_a_push_mentioning_someone_who_left_is_sent_without_the_mention_under_the_same_key(
    sender, sessions, clock, platform, group, caplog
):
    thanks = compose.mention_text("{who}さん、ありがとう", {"who": BOB})
    row_id = queue_row(sessions, clock, group, messages=[thanks])

    assert sender.run_once() == 1

    pushes = requests_to(platform, "/push")
    assert [r.status for r in pushes] == [400, 200]
    assert {r.headers.get("X-Line-Retry-Key") for r in pushes} == {stored(sessions, row_id).retry_key}
    [delivery] = platform.deliveries(group)
    assert delivery.messages == [{"type": "text", "text": f"{MENTION_LEFT_NAME}さん、ありがとう"}]
    assert stored(sessions, row_id).status == "sent"
    assert f"outbox #{row_id}: a mentioned member left the chat; sent without the mention" in sender_log(caplog)


# --- LINE calls the token invalid ----------------------------------------------------------------------


def test_an_invalid_token_after_an_earlier_attempt_means_that_attempt_delivered_it(
    sender, sessions, clock, platform, group, caplog
):
    """The earlier try's answer was lost (a crash, a timeout): the token cannot have expired yet, so
    only our own earlier call can have used it."""
    row_id = queue_row(sessions, clock, group, "届いた", reply_token="f" * 32, token_issued_at=clock.now())
    sender.claim()  # the first try: marked attempted; its outcome never recorded
    clock.advance(timedelta(seconds=31))  # its lease lapses, the token (50 s) is still fresh
    [row] = sender.claim()
    assert row.reply_state == ReplyState.ATTEMPTED

    attempt = sender._attempt(row)
    result = attempt.result
    assert (result.outcome, result.status, result.message, result.via) == (
        Outcome.SENT,
        400,
        "reply token used by an earlier attempt",
        "reply",
    )
    assert sender._record(row, attempt) is True

    done = stored(sessions, row_id)
    assert (done.status, done.sent_via) == ("sent", "reply")
    assert requests_to(platform, "/push") == [] and platform.deliveries() == []
    assert f"outbox #{row_id}: reply token already used by an earlier attempt: delivered" in sender_log(caplog)


def test_an_invalid_token_on_a_first_try_is_pushed_with_the_chats_other_late_replies(
    sender, sessions, clock, platform, group
):
    refused = queue_row(
        sessions, clock, group, "一つ目", reply_token="f" * 32, token_issued_at=clock.now(), lane=f"{group}/{ALICE}"
    )
    late = queue_late_reply_to_carol(sessions, clock, group, "二つ目")
    [row] = sender.claim(1)
    assert row.id == refused

    assert sender.deliver(row) is True

    assert [r.status for r in requests_to(platform, "/reply")] == [400]
    [delivery] = platform.deliveries(group)
    assert (delivery.via, texts_of(delivery.messages)) == ("push", [STALE_REPLIES_HEADER, "一つ目", "二つ目"])
    assert stored(sessions, refused).reply_state == "expired"
    assert (stored(sessions, late).status, stored(sessions, late).carried_by) == ("carried", refused)


def test_an_acknowledgement_whose_token_line_refuses_is_dropped_and_the_refusal_kept(
    sender, sessions, clock, platform, group
):
    """The refusal is written at once: had the sender died before pushing, the next try must not read
    the refusal as proof that an earlier attempt delivered it."""
    row_id = queue_row(
        sessions, clock, group, "受け付けました", reply_token="f" * 32, token_issued_at=clock.now(), kind=Kind.ACK
    )

    assert sender.run_once() == 1

    dropped = stored(sessions, row_id)
    assert (dropped.status, dropped.reply_state, dropped.last_error) == ("dropped", "rejected", "stale_ack")
    assert requests_to(platform, "/push") == []


# --- LINE answers "try again" -------------------------------------------------------------------------


def test_a_reply_line_did_not_take_is_retried_as_a_reply_with_nothing_in_doubt(
    sender, sessions, clock, platform, group
):
    token = platform.issue_reply_token(group)
    row_id = queue_row(sessions, clock, group, "もう一度", reply_token=token, token_issued_at=clock.now())
    platform.fail_next(1, status=500, endpoint="reply")

    assert sender.run_once() == 1
    waiting = stored(sessions, row_id)
    assert (waiting.status, waiting.attempts, waiting.reply_state) == ("pending", 1, "none")
    assert waiting.last_error == "500 Internal Server Error"
    assert requests_to(platform, "/push") == []

    clock.advance(timedelta(seconds=2))  # past its backoff (at most a second after one attempt)
    assert sender.run_once() == 1
    assert [d.via for d in platform.deliveries(group)] == ["reply"]


def test_a_retry_after_an_attempt_in_doubt_keeps_the_doubt(sender, sessions, clock, platform, group):
    token = platform.issue_reply_token(group)
    row_id = queue_row(sessions, clock, group, "もう一度", reply_token=token, token_issued_at=clock.now())
    sender.claim()  # an earlier try whose outcome was lost
    clock.advance(timedelta(seconds=31))
    platform.fail_next(1, status=500, endpoint="reply")

    assert sender.run_once() == 1

    waiting = stored(sessions, row_id)
    assert (waiting.status, waiting.reply_state) == ("pending", "attempted")


# --- a reply that missed its token ----------------------------------------------------------------------


def test_a_late_acknowledgement_is_dropped_without_asking_line(sender, sessions, clock, platform, group):
    row_id = queue_row(
        sessions,
        clock,
        group,
        "登録しました",
        reply_token="f" * 32,
        token_issued_at=clock.now() - timedelta(seconds=51),
        kind=Kind.ACK,
    )

    [row] = sender.claim()
    attempt = sender._attempt(row)
    assert (attempt.result.outcome, attempt.result.status, attempt.result.message) == (Outcome.NOT_SENT, 0, "stale_ack")
    assert sender._record(row, attempt) is True

    dropped = stored(sessions, row_id)
    assert (dropped.status, dropped.last_error) == ("dropped", "stale_ack")
    assert platform.requests == []


def late_after_a_lost_attempt(sender, sessions, clock, group: str, body: str, **kwargs: Any) -> int:
    row_id = queue_row(sessions, clock, group, body, reply_token="f" * 32, token_issued_at=clock.now(), **kwargs)
    sender.claim()  # the reply call was made; its outcome was lost
    clock.advance(timedelta(minutes=1))  # the lease lapsed, and the token expired meanwhile
    return row_id


def test_a_late_answer_whose_reply_may_have_arrived_is_dropped(sender, sessions, clock, platform, group):
    row_id = late_after_a_lost_attempt(sender, sessions, clock, group, "回答")

    assert sender.run_once() == 1

    dropped = stored(sessions, row_id)
    assert (dropped.status, dropped.last_error) == ("dropped", "reply_outcome_unknown")
    assert platform.requests == []


def test_a_late_notice_whose_reply_may_have_arrived_is_pushed_on_its_own(
    sender, sessions, clock, platform, group, caplog
):
    row_id = late_after_a_lost_attempt(sender, sessions, clock, group, "お知らせ", kind=Kind.NOTICE)
    other = queue_late_reply_to_carol(sessions, clock, group, "別の遅れた返信")
    [row] = sender.claim(1)
    assert row.id == row_id

    assert sender.deliver(row) is True

    [delivery] = platform.deliveries(group)
    assert (delivery.via, texts_of(delivery.messages)) == ("push", ["お知らせ"])  # not merged: decided on its own
    assert stored(sessions, row_id).reply_state == "attempted"
    assert (stored(sessions, other).status, stored(sessions, other).carried_by) == ("pending", None)
    assert f"outbox #{row_id}: reply outcome unknown and token expired: pushing" in sender_log(caplog)


def test_late_replies_to_one_chat_leave_in_one_push(sender, sessions, clock, platform, group):
    an_hour_ago = clock.now() - timedelta(hours=1)
    first = queue_row(
        sessions, clock, group, "A", reply_token="f" * 32, token_issued_at=an_hour_ago, lane=f"{group}/{ALICE}"
    )
    second = queue_row(
        sessions, clock, group, "B", reply_token="e" * 32, token_issued_at=an_hour_ago, lane=f"{group}/{CAROL}"
    )

    [row] = sender.claim()  # one late reply per chat is claimed: it takes the other along
    assert sender.deliver(row) is True
    assert row.reply_state == ReplyState.EXPIRED  # as the sender holds it, as written
    assert sender.run_once() == 0

    [delivery] = platform.deliveries(group)
    assert (delivery.via, texts_of(delivery.messages)) == ("push", [STALE_REPLIES_HEADER, "A", "B"])
    assert (stored(sessions, first).status, stored(sessions, first).reply_state) == ("sent", "expired")
    assert (stored(sessions, second).status, stored(sessions, second).carried_by) == ("carried", first)
    assert ledger(sessions) == [("sent", 2, "group"), ("folded", 0, "group")]


# --- LINE's monthly limit, remembered ----------------------------------------------------------------------


def test_after_line_says_the_month_is_spent_pushes_are_answered_here_for_a_minute(
    sender, sessions, clock, platform, group
):
    platform.monthly_limit_reached()
    queue_row(sessions, clock, FRIEND, "上限")
    [row] = sender.claim()
    spent_at = clock.now()

    assert sender._attempt(row).result.outcome == Outcome.MONTHLY_LIMIT
    assert sender.exhausted_at == spent_at
    assert len(requests_to(platform, "/push")) == 1

    for seconds in (0, 59):  # within the minute: not asked again (a queue of pushes, one refused call)
        clock.set(spent_at + timedelta(seconds=seconds))
        result = sender._attempt(row).result
        assert (result.outcome, result.status, result.message, result.via) == (
            Outcome.MONTHLY_LIMIT,
            429,
            KNOWN_MONTHLY_LIMIT,
            "push",
        )
    assert len(requests_to(platform, "/push")) == 1
    assert sender.exhausted_at == spent_at

    clock.set(spent_at + ASK_AGAIN_AFTER)  # a minute on: one push asks again (a plan may have changed)
    assert ASK_AGAIN_AFTER == timedelta(minutes=1)
    assert sender._attempt(row).result.outcome == Outcome.MONTHLY_LIMIT
    assert len(requests_to(platform, "/push")) == 2
    assert sender.exhausted_at == spent_at + ASK_AGAIN_AFTER

    platform.monthly_limit_reached(False)  # the plan was raised
    clock.advance(ASK_AGAIN_AFTER)
    result = sender._attempt(row).result
    assert (result.outcome, result.via, result.recipients) == (Outcome.SENT, "push", 1)
    assert sender.exhausted_at is None


def test_a_new_month_asks_line_again_at_once(sender, sessions, clock, platform, group):
    clock.set(datetime(2026, 11, 30, 23, 59, 50, tzinfo=JST))
    platform.monthly_limit_reached()  # November's allowance is spent
    queue_row(sessions, clock, FRIEND, "月末")
    [row] = sender.claim()
    assert sender._attempt(row).result.outcome == Outcome.MONTHLY_LIMIT

    clock.set(datetime(2026, 12, 1, 0, 0, 5, tzinfo=JST))  # 15 s later, in December
    assert sender._attempt(row).result.outcome == Outcome.SENT
    assert len(requests_to(platform, "/push")) == 2 and sender.exhausted_at is None


# --- what a push costs: its recipients ---------------------------------------------------------------------


def test_a_push_to_a_user_counts_one_without_asking_line(sender, sessions, clock, platform, group):
    queue_row(sessions, clock, FRIEND, "1:1")
    assert sender.run_once() == 1
    assert ledger(sessions) == [("sent", 1, "user")]
    assert requests_to(platform, "/members/count") == []
    assert sender._recipients(FRIEND) == 1


def test_a_groups_member_count_is_asked_of_line_at_most_once_an_hour(sender, platform, group, fake_time):
    assert MEMBER_COUNT_TTL == 3600.0
    assert sender._recipients(group) == 2
    platform.add_member(group, BOB, "Bob")

    fake_time.advance(MEMBER_COUNT_TTL - 0.5)
    assert sender._recipients(group) == 2  # kept: still under an hour
    assert len(requests_to(platform, "/members/count")) == 1

    fake_time.advance(0.5)  # an hour since LINE was asked
    assert sender._recipients(group) == 3
    assert len(requests_to(platform, "/members/count")) == 2
    assert sender._recipients(group) == 3
    assert len(requests_to(platform, "/members/count")) == 2


def test_when_line_cannot_say_a_groups_size_it_is_unknown_and_asked_again_next_time(sender, platform, group):
    gone = new_group_id()  # the bot is not in it: LINE answers 404
    assert sender._recipients(gone) is None
    assert sender._recipients(gone) is None
    assert len(requests_to(platform, "/members/count")) == 2


def test_an_answer_without_a_count_is_no_count(sessions, clock):
    line = FakeLine()
    line.counts = [Result(Outcome.SENT, 200, data=None), Result(Outcome.RETRY, 500, data=SimpleNamespace(count=7))]
    sender = Sender(sessions, line, clock.now, name="counts")
    group = new_group_id()
    assert sender._recipients(group) is None
    assert sender._recipients(group) is None
    assert sender._recipients(group) == 2 == sender._recipients(group)  # asked once more, then kept
    assert line.counts == []


# --- one row at a time: run_once, drain, deliver, _record ------------------------------------------------------


def lanes_of_rows(sessions, clock, n: int) -> list[int]:
    return [queue_row(sessions, clock, FRIEND, f"#{i}", lane=f"lane-{i}") for i in range(n)]


def sent_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))


def test_run_once_claims_up_to_its_batch_and_delivers_each(sessions, clock):
    line = FakeLine()
    sender = Sender(sessions, line, clock.now, name="batch")
    lanes_of_rows(sessions, clock, 22)

    assert sender.run_once() == 20  # the default batch
    assert len(line.pushes) == 20 and sent_count(sessions) == 20
    assert sender.run_once() == 2
    assert sender.run_once() == 0


def test_drain_goes_at_most_a_hundred_rounds_by_default(sessions, clock):
    """A guard against a queue that never empties: what is left waits for the next drain."""
    sender = Sender(sessions, FakeLine(), clock.now, name="drain", batch=1)
    with sessions.begin() as session:  # 101 requests of one lane: one a round
        outbox.enqueue(session, FRIEND, [compose.text(f"#{i}") for i in range(505)], now=clock.now())
    sender.drain()
    assert sent_count(sessions) == 100


def test_claim_takes_the_limit_given_or_the_batch(sessions, clock):
    sender = Sender(sessions, FakeLine(), clock.now, name="limits", batch=3)
    lanes_of_rows(sessions, clock, 5)
    assert len(sender.claim(1)) == 1
    assert len(sender.claim()) == 3


def test_drain_sends_until_nothing_is_due_or_its_rounds_run_out(sessions, clock):
    sender = Sender(sessions, FakeLine(), clock.now, name="drain", batch=1)
    lanes_of_rows(sessions, clock, 3)
    sender.drain(max_rounds=2)
    assert sent_count(sessions) == 2
    sender.drain()
    assert sent_count(sessions) == 3


def test_a_database_out_of_reach_while_claiming_is_logged_and_tried_next_round(sessions, clock, caplog):
    flaky = FlakySessions(sessions, failures=1)
    sender = Sender(flaky, FakeLine(), clock.now, name="flaky")
    row_id = queue_row(sessions, clock, FRIEND, "待って")

    assert sender.run_once() == 0
    assert sender_log(caplog) == ["outbox sender: round failed, cannot claim messages (OperationalError)"]
    assert sender.run_once() == 1
    assert stored(sessions, row_id).status == "sent"


def test_a_database_error_while_sending_leaves_the_row_to_its_lease(sessions, clock, caplog):
    line = FakeLine()
    line.push_answers = [database_gone()]
    sender = Sender(sessions, line, clock.now, name="blink")
    row_id = queue_row(sessions, clock, FRIEND, "もう一度")
    [row] = sender.claim()

    attempt = sender._attempt(row)
    assert (attempt.row, attempt.result, attempt.error) == (row, None, None)  # no answer: nothing to record
    assert sender._record(row, attempt) is False

    waiting = stored(sessions, row_id)
    assert (waiting.status, waiting.attempts, waiting.last_error, waiting.locked_by) == ("pending", 0, None, "blink")
    assert f"outbox #{row_id}: database error while sending (OperationalError); will retry" in sender_log(caplog)
    clock.advance(timedelta(seconds=31))  # the lease lapses: tried again, with the same retry key
    assert sender.run_once() == 1
    assert stored(sessions, row_id).status == "sent"
    assert line.pushes[0][2] == line.pushes[1][2] == waiting.retry_key


def test_a_message_the_sdk_refuses_fails_with_the_reason(sender, sessions, clock, platform, group, caplog):
    row_id = queue_row(sessions, clock, FRIEND, messages=[{"type": "carrier-pigeon"}])

    assert sender.run_once() == 1

    failed = stored(sessions, row_id)
    assert (failed.status, failed.last_error) == ("failed", "invalid request: ValueError")
    assert platform.requests == []
    assert f"outbox #{row_id}: cannot be sent" in sender_log(caplog)


def test_a_try_with_no_answer_is_not_recorded(sessions, clock):
    never = FlakySessions(sessions, failures=1_000)  # were anything written, this would raise
    sender = Sender(never, FakeLine(), clock.now, name="none")
    queue_row(sessions, clock, FRIEND, "一")
    with sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert sender._record(row, Attempt(row, None)) is False


def test_a_request_that_could_not_be_made_is_recorded_failed(sender, sessions, clock):
    row_id = queue_row(sessions, clock, FRIEND, "一")
    [row] = sender.claim()
    assert sender._record(row, Attempt(row, None, error="invalid request: KeyError")) is True
    failed = stored(sessions, row_id)
    assert (failed.status, failed.last_error) == ("failed", "invalid request: KeyError")


def test_a_lookup_is_a_read_from_line_not_a_message(sender, sessions, clock, platform, group):
    with sessions.begin() as session:
        outbox.enqueue_lookup(session, "group_summary", now=clock.now(), group_id=group)

    assert sender.run_once() == 1

    [summary] = requests_to(platform, f"/group/{group}/summary")
    assert summary.status == 200
    assert requests_to(platform, "/push") == [] and platform.deliveries() == []
    with sessions() as session:
        looked = session.scalars(select(OutboxMessage)).one()
        assert (looked.status, looked.sent_via) == ("sent", "lookup")


def test_a_push_retried_for_longer_than_a_day_allows_is_given_up(sender, sessions, clock, platform, group):
    row_id = queue_row(sessions, clock, group, "ずっと")
    clock.advance(timedelta(hours=23, seconds=1))  # past the default max_age: LINE forgets retry keys at 24 h
    platform.fail_next(1, status=503, endpoint="push")

    assert sender.run_once() == 1

    failed = stored(sessions, row_id)
    assert failed.status == "failed" and failed.last_error.startswith("gave up after 1 attempts: ")


# --- many at once: rounds -----------------------------------------------------------------------------------


def test_a_round_records_what_finished_and_claims_the_next_in_one_transaction(sessions, clock):
    counting = FlakySessions(sessions)
    sender = Sender(counting, FakeLine(), clock.now, name="round")
    first, *others = lanes_of_rows(sessions, clock, 4)
    [row] = sender.claim(1)
    counting.begun = 0

    claimed = sender._round([Attempt(row, Result(Outcome.SENT, 200, via="push", recipients=1))], 2)

    assert counting.begun == 1
    assert stored(sessions, first).status == "sent"
    assert [r.id for r in claimed] == others[:2]
    assert {stored(sessions, r).locked_by for r in others[:2]} == {"round"}
    assert stored(sessions, others[2]).locked_by is None


def test_a_round_with_no_free_thread_only_records(sessions, clock):
    sender = Sender(sessions, FakeLine(), clock.now, name="round")
    first, second = lanes_of_rows(sessions, clock, 2)
    [row] = sender.claim(1)
    clock.advance(timedelta(hours=23, seconds=1))  # the round passes the sender's max_age on: given up

    assert sender._round([Attempt(row, Result(Outcome.RETRY, 503, "busy"))], 0) == []

    failed = stored(sessions, first)
    assert (failed.status, failed.last_error) == ("failed", "gave up after 1 attempts: busy")
    assert stored(sessions, second).locked_by is None


def test_a_round_with_nothing_finished_and_no_free_thread_does_not_touch_the_database(sessions, clock, caplog):
    sender = Sender(FlakySessions(sessions, failures=1_000), FakeLine(), clock.now, name="idle")
    assert sender._round([], 0) == []
    assert sender_log(caplog) == []


def test_a_round_that_cannot_reach_the_database_records_and_claims_nothing(sessions, clock, caplog):
    flaky = FlakySessions(sessions)
    sender = Sender(flaky, FakeLine(), clock.now, name="round")
    first, second = lanes_of_rows(sessions, clock, 2)
    [row] = sender.claim(1)
    flaky.failures = 1

    assert sender._round([Attempt(row, Result(Outcome.SENT, 200, via="push"))], 1) == []

    assert sender_log(caplog) == ["outbox sender: round failed, cannot claim messages (OperationalError)"]
    assert stored(sessions, first).status == "pending"  # its lease lapses and it is tried again
    assert stored(sessions, second).locked_by is None


def test_take_all_empties_the_queue_of_finished_attempts_in_order():
    finished: queue.SimpleQueue = queue.SimpleQueue()
    assert _take_all(finished) == []
    attempts = [Attempt(SimpleNamespace(id=n), None) for n in range(3)]  # type: ignore[arg-type]
    for attempt in attempts:
        finished.put(attempt)
    assert _take_all(finished) == attempts
    assert finished.empty()


def test_a_finished_try_is_handed_to_the_loop_and_wakes_it(sessions, clock):
    sender = Sender(sessions, FakeLine(), clock.now, name="thread")
    queue_row(sessions, clock, FRIEND, "一")
    [row] = sender.claim()
    finished: queue.SimpleQueue = queue.SimpleQueue()

    sender._attempt_in_thread(row, finished)

    [attempt] = _take_all(finished)
    assert attempt.row is row and attempt.result.outcome == Outcome.SENT
    assert sender.wakeup.event.is_set()


class BrokenSender(Sender):
    def _attempt(self, row):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in building this row")


def test_a_bug_in_one_try_is_logged_and_leaves_the_row_to_its_lease(sessions, clock, caplog):
    sender = BrokenSender(sessions, FakeLine(), clock.now, name="broken")
    row_id = queue_row(sessions, clock, FRIEND, "一")
    [row] = sender.claim()
    finished: queue.SimpleQueue = queue.SimpleQueue()

    sender._attempt_in_thread(row, finished)

    [attempt] = _take_all(finished)
    assert (attempt.row, attempt.result, attempt.error) == (row, None, None)
    assert sender.wakeup.event.is_set()
    assert f"outbox #{row_id}: delivery failed unexpectedly" in sender_log(caplog)


# --- many at once: production's loop ----------------------------------------------------------------------------


class Loop:
    """``sender.run_forever`` in a thread, as production runs it; counts its rounds (``on_round``)."""

    def __init__(self, sender: Sender, poll_interval: float | None = None) -> None:
        self.sender, self.stop = sender, threading.Event()
        self.rounds = 0
        sender.on_round = self._counted
        sender.wakeup = self.wakeup = RecordingWakeup()
        args = (self.stop,) if poll_interval is None else (self.stop, poll_interval)
        self.thread = threading.Thread(target=sender.run_forever, args=args, daemon=True)

    def _counted(self) -> None:
        self.rounds += 1

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, failure: type[BaseException] | None, *exc: object) -> None:
        self.stop.set()
        self.sender.wake()
        if failure is not None:  # the test failed already: that is its report, not a stuck loop
            return
        self.thread.join(timeout=LOOP_DEADLINE)
        assert not self.thread.is_alive(), "the sender did not stop"

    def more_rounds(self, n: int) -> None:
        """Wait until the loop has gone round ``n`` more times (so it has looked at what changed)."""
        start = self.rounds
        eventually(lambda: self.rounds >= start + n, LOOP_DEADLINE, f"{n} more rounds")


def test_productions_loop_sends_everything_side_by_side_and_stops_when_told(
    sessions, gateway, clock, platform, group, caplog, fake_time
):
    sender = Sender(sessions, gateway, clock.now, name="loop", concurrency=2)
    ids = [queue_row(sessions, clock, group, f"#{i}", lane=f"{group}/{i}") for i in range(5)]

    with Loop(sender) as loop:
        eventually(lambda: sent_count(sessions) == 5, LOOP_DEADLINE, "all five sent")
        # While both threads were busy it waited for a wake, or at most the default poll interval.
        assert 1.0 in loop.wakeup.waits

    assert sorted(texts_of(d.messages)[0] for d in platform.deliveries(group)) == [f"#{i}" for i in range(5)]
    assert {stored(sessions, i).sent_via for i in ids} == {"push"}
    assert "outbox sender loop started (2 at a time)" in sender_log(caplog)


def test_the_loop_keeps_no_more_sends_in_flight_than_its_concurrency(sessions, clock, fake_time):
    line = FakeLine(gated=True)
    sender = Sender(sessions, line, clock.now, name="bounded", concurrency=2)
    lanes_of_rows(sessions, clock, 4)

    with Loop(sender, poll_interval=0.02) as loop:
        try:
            eventually(lambda: line.waiting == 2, LOOP_DEADLINE, "two pushes in flight")
            loop.more_rounds(3)  # rounds with both threads busy claim nothing more
            assert line.waiting == 2
            with sessions() as session:
                leased = session.scalar(select(func.count()).where(OutboxMessage.locked_by == "bounded"))
            assert leased == 2
        finally:
            line.release(4)
        eventually(lambda: sent_count(sessions) == 4, LOOP_DEADLINE, "all four sent")

    assert line.most == 2
    assert all(name.startswith("send") for name in line.threads)


@pytest.mark.parametrize("gather", [0.25, 0.0])
def test_rounds_closer_than_gather_wait_for_the_rest_to_finish(sessions, clock, fake_time, gather):
    sender = Sender(sessions, FakeLine(), clock.now, name="gather", gather=gather)
    lanes_of_rows(sessions, clock, 3)

    with Loop(sender, poll_interval=0.02) as loop:
        eventually(lambda: sent_count(sessions) == 3, LOOP_DEADLINE, "all three sent")
        loop.more_rounds(2)

    if gather:
        # The clock of the loop does not move by itself: each round comes right after the last,
        # so each waits the whole gathering time; the first one (no round before it) does not.
        assert fake_time.sleeps and set(fake_time.sleeps) == {gather}
    else:
        assert fake_time.sleeps == []


def stopping_with_one_push_in_flight(sessions, clock, line: FakeLine) -> tuple[Sender, Loop, int, int]:
    sender = Sender(sessions, line, clock.now, name="stopping")
    in_flight, behind = lanes_of_rows(sessions, clock, 2)
    loop = Loop(sender, poll_interval=0.02).__enter__()
    try:
        eventually(lambda: line.waiting == 1, LOOP_DEADLINE, "a push in flight")
        loop.stop.set()
        sender.wake()
        loop.more_rounds(2)  # the loop has seen the stop (its grace is running)
    except BaseException:
        line.release()
        raise
    return sender, loop, in_flight, behind


def test_stopping_waits_for_the_sends_in_flight_and_records_them(sessions, clock, fake_time):
    line = FakeLine(gated=True)
    sender, loop, in_flight, behind = stopping_with_one_push_in_flight(sessions, clock, line)
    fake_time.advance(STOP_GRACE)  # the whole grace, not past it
    try:
        loop.more_rounds(2)
    finally:
        line.release()
    loop.thread.join(timeout=LOOP_DEADLINE)

    assert not loop.thread.is_alive()
    assert stored(sessions, in_flight).status == "sent"
    assert stored(sessions, behind).locked_by is None  # nothing new is claimed once stopping
    assert line.answered == 1
    assert set(loop.wakeup.waits[-2:]) == {0.05}  # while stopping it looks often for the last answers


def test_past_the_grace_the_loop_stops_without_them_and_their_leases_let_another_sender_retry(
    sessions, clock, fake_time
):
    line = FakeLine(gated=True)
    sender, loop, in_flight, behind = stopping_with_one_push_in_flight(sessions, clock, line)
    fake_time.advance(STOP_GRACE + 0.001)
    try:
        loop.more_rounds(1)  # the first round past the grace gives up
    finally:
        line.release()
    loop.thread.join(timeout=LOOP_DEADLINE)

    assert not loop.thread.is_alive()
    assert line.answered == 1
    left = stored(sessions, in_flight)
    assert (left.status, left.locked_by) == ("pending", "stopping")


def test_a_stopped_loop_with_nothing_in_flight_ends_at_once(sessions, clock, fake_time):
    """No grace to sit out when nothing is in flight (the loop's clock is the test's: a grace would never end)."""
    sender = Sender(sessions, FakeLine(), clock.now, name="stopped")
    lanes_of_rows(sessions, clock, 1)
    stop = threading.Event()
    stop.set()
    thread = threading.Thread(target=sender.run_forever, args=(stop, 0.02), daemon=True)
    thread.start()
    thread.join(timeout=LOOP_DEADLINE)
    assert not thread.is_alive()
    assert sent_count(sessions) == 0  # stopped before it began: nothing claimed


def test_one_sends_bug_does_not_stop_the_loop(sessions, clock, caplog, fake_time):
    class OneBadRow(Sender):
        def _attempt(self, row):  # type: ignore[no-untyped-def]
            if row.messages[0]["text"] == "#0":
                raise RuntimeError("a bug in building this row")
            return super()._attempt(row)

    sender = OneBadRow(sessions, FakeLine(), clock.now, name="one-bad", concurrency=2)
    bad, *good = lanes_of_rows(sessions, clock, 3)
    with Loop(sender, poll_interval=0.02):
        eventually(lambda: sent_count(sessions) == 2, LOOP_DEADLINE, "the two good rows sent")
    assert stored(sessions, bad).status == "pending"
    assert f"outbox #{bad}: delivery failed unexpectedly" in sender_log(caplog)
