"""The sender's writes to the outbox (bot/pipeline/delivery_state.py), each against a real database:
which rows a sender may claim and how it leases them, and what each of LINE's answers leaves behind
in the row, the ledger of counted messages and the month's quota. The sender and the dashboard
read exactly these fields, so each is checked here, not only the row's status."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import pytest
from conftest import USING_POSTGRES
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import sessionmaker

from bot import metrics
from bot.pipeline import delivery_state, outbox
from bot.pipeline.delivery_state import (
    KNOWN_MONTHLY_LIMIT,
    Attempt,
    backoff_delay,
    claim_in,
    claimable_in,
    count_push_in,
    drop_in,
    mark_in,
    merge_stale_in,
    record_in,
    record_unsent_in,
    riders_sent_in,
    set_reply_state_in,
    tell_when_spent_in,
    wait_for_next_month_in,
)
from bot.pipeline.line_client import Outcome, Result
from bot.replies import compose, messages
from models import LedgerEntry, Member, Network, OutboxMessage, QuotaMonth, SentMessage
from models.ledger import Kind, month_of, next_month_start
from models.outbox import BEARER_PLACEHOLDER, BEARER_TOPIC

GROUP = "C" + "1" * 32
OTHER_GROUP = "C" + "2" * 32
QUIET_GROUP = "C" + "3" * 32  # a network that left: never told anything
USER = "U" + "a" * 32
MAX_AGE = timedelta(hours=24)
LEASE = timedelta(seconds=30)
LOGGER = "bot.pipeline.delivery_state"


# --- helpers ---------------------------------------------------------------------------------------
@pytest.fixture
def sessions(engine):
    return sessionmaker(engine)


@pytest.fixture
def now(clock):
    return clock.now()


@pytest.fixture
def said(caplog):
    """What delivery_state logged, as the operator reads it: (level, line)."""
    caplog.set_level(logging.DEBUG)

    def lines() -> list[tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]

    return lines


@pytest.fixture
def highest_delay(monkeypatch):
    """Backoff jitter at its top: random.uniform(low, high) gives ``high``, so delays are exact."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


@pytest.fixture
def latencies(monkeypatch) -> list[float]:
    """The send latencies the sender reports to metrics (a fake that only remembers them)."""
    seen: list[float] = []
    monkeypatch.setattr(metrics, "message_sent", seen.append)
    return seen


def queue(sessions, chat_id: str, *bodies: str, now, **kwargs) -> int:
    with sessions.begin() as session:
        [row_id] = outbox.enqueue(session, chat_id, [compose.text(b) for b in bodies], now=now, **kwargs)
    return row_id


def fetch(sessions, row_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.get(OutboxMessage, row_id)


def claim(sessions, now, limit: int = 10, by: str = "sender-a") -> list[OutboxMessage]:
    with sessions.begin() as session:
        return claim_in(session, now, limit, LEASE, by)


def record(sessions, row_id: int, result: Result | None, now, *, error: str | None = None, max_age=MAX_AGE):
    row = fetch(sessions, row_id)
    with sessions.begin() as session:
        return record_in(session, Attempt(row, result, error), now, max_age)


def ledger(sessions) -> list[tuple]:
    with sessions() as session:
        return [
            (e.month, e.at, e.outbox_id, e.network_id, e.kind, e.outcome, e.counted, e.recipients, e.reason)
            for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
        ]


def quota(sessions, now) -> QuotaMonth | None:
    with sessions() as session:
        return session.get(QuotaMonth, month_of(now))


def state(row: OutboxMessage) -> tuple:
    return (row.status, row.attempts, row.next_attempt_at, row.last_error, row.locked_until, row.locked_by)


def add_network(sessions, group_id: str, members: int = 0, left: int = 0, active: bool = True) -> int:
    """A network with ``members`` in its group and ``left`` who left it."""
    with sessions.begin() as session:
        network = Network(group_id=group_id, name=f"ネット{group_id[1]}", active=active)
        session.add(network)
        session.flush()
        for n in range(members + left):
            gone = network.created_at if n >= members else None
            session.add(Member(network_id=network.id, line_user_id=f"U{group_id[1]}{n:031d}", left_at=gone))
        return network.id


def spend(sessions, counted: int, now) -> None:
    """Pushes LINE already counted this month (the ledger the allowance is measured by)."""
    with sessions.begin() as session:
        session.add(
            LedgerEntry(
                month=month_of(now), at=now, kind=Kind.NOTICE, outcome="sent", counted=counted, recipients="group"
            )
        )


def told_already(sessions, now, network_id: int) -> str:
    """The 80 % notice for this network is queued already (by an earlier round or another sender): its key."""
    key = f"budget:2026-11:80:{network_id}"
    queue(
        sessions,
        GROUP,
        "先に",
        now=now,
        dedupe_key=key,
        hold_until=now + timedelta(days=1),
        kind=Kind.BUDGET_NOTICE,
        network_id=network_id,
    )
    return key


def held_notices(sessions) -> list[tuple]:
    with sessions() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.BUDGET_NOTICE).order_by(OutboxMessage.network_id)
        )
        return [(r.chat_id, r.network_id, r.dedupe_key, r.status, r.next_attempt_at, r.messages) for r in rows]


# --- backoff -----------------------------------------------------------------------------------------
def test_backoff_doubles_from_one_second_per_attempt_up_to_five_minutes(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert [backoff_delay(n) for n in range(11)] == [1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert backoff_delay(30) == 300


def test_backoff_jitter_takes_at_most_half_of_the_delay_away(monkeypatch):
    asked = []

    def lowest(low, high):
        asked.append((low, high))
        return low

    monkeypatch.setattr(random, "uniform", lowest)
    assert [backoff_delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 150.0]
    assert asked == [(0.5, 1.0)] * 4


def test_backoff_with_real_jitter_stays_between_half_and_all_of_the_delay():
    for attempts, full in ((1, 1.0), (4, 8.0), (9, 256.0), (12, 300.0)):
        for _ in range(20):
            assert full / 2 <= backoff_delay(attempts) <= full


def test_line_s_retry_after_is_a_floor_never_a_ceiling(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert backoff_delay(1, 30.0) == 30.0
    assert backoff_delay(10, 30.0) == 150.0  # the backoff is longer already
    assert backoff_delay(1, None) == 0.5
    assert backoff_delay(1, 0.0) == 0.5


# --- claiming ----------------------------------------------------------------------------------------
def test_claim_leases_the_oldest_due_row_of_each_lane_and_marks_a_fresh_reply_attempted(sessions, now):
    reply = queue(sessions, GROUP, "こんにちは", now=now, reply_token="t" * 32)
    behind = queue(sessions, GROUP, "その次", now=now)  # same lane: waits for the reply
    push = queue(sessions, OTHER_GROUP, "お知らせ", now=now)
    later = queue(sessions, USER, "あとで", now=now + timedelta(minutes=1))  # not due yet

    claimed = claim(sessions, now)

    assert [r.id for r in claimed] == [reply, push]
    # The rows come back detached, with the reply state they had before this claim.
    assert [r.reply_state for r in claimed] == ["none", "none"]
    assert all(inspect(r).detached for r in claimed)
    until = now + LEASE
    assert (fetch(sessions, reply).locked_until, fetch(sessions, reply).locked_by) == (until, "sender-a")
    assert fetch(sessions, reply).reply_state == "attempted"  # if the process dies now, the token may be used
    assert (fetch(sessions, push).locked_until, fetch(sessions, push).locked_by) == (until, "sender-a")
    assert fetch(sessions, push).reply_state == "none"  # a push has no token to spend
    for waiting in (behind, later):
        assert (fetch(sessions, waiting).locked_until, fetch(sessions, waiting).locked_by) == (None, None)


def test_a_leased_row_is_not_claimed_again_until_its_lease_lapses_and_then_says_it_was_attempted(sessions, now):
    reply = queue(sessions, GROUP, "こんにちは", now=now, reply_token="t" * 32)
    claim(sessions, now)
    assert claim(sessions, now + timedelta(seconds=10), by="sender-b") == []

    [again] = claim(sessions, now + LEASE + timedelta(seconds=1), by="sender-b")

    assert again.id == reply
    assert again.reply_state == "attempted"  # the earlier try's outcome is unknown: the token may be spent
    assert fetch(sessions, reply).locked_by == "sender-b"


def test_claim_takes_no_more_rows_than_asked_oldest_first(sessions, now):
    first = queue(sessions, GROUP, "一", now=now)
    queue(sessions, OTHER_GROUP, "二", now=now)
    assert [r.id for r in claim(sessions, now, limit=1)] == [first]


def test_claim_with_nothing_due_writes_nothing(sessions, now):
    queue(sessions, GROUP, "あとで", now=now + timedelta(minutes=5))
    assert claim(sessions, now) == []
    with sessions() as session:
        assert claimable_in(session, now, 10, lock=False) == []


def test_claim_keeps_only_the_rows_it_won_when_another_sender_took_some(sessions, now, monkeypatch):
    ours = queue(sessions, GROUP, "こんにちは", now=now, reply_token="t" * 32)
    theirs = queue(sessions, OTHER_GROUP, "お知らせ", now=now)
    also_ours = queue(sessions, USER, "集計です", now=now)
    real = delivery_state.claimable_in

    def another_sender_is_faster(session, at, limit, **kwargs):
        rows = real(session, at, limit, **kwargs)
        # Between our look and our write, another sender leased one of the rows (compare-and-set).
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == theirs).values(locked_until=at + LEASE, locked_by="b")
        )
        return rows

    monkeypatch.setattr(delivery_state, "claimable_in", another_sender_is_faster)
    claimed = claim(sessions, now)

    until = now + LEASE
    assert [(r.id, r.locked_by, r.locked_until) for r in claimed] == [
        (ours, "sender-a", until),
        (also_ours, "sender-a", until),
    ]
    assert claimed[0].reply_state == "none"  # as before the claim, though the row now says attempted
    assert all(inspect(r).detached for r in claimed)
    assert fetch(sessions, ours).reply_state == "attempted"
    assert fetch(sessions, theirs).locked_by == "b"


@pytest.mark.skipif(not USING_POSTGRES, reason="row locks: PostgreSQL only (SQLite has one writer at a time)")
def test_rows_another_sender_is_claiming_this_instant_are_skipped_and_a_mere_look_still_sees_them(sessions, now):
    busy = queue(sessions, GROUP, "一", now=now)
    free = queue(sessions, OTHER_GROUP, "二", now=now)
    with sessions.begin() as other:
        # Another sender, mid-claim, holds the first row's lock.
        other.execute(select(OutboxMessage.id).where(OutboxMessage.id == busy).with_for_update())
        with sessions.begin() as session:
            assert [r.id for r in claimable_in(session, now, 10)] == [free]
        with sessions.begin() as session:
            assert [r.id for r in claimable_in(session, now, 10, lock=False)] == [busy, free]
        assert [r.id for r in claim(sessions, now)] == [free]


def test_late_replies_to_one_chat_are_claimed_one_at_a_time(sessions, now):
    # Two members' answers in one group missed their reply tokens (a backlog): the first one to be
    # pushed takes the other along (merge_stale_in) instead of each costing a push of its own.
    first = queue(sessions, GROUP, "回答1", now=now, reply_token="a" * 32, lane=f"{GROUP}:1")
    second = queue(sessions, GROUP, "回答2", now=now, reply_token="b" * 32, lane=f"{GROUP}:2")
    elsewhere = queue(sessions, OTHER_GROUP, "お知らせ", now=now)
    later = now + timedelta(minutes=2)

    assert [r.id for r in claim(sessions, later)] == [first, elsewhere]
    # While the first is in flight, the second still waits for it.
    assert claim(sessions, later + timedelta(seconds=5)) == []
    assert fetch(sessions, second).locked_by is None


def test_a_reply_whose_token_runs_out_this_very_instant_is_late(sessions, now):
    first = queue(sessions, GROUP, "回答1", now=now, reply_token="a" * 32, lane=f"{GROUP}:1")
    queue(sessions, GROUP, "回答2", now=now, reply_token="b" * 32, lane=f"{GROUP}:2")
    assert [r.id for r in claim(sessions, now + outbox.REPLY_TOKEN_LIFETIME)] == [first]


def test_fresh_replies_to_one_chat_are_claimed_side_by_side(sessions, now):
    fresh = [queue(sessions, GROUP, f"回答{n}", now=now, reply_token=f"{n}" * 32, lane=f"{GROUP}:{n}") for n in (1, 2)]
    assert [r.id for r in claim(sessions, now)] == fresh


def test_stale_acknowledgements_to_one_chat_are_claimed_side_by_side(sessions, now):
    # Acknowledgements that missed their tokens are dropped one by one, never pushed: no need to wait.
    acks = [
        queue(sessions, GROUP, f"受付{n}", now=now, reply_token=f"{n}" * 32, lane=f"{GROUP}:{n}", kind=Kind.ACK)
        for n in (1, 2)
    ]
    assert [r.id for r in claim(sessions, now + timedelta(minutes=2))] == acks


def test_a_late_reply_already_tried_is_decided_on_its_own_not_merged(sessions, now):
    tried = queue(sessions, GROUP, "回答1", now=now, reply_token="a" * 32, lane=f"{GROUP}:1")
    other = queue(sessions, GROUP, "回答2", now=now, reply_token="b" * 32, lane=f"{GROUP}:2")
    with sessions.begin() as session:
        set_reply_state_in(session, session.get(OutboxMessage, tried), "attempted")
    assert [r.id for r in claim(sessions, now + timedelta(minutes=2))] == [tried, other]


# --- recording: sent ---------------------------------------------------------------------------------
def test_a_reply_line_took_is_sent_by_reply_and_counts_nothing(sessions, now, said, latencies):
    row_id = queue(sessions, GROUP, "こんにちは", now=now, reply_token="t" * 32, topic="thread:7")
    claim(sessions, now)
    at = now + timedelta(seconds=3)
    result = Result(Outcome.SENT, 200, request_id="req-1", via="reply", sent_ids=["m" * 40, "n1"])

    assert record(sessions, row_id, result, at) is True

    row = fetch(sessions, row_id)
    assert (row.status, row.sent_at, row.line_request_id, row.sent_via) == ("sent", at, "req-1", "reply")
    assert (row.locked_until, row.locked_by, row.last_error, row.attempts) == (None, None, None, 0)
    assert ledger(sessions) == []  # a reply is free
    with sessions() as session:  # its ids, for quote-replies to it (LINE's ids are at most 32 long)
        known = session.execute(select(SentMessage.line_message_id, SentMessage.outbox_id)).all()
    assert sorted(known) == [("m" * 32, row_id), ("n1", row_id)]
    assert said() == [("INFO", f"outbox #{row_id}: sent to {GROUP} by reply")]
    assert latencies == [3.0]


def test_a_push_line_took_is_counted_in_the_ledger_as_line_counts_it(sessions, now, latencies):
    network = add_network(sessions, GROUP, members=9)
    row_id = queue(sessions, GROUP, "お知らせ", now=now, kind=Kind.NUDGE)
    claim(sessions, now)
    at = now + timedelta(seconds=1)

    # No ``via``: what is not a reply is a push.
    assert record(sessions, row_id, Result(Outcome.SENT, 200, request_id="req-2", recipients=4), at) is True

    row = fetch(sessions, row_id)
    assert (row.status, row.sent_at, row.line_request_id, row.sent_via) == ("sent", at, "req-2", "push")
    assert ledger(sessions) == [("2026-11", at, row_id, network, "nudge", "sent", 4, "group", None)]
    assert latencies == [1.0]


def test_a_push_line_had_already_accepted_is_sent_and_counted_once(sessions, now, said):
    row_id = queue(sessions, USER, "集計です", now=now, kind=Kind.MONTHLY_FIGURES)
    claim(sessions, now)
    result = Result(Outcome.ALREADY_ACCEPTED, 409, "conflict", request_id="req-3", via="push", recipients=1)

    assert record(sessions, row_id, result, now) is True

    row = fetch(sessions, row_id)
    assert (row.status, row.sent_at, row.line_request_id, row.sent_via) == ("sent", now, "req-3", "push")
    assert ledger(sessions) == [("2026-11", now, row_id, None, "monthly_figures", "sent", 1, "user", None)]
    assert said() == [("INFO", f"outbox #{row_id}: sent to {USER} by push")]


def test_message_ids_are_kept_only_for_rows_with_a_topic_and_a_replay_adds_none_twice(sessions, now):
    plain = queue(sessions, USER, "お知らせ", now=now)
    topical = queue(sessions, GROUP, "カード", now=now, topic="thread:9")
    with sessions.begin() as session:  # LINE's answer to the first try, recorded then
        session.add(SentMessage(line_message_id="m1", outbox_id=topical))
    claim(sessions, now)

    record(sessions, plain, Result(Outcome.SENT, 200, via="push", sent_ids=["p1"], recipients=1), now)
    record(sessions, topical, Result(Outcome.ALREADY_ACCEPTED, 409, via="push", sent_ids=["m1", "m2"]), now)

    with sessions() as session:
        known = session.execute(select(SentMessage.line_message_id, SentMessage.outbox_id)).all()
    assert sorted(known) == [("m1", topical), ("m2", topical)]


def test_a_bearer_link_is_replaced_by_a_placeholder_once_line_has_it_or_refused_it(sessions, now):
    link = "ログインはこちら https://kasane.example/dashboard/login/abc123"
    sent = queue(sessions, USER, link, now=now, topic=BEARER_TOPIC, lane=f"{USER}:1")
    refused = queue(sessions, USER, link, now=now, topic=BEARER_TOPIC, lane=f"{USER}:2")
    kept = queue(sessions, OTHER_GROUP, link, now=now, topic="thread:1")
    claim(sessions, now)

    record(sessions, sent, Result(Outcome.SENT, 200, via="push", recipients=1), now)
    record(sessions, refused, Result(Outcome.REJECTED, 400, "bad"), now)
    record(sessions, kept, Result(Outcome.SENT, 200, via="push", recipients=3), now)

    assert fetch(sessions, sent).messages == [{"type": "text", "text": BEARER_PLACEHOLDER}]
    assert fetch(sessions, refused).messages == [{"type": "text", "text": BEARER_PLACEHOLDER}]
    assert fetch(sessions, kept).messages == [compose.text(link)]


# --- recording: riders --------------------------------------------------------------------------------
def carrier_with_riders(sessions, now, *, reply: bool) -> tuple[int, list[int], int]:
    """A row carrying two held notices, and a held notice of the same chat that is not carried."""
    network = add_network(sessions, GROUP, members=5)
    token = {"reply_token": "t" * 32} if reply else {}
    carrier = queue(sessions, GROUP, "回答", now=now, **token)
    hold = now + timedelta(days=1)
    riders = [queue(sessions, GROUP, f"お知らせ{n}", now=now, hold_until=hold, network_id=network) for n in (1, 2)]
    queue(sessions, GROUP, "べつのお知らせ", now=now, hold_until=hold, network_id=network)
    with sessions.begin() as session:
        outbox.carry(session, carrier, riders)
    claim(sessions, now)
    return carrier, riders, network


def test_held_notices_that_rode_on_a_free_reply_are_carried_and_counted_zero(sessions, now):
    carrier, riders, network = carrier_with_riders(sessions, now, reply=True)
    at = now + timedelta(seconds=2)

    record(sessions, carrier, Result(Outcome.SENT, 200, via="reply"), at)

    for rider in riders:
        row = fetch(sessions, rider)
        assert (row.status, row.sent_at, row.sent_via, row.carried_by) == ("carried", at, "ride", carrier)
    assert ledger(sessions) == [
        ("2026-11", at, rider, network, "notice", "ridden", 0, "group", f"ride:{carrier}") for rider in riders
    ]
    assert fetch(sessions, riders[-1] + 1).status == "held"  # not carried: still waits


def test_held_notices_folded_into_a_push_are_carried_and_the_push_alone_is_counted(sessions, now):
    carrier, riders, network = carrier_with_riders(sessions, now, reply=False)

    record(sessions, carrier, Result(Outcome.SENT, 200, via="push", recipients=5), now)

    for rider in riders:
        row = fetch(sessions, rider)
        assert (row.status, row.sent_at, row.sent_via) == ("carried", now, "fold")
    assert ledger(sessions) == [("2026-11", now, carrier, network, "notice", "sent", 5, "group", None)] + [
        ("2026-11", now, rider, network, "notice", "folded", 0, "group", f"fold:{carrier}") for rider in riders
    ]


def test_a_carrier_that_fails_lets_its_riders_wait_for_another_reply(sessions, now):
    carrier, riders, _ = carrier_with_riders(sessions, now, reply=False)

    record(sessions, carrier, Result(Outcome.REJECTED, 400, "Invalid request"), now)

    for rider in riders:
        row = fetch(sessions, rider)
        assert (row.status, row.carried_by, row.sent_at) == ("held", None, None)
    assert ledger(sessions) == []


def test_a_carrier_dropped_unsent_lets_its_riders_wait_for_another_reply(sessions, now):
    carrier, riders, _ = carrier_with_riders(sessions, now, reply=True)

    record(sessions, carrier, Result(Outcome.NOT_SENT, 0, "stale_ack"), now + timedelta(minutes=2))

    assert [(fetch(sessions, r).status, fetch(sessions, r).carried_by) for r in riders] == [("held", None)] * 2


# --- recording: retries ------------------------------------------------------------------------------
@pytest.mark.usefixtures("highest_delay")
def test_a_retry_waits_its_backoff_with_the_attempt_counted_and_the_lease_released(sessions, now, said):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    claim(sessions, now)
    at = now + timedelta(seconds=1)

    assert record(sessions, row_id, Result(Outcome.RETRY, 500, "Internal error"), at) is False
    assert state(fetch(sessions, row_id)) == ("pending", 1, at + timedelta(seconds=1), "500 Internal error", None, None)

    claim(sessions, at + timedelta(seconds=1))
    assert record(sessions, row_id, Result(Outcome.RETRY, 500, "Internal error"), at) is False
    assert state(fetch(sessions, row_id)) == ("pending", 2, at + timedelta(seconds=2), "500 Internal error", None, None)
    assert said() == [
        ("WARNING", f"outbox #{row_id}: Internal error (500); retry 1 in 1.0s"),
        ("WARNING", f"outbox #{row_id}: Internal error (500); retry 2 in 2.0s"),
    ]
    assert ledger(sessions) == []


@pytest.mark.usefixtures("highest_delay")
def test_a_retry_waits_at_least_as_long_as_line_asked(sessions, now):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    record(sessions, row_id, Result(Outcome.RETRY, 429, "Too many requests", retry_after=30.0), now)
    assert fetch(sessions, row_id).next_attempt_at == now + timedelta(seconds=30)


@pytest.mark.usefixtures("highest_delay")
def test_an_answer_lost_on_the_way_is_retried_and_logged_by_its_outcome(sessions, now, said):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    assert record(sessions, row_id, Result(Outcome.AMBIGUOUS, 0, ""), now) is False
    assert state(fetch(sessions, row_id)) == ("pending", 1, now + timedelta(seconds=1), "0", None, None)
    assert said() == [("WARNING", f"outbox #{row_id}: ambiguous (0); retry 1 in 1.0s")]


@pytest.mark.usefixtures("highest_delay")
def test_retries_go_on_for_a_day_and_then_the_row_fails(sessions, now):
    # LINE remembers a retry key for 24 hours: past that a retry could deliver twice.
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    assert record(sessions, row_id, Result(Outcome.RETRY, 503, "Unavailable"), now + MAX_AGE) is False
    assert fetch(sessions, row_id).attempts == 1

    claim(sessions, now + MAX_AGE + timedelta(seconds=2))
    late = now + MAX_AGE + timedelta(seconds=3)
    assert record(sessions, row_id, Result(Outcome.RETRY, 503, "Unavailable"), late) is True

    row = fetch(sessions, row_id)
    assert (row.status, row.last_error, row.locked_until, row.locked_by) == (
        "failed",
        "gave up after 2 attempts: Unavailable",
        None,
        None,
    )
    assert row.sent_at is None and ledger(sessions) == []


# --- recording: refusals, errors, nothing ----------------------------------------------------------------
def test_a_request_line_refuses_for_good_fails_with_line_s_words(sessions, now, said):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    claim(sessions, now)

    assert record(sessions, row_id, Result(Outcome.REJECTED, 400, "Invalid request"), now) is True

    row = fetch(sessions, row_id)
    assert state(row) == ("failed", 0, now, "rejected: 400 Invalid request", None, None)
    assert row.sent_at is None and ledger(sessions) == []
    assert said() == [("ERROR", f"outbox #{row_id}: LINE refused it (400 Invalid request)")]


def test_a_refusal_without_words_keeps_a_tidy_error(sessions, now):
    row_id = queue(sessions, USER, "お知らせ", now=now)
    assert record(sessions, row_id, Result(Outcome.NOT_FOUND, 404, ""), now) is True
    assert fetch(sessions, row_id).last_error == "not_found: 404"


def test_a_request_the_sdk_would_not_build_fails_with_the_error(sessions, now):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    claim(sessions, now)
    assert record(sessions, row_id, None, now, error="invalid request: ValueError") is True
    assert state(fetch(sessions, row_id)) == ("failed", 0, now, "invalid request: ValueError", None, None)


def test_a_try_our_database_broke_off_leaves_the_row_to_its_lease(sessions, now, said):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    claim(sessions, now)
    assert record(sessions, row_id, None, now) is False
    assert state(fetch(sessions, row_id)) == ("pending", 0, now, None, now + LEASE, "sender-a")
    assert said() == []


@pytest.mark.parametrize(
    "answer",
    [Result(Outcome.RETRY, 500, "Internal error"), Result(Outcome.REJECTED, 400, "bad"), None],
    ids=["retry", "refused", "error"],
)
def test_a_row_another_try_already_settled_is_left_as_it_is(sessions, now, said, answer):
    # Its lease lapsed mid-try (a stalled process) and another sender delivered it meanwhile.
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    claim(sessions, now)
    claim(sessions, now + LEASE + timedelta(seconds=1), by="sender-b")
    record(sessions, row_id, Result(Outcome.SENT, 200, request_id="req-b", via="push", recipients=3), now)
    before = state(fetch(sessions, row_id))

    error = None if answer is not None else "invalid request: TypeError"
    assert record(sessions, row_id, answer, now + timedelta(minutes=1), error=error) is True

    row = fetch(sessions, row_id)
    assert state(row) == before and (row.sent_at, row.line_request_id) == (now, "req-b")
    assert said()[-1] == (
        "WARNING",
        f"outbox #{row_id}: already sent by another try; this try's answer is not recorded",
    )


# --- recording: reads from LINE -----------------------------------------------------------------------
def test_a_lookup_line_answered_is_stored_and_the_row_marked_sent_by_lookup(sessions, now):
    with sessions.begin() as session:
        outbox.enqueue_lookup(session, "quota", now=now)
    [row] = claim(sessions, now)

    answer = Result(Outcome.SENT, 200, request_id="req-q", data=(5000, 120))
    assert record(sessions, row.id, answer, now) is True

    stored = fetch(sessions, row.id)
    assert (stored.status, stored.sent_via, stored.line_request_id, stored.sent_at) == ("sent", "lookup", "req-q", now)
    assert (stored.locked_until, stored.locked_by) == (None, None)
    month = quota(sessions, now)
    assert (month.line_limit, month.line_usage, month.checked_at) == (5000, 120, now)
    assert ledger(sessions) == []  # a read is not a message


@pytest.mark.usefixtures("highest_delay")
def test_a_lookup_line_could_not_answer_now_is_retried(sessions, now):
    with sessions.begin() as session:
        outbox.enqueue_lookup(session, "quota", now=now)
    [row] = claim(sessions, now)
    assert record(sessions, row.id, Result(Outcome.RETRY, 500, "busy"), now) is False
    assert state(fetch(sessions, row.id)) == ("pending", 1, now + timedelta(seconds=1), "500 busy", None, None)
    assert quota(sessions, now) is None


# --- recording: LINE's monthly limit --------------------------------------------------------------------
def test_a_notice_refused_for_the_month_is_dropped_when_it_would_be_stale_by_the_1st(sessions, now, said):
    network = add_network(sessions, GROUP, members=3)
    row_id = queue(sessions, GROUP, "お知らせ", now=now, network_id=network)
    claim(sessions, now)

    assert record(sessions, row_id, Result(Outcome.MONTHLY_LIMIT, 429, KNOWN_MONTHLY_LIMIT), now) is True

    row = fetch(sessions, row_id)
    assert state(row) == ("failed", 0, now, f"monthly_limit: 429 {KNOWN_MONTHLY_LIMIT}", None, None)
    assert ledger(sessions) == [("2026-11", now, row_id, network, "notice", "dropped", 0, "group", "monthly_limit")]
    month = quota(sessions, now)
    assert (month.exhausted_at, month.told_100_at, month.told_80_at) == (now, now, now)
    text = messages.BUDGET_SPENT.format(spent=200, allowance=200)  # the allowance counts as spent
    key = f"budget:2026-11:100:{network}"
    assert held_notices(sessions) == [(GROUP, network, key, "held", next_month_start(now), [compose.text(text)])]
    assert said()[-1] == ("WARNING", f"outbox #{row_id}: the month's messages are used up; dropped (stale by the 1st)")


def test_monthly_figures_refused_for_the_month_wait_for_the_1st_when_still_worth_sending(sessions, now, said):
    first = next_month_start(now)
    # Queued exactly a week before the 1st: still worth sending then (a week is the limit).
    row_id = queue(sessions, USER, "集計です", now=first - timedelta(days=7), kind=Kind.MONTHLY_FIGURES)
    claim(sessions, now)

    assert record(sessions, row_id, Result(Outcome.MONTHLY_LIMIT, 429, "monthly limit"), now) is False

    assert state(fetch(sessions, row_id)) == ("pending", 0, first, "monthly_limit: 429 monthly limit", None, None)
    assert ledger(sessions) == []
    assert quota(sessions, now).exhausted_at == now
    assert said() == [("WARNING", f"outbox #{row_id}: the month's messages are used up; waits for the 1st")]


def test_a_check_in_a_moment_too_old_by_the_1st_is_dropped(sessions, now):
    first = next_month_start(now)
    row_id = queue(sessions, USER, "その後どうですか", now=first - timedelta(days=7, seconds=1), kind=Kind.ACCOMPANY)
    assert record(sessions, row_id, Result(Outcome.MONTHLY_LIMIT, 429, "monthly limit"), now) is True
    assert fetch(sessions, row_id).status == "failed"
    assert ledger(sessions) == [("2026-11", now, row_id, None, "accompany", "dropped", 0, "user", "monthly_limit")]


def test_a_month_already_known_spent_keeps_when_it_ran_out_and_tells_no_one_again(sessions, now):
    add_network(sessions, GROUP)
    earlier = now - timedelta(hours=3)
    with sessions.begin() as session:
        session.add(QuotaMonth(month=month_of(now), exhausted_at=earlier, told_80_at=earlier, told_100_at=earlier))
    row_id = queue(sessions, USER, "集計です", now=now, kind=Kind.MONTHLY_FIGURES)

    with sessions.begin() as session:
        row = session.get(OutboxMessage, row_id)
        assert wait_for_next_month_in(session, row, Result(Outcome.MONTHLY_LIMIT, 429, "x"), now, MAX_AGE) is False

    month = quota(sessions, now)
    assert (month.exhausted_at, month.told_80_at, month.told_100_at) == (earlier, earlier, earlier)
    assert held_notices(sessions) == []


# --- recording: not sent on purpose ----------------------------------------------------------------------
def test_a_stale_acknowledgement_is_dropped_with_its_reason_in_the_row_and_the_ledger(sessions, now, said):
    network = add_network(sessions, GROUP)
    row_id = queue(sessions, GROUP, "受け付けました", now=now, reply_token="t" * 32, kind=Kind.ACK)
    at = now + timedelta(minutes=2)
    claim(sessions, at)

    assert record(sessions, row_id, Result(Outcome.NOT_SENT, 0, "stale_ack"), at) is True

    row = fetch(sessions, row_id)
    assert state(row) == ("dropped", 0, now, "stale_ack", None, None) and row.sent_at is None
    assert ledger(sessions) == [("2026-11", at, row_id, network, "ack", "dropped", 0, "group", "stale_ack")]
    assert said() == [("INFO", f"outbox #{row_id} (ack): its reply token expired; dropped (stale_ack)")]


def test_drop_marks_the_callers_row_dropped_too(sessions, now):
    row_id = queue(sessions, USER, "受け付けました", now=now, reply_token="t" * 32, kind=Kind.ACK)
    with sessions.begin() as session:
        row = session.get(OutboxMessage, row_id)
        session.expunge(row)
        drop_in(session, row, "stale_ack", now)
    assert row.status == "dropped"


def test_an_unsent_message_s_ledger_row_finds_its_network_from_the_group_and_keeps_a_short_reason(sessions, now):
    add_network(sessions, OTHER_GROUP)
    network = add_network(sessions, GROUP)
    row_id = queue(sessions, GROUP, "お知らせ", now=now)  # queued without its network

    with sessions.begin() as session:
        record_unsent_in(session, session.get(OutboxMessage, row_id), "dropped", "x" * 250, now)

    assert ledger(sessions) == [("2026-11", now, row_id, network, "notice", "dropped", 0, "group", "x" * 200)]


def test_an_unsent_message_s_ledger_row_keeps_the_network_it_was_queued_for(sessions, now):
    add_network(sessions, GROUP)
    other = add_network(sessions, OTHER_GROUP)
    in_group = queue(sessions, GROUP, "お知らせ", now=now, network_id=other)
    to_person = queue(sessions, USER, "お知らせ", now=now, network_id=other)  # a network's business, 1:1
    alone = queue(sessions, USER, "お知らせ", now=now)  # the person's own business

    with sessions.begin() as session:
        for row_id in (in_group, to_person, alone):
            record_unsent_in(session, session.get(OutboxMessage, row_id), "folded", f"fold:{row_id}", now)

    assert [(e[2], e[3], e[5], e[6], e[7], e[8]) for e in ledger(sessions)] == [
        (in_group, other, "folded", 0, "group", f"fold:{in_group}"),
        (to_person, other, "folded", 0, "user", f"fold:{to_person}"),
        (alone, None, "folded", 0, "user", f"fold:{alone}"),
    ]


# --- the ledger row of a push -------------------------------------------------------------------------
def push_counted(sessions, chat_id: str, recipients: int | None, now, **kwargs) -> tuple:
    row_id = queue(sessions, chat_id, "お知らせ", now=now, **kwargs)
    with sessions.begin() as session:
        count_push_in(session, session.get(OutboxMessage, row_id), recipients, now)
    [entry] = [e for e in ledger(sessions) if e[2] == row_id]
    return entry


def test_a_push_to_a_group_is_counted_for_its_network_found_from_the_group(sessions, now):
    add_network(sessions, OTHER_GROUP, members=2)
    network = add_network(sessions, GROUP, members=2)
    assert push_counted(sessions, GROUP, 6, now) == ("2026-11", now, 1, network, "notice", "sent", 6, "group", None)


def test_a_push_keeps_the_network_it_was_queued_for(sessions, now):
    add_network(sessions, GROUP)
    other = add_network(sessions, OTHER_GROUP)
    assert push_counted(sessions, GROUP, 3, now, network_id=other)[3] == other


def test_a_push_line_could_not_count_is_counted_for_the_members_kasane_knows(sessions, now):
    add_network(sessions, OTHER_GROUP, members=7)
    network = add_network(sessions, GROUP, members=3, left=2)  # those who left are not counted
    assert push_counted(sessions, GROUP, None, now)[3:8] == (network, "notice", "sent", 3, "group")


def test_a_push_line_could_not_count_to_a_group_kasane_knows_nobody_in_counts_zero(sessions, now):
    add_network(sessions, GROUP, members=0, left=1)
    assert push_counted(sessions, GROUP, None, now)[6] == 0
    assert push_counted(sessions, OTHER_GROUP, None, now)[3:8] == (None, "notice", "sent", 0, "group")


def test_a_push_to_one_person_counts_one(sessions, now):
    add_network(sessions, GROUP, members=4)
    assert push_counted(sessions, USER, None, now)[3:8] == (None, "notice", "sent", 1, "user")


def test_the_month_of_a_push_is_japan_s(sessions, clock):
    # 1 December 00:30 in Japan is still 30 November in UTC: LINE bills it to December.
    at = next_month_start(clock.now()) + timedelta(minutes=30)
    assert push_counted(sessions, USER, 1, at)[:2] == ("2026-12", at)


# --- telling the networks at 80 % and 100 % -------------------------------------------------------------
@pytest.fixture
def networks(sessions) -> list[int]:
    ids = [add_network(sessions, GROUP), add_network(sessions, OTHER_GROUP)]
    add_network(sessions, QUIET_GROUP, active=False)
    return ids


def tell(sessions, now, **kwargs) -> None:
    with sessions.begin() as session:
        tell_when_spent_in(session, now, **kwargs)


def test_below_80_percent_nobody_is_told_and_the_quota_row_is_not_touched(sessions, now, networks):
    spend(sessions, 159, now)  # of the free plan's 200
    tell(sessions, now)
    assert held_notices(sessions) == [] and quota(sessions, now) is None


def test_at_80_percent_every_active_network_is_told_once_in_its_next_free_reply(sessions, now, networks):
    spend(sessions, 160, now)
    tell(sessions, now)

    text = messages.BUDGET_80.format(spent=160, allowance=200)
    assert held_notices(sessions) == [
        (group, network, f"budget:2026-11:80:{network}", "held", next_month_start(now), [compose.text(text)])
        for group, network in zip((GROUP, OTHER_GROUP), networks, strict=True)
    ]
    assert (quota(sessions, now).told_80_at, quota(sessions, now).told_100_at) == (now, None)

    spend(sessions, 1, now)
    tell(sessions, now + timedelta(minutes=1))
    assert len(held_notices(sessions)) == 2 and quota(sessions, now).told_80_at == now


def test_at_100_percent_the_networks_are_told_again_and_when_they_were_told_80_stays(sessions, now, networks):
    spend(sessions, 170, now)
    tell(sessions, now)
    later = now + timedelta(hours=2)
    spend(sessions, 30, now)
    tell(sessions, later)

    text = messages.BUDGET_SPENT.format(spent=200, allowance=200)
    keys = [n[2] for n in held_notices(sessions)]
    assert sorted(keys) == sorted(f"budget:2026-11:{share}:{n}" for share in (80, 100) for n in networks)
    assert [n[5] for n in held_notices(sessions) if ":100:" in n[2]] == [[compose.text(text)]] * 2
    assert (quota(sessions, now).told_80_at, quota(sessions, now).told_100_at) == (now, later)


def test_one_message_short_of_the_allowance_the_month_is_not_spent_yet(sessions, now, networks):
    spend(sessions, 199, now)
    tell(sessions, now)
    assert [n[2] for n in held_notices(sessions)] == [f"budget:2026-11:80:{n}" for n in networks]
    assert (quota(sessions, now).told_80_at, quota(sessions, now).told_100_at) == (now, None)


def test_jumping_past_100_percent_at_once_is_one_notice_not_two(sessions, now, networks):
    spend(sessions, 250, now)
    tell(sessions, now)
    assert [n[2] for n in held_notices(sessions)] == [f"budget:2026-11:100:{n}" for n in networks]
    assert (quota(sessions, now).told_80_at, quota(sessions, now).told_100_at) == (now, now)


def test_a_push_that_crosses_80_percent_holds_the_notices(sessions, now, networks):
    spend(sessions, 150, now)
    push_counted(sessions, GROUP, 10, now)
    assert [n[2] for n in held_notices(sessions)] == [f"budget:2026-11:80:{n}" for n in networks]


def test_a_network_already_told_is_skipped_and_the_others_are_told(sessions, now, networks):
    told_already(sessions, now, networks[0])
    spend(sessions, 160, now)
    tell(sessions, now)
    assert sorted(n[2] for n in held_notices(sessions)) == [f"budget:2026-11:80:{n}" for n in networks]
    assert fetch(sessions, 1).messages == [compose.text("先に")]


def test_a_notice_another_sender_queues_at_the_same_moment_is_queued_once(sessions, now, networks, monkeypatch, said):
    key = told_already(sessions, now, networks[0])
    # The other sender's row was not there yet when this one looked: the unique key decides.
    monkeypatch.setattr(outbox, "already_queued", lambda session, dedupe_key: False)
    spend(sessions, 160, now)
    tell(sessions, now)
    assert sorted(n[2] for n in held_notices(sessions)) == [f"budget:2026-11:80:{n}" for n in networks]
    assert said() == [("INFO", f"budget notice {key} was queued by another sender")]
    assert quota(sessions, now).told_80_at == now


# --- replies that missed their tokens, merged into one push ------------------------------------------------
def test_late_replies_to_one_chat_join_one_push_as_far_as_five_balloons_go(sessions, now, said):
    chip = {"items": [{"type": "action", "action": {"type": "message", "label": "はい", "text": "はい"}}]}

    def reply(n: int, *bodies: str, **kwargs) -> int:
        texts = [compose.text(b) for b in bodies]
        if n == 2:
            texts[0] = {**texts[0], "quickReply": chip}
        with sessions.begin() as session:
            [row_id] = outbox.enqueue(
                session, GROUP, texts, now=now, reply_token=f"{n}" * 32, lane=f"{GROUP}:{n}", **kwargs
            )
        return row_id

    carrier = reply(1, "回答1")
    joins = reply(2, "回答2a", "回答2b")
    too_big = reply(3, "回答3a", "回答3b")  # two balloons: only one is left by now
    ack = reply(4, "受付", kind=Kind.ACK)  # dropped on its own, never pushed
    fits = reply(5, "回答5")
    pushed = queue(sessions, GROUP, "お知らせ", now=now, lane=f"{GROUP}:6")  # not a reply
    other_chat = queue(sessions, OTHER_GROUP, "回答", now=now, reply_token="9" * 32)
    at = now + timedelta(minutes=2)

    row = fetch(sessions, carrier)  # detached, as the sender holds it
    with sessions.begin() as session:
        merged = merge_stale_in(session, row, at)
    assert row.carries == 2

    assert merged == [
        compose.text(messages.STALE_REPLIES_HEADER),
        compose.text("回答1"),
        compose.text("回答2a"),
        compose.text("回答2b"),
        {**compose.text("回答5"), "quickReply": chip},  # quick replies only on the last balloon
    ]
    stored = fetch(sessions, carrier)
    assert (stored.messages, stored.carries, stored.reply_state, stored.status) == (merged, 2, "expired", "pending")
    for taken in (joins, fits):
        row = fetch(sessions, taken)
        assert (row.status, row.carried_by, row.next_attempt_at) == ("held", carrier, at)
    for left in (too_big, ack, pushed, other_chat):
        row = fetch(sessions, left)
        assert (row.status, row.carried_by, row.next_attempt_at) == ("pending", None, now)
    assert said() == [("INFO", f"outbox #{carrier}: its reply token expired; 2 other late replies join its push")]

    # The push LINE takes delivers them all: the joined replies are carried ("fold"), counted zero.
    record(sessions, carrier, Result(Outcome.SENT, 200, via="push", recipients=3), at)
    assert [(fetch(sessions, r).status, fetch(sessions, r).sent_via) for r in (joins, fits)] == [
        ("carried", "fold")
    ] * 2


def test_a_late_reply_with_no_other_late_reply_to_join_is_pushed_as_it_is(sessions, now, said):
    row_id = queue(sessions, GROUP, "回答", now=now, reply_token="1" * 32)
    queue(sessions, GROUP, "まだ間に合う", now=now + timedelta(minutes=2), reply_token="2" * 32, lane=f"{GROUP}:2")
    at = now + timedelta(minutes=2)
    with sessions.begin() as session:
        row = session.get(OutboxMessage, row_id)
        assert merge_stale_in(session, row, at) is None
        assert row.carries == 0
    stored = fetch(sessions, row_id)
    # Left expired all the same: a retried push keeps its content under its retry key.
    assert (stored.messages, stored.carries, stored.reply_state) == ([compose.text("回答")], 0, "expired")
    assert said() == []


def test_a_reply_line_refused_is_merged_with_the_chat_s_other_refused_replies(sessions, now):
    carrier = queue(sessions, GROUP, "回答1", now=now, reply_token="1" * 32, lane=f"{GROUP}:1")
    refused = queue(sessions, GROUP, "回答2", now=now, reply_token="2" * 32, lane=f"{GROUP}:2")
    with sessions.begin() as session:
        set_reply_state_in(session, session.get(OutboxMessage, refused), "rejected")
    with sessions.begin() as session:  # the tokens are still young: only the refusal makes it late
        merged = merge_stale_in(session, session.get(OutboxMessage, carrier), now)
    assert merged[1:] == [compose.text("回答1"), compose.text("回答2")]
    assert fetch(sessions, refused).carried_by == carrier


# --- small writes ----------------------------------------------------------------------------------------
def test_set_reply_state_writes_it_and_tells_the_caller_s_row(sessions, now):
    row_id = queue(sessions, GROUP, "回答", now=now, reply_token="1" * 32)
    row = fetch(sessions, row_id)
    with sessions.begin() as session:
        set_reply_state_in(session, row, "rejected")
    assert row.reply_state == "rejected" and fetch(sessions, row_id).reply_state == "rejected"


def test_mark_sets_the_caller_s_row_status_and_keeps_the_last_error_unless_given(sessions, now):
    row_id = queue(sessions, GROUP, "お知らせ", now=now)
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(last_error="500 earlier"))
    row = fetch(sessions, row_id)
    with sessions.begin() as session:
        mark_in(session, row, "sent", now, request_id="r", via="push")
    assert row.status == "sent"
    assert (fetch(sessions, row_id).last_error, fetch(sessions, row_id).sent_via) == ("500 earlier", "push")


def test_riders_already_settled_are_not_marked_again(sessions, now):
    carrier = queue(sessions, GROUP, "回答", now=now, reply_token="t" * 32)
    rider = queue(sessions, GROUP, "お知らせ", now=now, hold_until=now + timedelta(days=1))
    with sessions.begin() as session:
        outbox.carry(session, carrier, [rider])
        session.execute(update(OutboxMessage).where(OutboxMessage.id == rider).values(status="dropped"))
    with sessions.begin() as session:
        riders_sent_in(session, session.get(OutboxMessage, carrier), "reply", now)
    assert fetch(sessions, rider).status == "dropped" and ledger(sessions) == []
