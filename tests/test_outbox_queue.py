"""Queueing outgoing messages (bot/pipeline/outbox.py): what a handler's ``enqueue`` writes, how a
long batch is cut into requests LINE accepts, how held messages ride along on a free reply or fold
into a push, and the one NOTIFY that wakes the sender when the transaction commits.

Against a real database session, with exact values: these rows are everything the sender knows."""

from __future__ import annotations

import select as io_select
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import JST
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.outbox import (
    MAX_MESSAGES_PER_REQUEST,
    NOTIFY_AT_COMMIT,
    OUTBOX_CHANNEL,
    REPLY_TOKEN_LIFETIME,
    already_queued,
    carry,
    enqueue,
    enqueue_lookup,
    fold_into,
    quick_replies_last,
    take_riders,
)
from bot.replies import compose
from models import OutboxMessage
from models.ledger import Kind, Priority, priority_of

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
GROUP = "C" + "a" * 32
OTHER_GROUP = "C" + "b" * 32
CHIPS = {"items": [{"type": "action", "action": {"type": "message", "label": "一覧", "text": "一覧"}}]}
OTHER_CHIPS = {"items": [{"type": "action", "action": {"type": "message", "label": "ヘルプ", "text": "ヘルプ"}}]}


def texts(*bodies: str) -> list[dict]:
    return [compose.text(body) for body in bodies]


def with_chips(message: dict, chips: dict = CHIPS) -> dict:
    return {**message, "quickReply": chips}


@pytest.fixture
def sessions(engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@pytest.fixture
def session(sessions) -> Iterator[Session]:
    with sessions() as session:
        yield session


def rows(session: Session, ids: list[int] | None = None) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    return list(session.scalars(query))


def row(session: Session, row_id: int) -> OutboxMessage:
    session.expire_all()
    found = session.get(OutboxMessage, row_id)
    assert found is not None
    return found


def utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


# --- quick replies: only on the batch's last message ----------------------------------------------


def test_quick_replies_move_from_an_earlier_message_to_the_last():
    card, notice, closing = texts("カード", "お知らせ", "以上です")
    batch = [with_chips(card), notice, closing]

    assert quick_replies_last(batch) == [card, notice, with_chips(closing)]
    assert batch[0] == with_chips(card)  # the caller's messages are left as they were


def test_the_latest_chips_of_a_batch_are_the_ones_kept():
    first, second, third = texts("一", "二", "三")
    assert quick_replies_last([with_chips(first), with_chips(second, OTHER_CHIPS), third]) == [
        first,
        second,
        with_chips(third, OTHER_CHIPS),
    ]


def test_chips_already_on_the_last_message_stay_there():
    first, last = texts("一", "二")
    assert quick_replies_last([first, with_chips(last)]) == [first, with_chips(last)]


def test_a_batch_without_chips_is_unchanged():
    batch = texts("一", "二", "三")
    finished = quick_replies_last(batch)
    assert finished == batch and not any("quickReply" in message for message in finished)
    assert quick_replies_last([]) == []


# --- enqueue: what a row says ---------------------------------------------------------------------


def test_a_reply_is_an_answer_whose_token_ages_from_when_line_sent_the_event(session):
    issued = NOW - timedelta(seconds=12)  # the webhook recorded the event 12 s before the worker got to it
    [row_id] = enqueue(
        session,
        GROUP,
        texts("こんにちは"),
        now=NOW,
        reply_token="token-1",
        token_issued_at=issued,
        topic="thread:7",
        network_id=3,
    )
    session.commit()

    queued = row(session, row_id)
    assert queued.chat_id == GROUP and queued.lane == GROUP  # a chat is its own lane unless told otherwise
    assert queued.messages == texts("こんにちは")
    assert queued.reply_token == "token-1"
    assert queued.reply_deadline == utc(issued + timedelta(seconds=50)) == utc(issued + REPLY_TOKEN_LIFETIME)
    assert (queued.kind, queued.priority) == (Kind.ANSWER, int(Priority.LOW)) == ("answer", priority_of("answer"))
    assert (queued.topic, queued.network_id) == ("thread:7", 3)
    assert queued.dedupe_key is None
    assert (queued.status, queued.reply_state, queued.attempts) == ("pending", "none", 0)
    assert queued.created_at == utc(NOW) and queued.next_attempt_at == utc(NOW)
    assert (queued.carried_by, queued.carries, queued.locked_until) == (None, 0, None)


def test_a_reply_token_without_its_issue_time_ages_from_now(session):
    [row_id] = enqueue(session, GROUP, texts("こんにちは"), now=NOW, reply_token="token-1")
    assert row(session, row_id).reply_deadline == utc(NOW + timedelta(seconds=50))


def test_a_message_without_a_token_is_a_notice_with_no_deadline(session):
    [row_id] = enqueue(session, GROUP, texts("お知らせ"), now=NOW, token_issued_at=NOW - timedelta(seconds=5))
    queued = row(session, row_id)
    assert (queued.reply_token, queued.reply_deadline) == (None, None)
    assert (queued.kind, queued.priority) == ("notice", int(Priority.HIGH)) == (Kind.NOTICE, priority_of("notice"))
    assert (queued.topic, queued.network_id, queued.dedupe_key) == (None, None, None)


def test_an_explicit_kind_and_lane_are_kept_with_the_kinds_priority(session):
    lane = f"{GROUP}/U{'1' * 32}"
    [nudge] = enqueue(session, GROUP, texts("その後"), now=NOW, kind=Kind.NUDGE, lane=lane)
    [figures] = enqueue(session, GROUP, texts("月の数字"), now=NOW, reply_token="t", kind=Kind.MONTHLY_FIGURES)
    assert (row(session, nudge).kind, row(session, nudge).priority, row(session, nudge).lane) == ("nudge", 0, lane)
    # A kind not listed in models.ledger.PRIORITY is NORMAL.
    assert (row(session, figures).kind, row(session, figures).priority) == ("monthly_figures", int(Priority.NORMAL))


def test_a_long_batch_is_cut_into_requests_of_five_with_the_token_on_the_first(session):
    batch = texts(*(f"#{n}" for n in range(11)))
    batch[0] = with_chips(batch[0])  # chips move to the batch's very last message before the cut
    ids = enqueue(session, GROUP, batch, now=NOW, reply_token="token-1", dedupe_key="meeting:4:week", topic="meeting:4")

    assert len(ids) == 3 and ids == sorted(ids)
    first, second, third = rows(session, ids)
    assert [[m["text"] for m in r.messages] for r in (first, second, third)] == [
        ["#0", "#1", "#2", "#3", "#4"],
        ["#5", "#6", "#7", "#8", "#9"],
        ["#10"],
    ]
    assert "quickReply" not in first.messages[0] and third.messages[-1]["quickReply"] == CHIPS
    # The token is single use: only the first request can be a reply; the rest follow by push.
    assert [r.reply_token for r in (first, second, third)] == ["token-1", None, None]
    assert [r.reply_deadline for r in (first, second, third)] == [utc(NOW + REPLY_TOKEN_LIFETIME), None, None]
    assert [r.dedupe_key for r in (first, second, third)] == ["meeting:4:week", "meeting:4:week#1", "meeting:4:week#2"]
    assert {(r.kind, r.priority, r.topic, r.lane) for r in (first, second, third)} == {
        ("answer", 0, "meeting:4", GROUP)
    }


def test_five_messages_are_one_request_and_six_are_two(session):
    assert MAX_MESSAGES_PER_REQUEST == 5
    assert len(enqueue(session, GROUP, texts(*"12345"), now=NOW)) == 1
    six = enqueue(session, GROUP, texts(*"123456"), now=NOW)
    assert [len(r.messages) for r in rows(session, six)] == [5, 1]
    assert [r.dedupe_key for r in rows(session, six)] == [None, None]  # no key: no keys for the rest either


def test_a_held_message_waits_until_its_time_instead_of_being_sent(session):
    until = NOW + timedelta(hours=3)
    [held] = enqueue(session, GROUP, texts("ついでに"), now=NOW, hold_until=until, kind=Kind.BUDGET_NOTICE)
    [pending] = enqueue(session, GROUP, texts("すぐに"), now=NOW)
    assert (row(session, held).status, row(session, held).next_attempt_at) == ("held", utc(until))
    assert (row(session, pending).status, row(session, pending).next_attempt_at) == ("pending", utc(NOW))


def test_a_queued_dedupe_key_is_seen_in_the_same_transaction(session):
    enqueue(session, GROUP, texts(*"1234567"), now=NOW, dedupe_key="nudge:9")
    assert already_queued(session, "nudge:9") and already_queued(session, "nudge:9#1")
    assert not already_queued(session, "nudge:10")
    assert not already_queued(session, "nudge:9#2")


# --- held messages: riding on a free reply, folding into a push ------------------------------------


def hold(session: Session, chat_id: str, *bodies: str, kind: str = Kind.NOTICE, until: datetime | None = None) -> int:
    [row_id] = enqueue(
        session, chat_id, texts(*bodies), now=NOW, kind=kind, hold_until=until or NOW + timedelta(hours=1)
    )
    return row_id


def test_riders_are_taken_most_important_first_then_oldest_first(session):
    low = hold(session, GROUP, "低", kind=Kind.NUDGE)
    high = hold(session, GROUP, "高", kind=Kind.NOTICE)
    normal = hold(session, GROUP, "普", kind=Kind.MONTHLY_FIGURES)
    high_two = hold(session, GROUP, "高1", "高2", kind=Kind.BUDGET_NOTICE)

    assert take_riders(session, GROUP, 5, NOW) == [
        (high, texts("高")),
        (high_two, texts("高1", "高2")),
        (normal, texts("普")),
        (low, texts("低")),
    ]


def test_a_rider_that_does_not_fit_is_skipped_for_a_smaller_one_after_it(session):
    first = hold(session, GROUP, "一")
    pair = hold(session, GROUP, "二a", "二b")
    last = hold(session, GROUP, "三")

    assert take_riders(session, GROUP, 2, NOW) == [(first, texts("一")), (last, texts("三"))]
    assert take_riders(session, GROUP, 3, NOW) == [(first, texts("一")), (pair, texts("二a", "二b"))]  # exactly fits
    assert take_riders(session, GROUP, 1, NOW) == [(first, texts("一"))]


def test_no_free_slot_takes_no_rider(session):
    hold(session, GROUP, "一")
    assert take_riders(session, GROUP, 0, NOW) == []
    assert take_riders(session, GROUP, -1, NOW) == []


def test_only_this_chats_held_messages_still_in_their_time_and_not_yet_carried_ride(session):
    mine = hold(session, GROUP, "このグループ")
    hold(session, OTHER_GROUP, "別のグループ")
    expired = hold(session, GROUP, "時間切れ", until=NOW)  # its time is up at this very moment: no longer news
    enqueue(session, GROUP, texts("送信待ち"), now=NOW)  # pending, not held
    carried = hold(session, GROUP, "もう運ばれる")
    carry(session, 999, [carried])

    assert take_riders(session, GROUP, 5, NOW) == [(mine, texts("このグループ"))]
    assert take_riders(session, GROUP, 5, NOW - timedelta(seconds=1)) == [
        (mine, texts("このグループ")),
        (expired, texts("時間切れ")),
    ]


def test_carry_marks_the_riders_and_counts_them_on_the_carrier(session):
    [carrier] = enqueue(session, GROUP, texts("返信"), now=NOW, reply_token="t")
    riders = [hold(session, GROUP, "一"), hold(session, GROUP, "二")]
    bystander = hold(session, GROUP, "三")

    carry(session, carrier, riders)

    assert [r.carried_by for r in rows(session, riders)] == [carrier, carrier]
    assert row(session, carrier).carries == 2
    assert row(session, bystander).carried_by is None


def test_carrying_nothing_changes_nothing(session):
    [carrier] = enqueue(session, GROUP, texts("返信"), now=NOW)
    carry(session, carrier, [])
    assert (row(session, carrier).carries, row(session, carrier).carried_by) == (0, None)


def test_a_push_takes_the_held_messages_that_fit_in_its_request(session):
    [carrier] = enqueue(session, GROUP, [texts("お知らせ")[0], with_chips(texts("続き")[0])], now=NOW)
    pair = hold(session, GROUP, "大事1", "大事2", kind=Kind.NOTICE)
    too_big = hold(session, GROUP, "普1", "普2", kind=Kind.MONTHLY_FIGURES)  # 2 more would make 6
    small = hold(session, GROUP, "低", kind=Kind.NUDGE)
    session.commit()

    assert fold_into(session, carrier, GROUP, NOW) == 2
    session.commit()

    folded = row(session, carrier)
    assert [m["text"] for m in folded.messages] == ["お知らせ", "続き", "大事1", "大事2", "低"]
    assert "quickReply" not in folded.messages[1] and folded.messages[-1]["quickReply"] == CHIPS
    assert folded.carries == 2
    assert [(r.id, r.carried_by) for r in rows(session, [pair, too_big, small])] == [
        (pair, carrier),
        (too_big, None),
        (small, carrier),
    ]


def test_a_full_push_or_one_with_nothing_held_folds_nothing(session):
    [full] = enqueue(session, GROUP, texts(*"12345"), now=NOW)
    [alone] = enqueue(session, OTHER_GROUP, texts("単独"), now=NOW)
    held = hold(session, GROUP, "待つ")

    assert fold_into(session, full, GROUP, NOW) == 0
    assert fold_into(session, alone, OTHER_GROUP, NOW) == 0
    assert fold_into(session, 424242, GROUP, NOW) == 0  # the carrier is gone
    assert [m["text"] for m in row(session, full).messages] == list("12345")
    assert (row(session, alone).messages, row(session, alone).carries) == (texts("単独"), 0)
    assert row(session, held).carried_by is None


# --- lookups: reads from LINE through the outbox --------------------------------------------------


def test_a_lookup_goes_on_a_pseudo_chat_of_its_own(session):
    user = "U" + "2" * 32
    enqueue_lookup(session, "member_profile", now=NOW, group_id=GROUP, user_id=user)
    enqueue_lookup(session, "group_summary", now=NOW, group_id=GROUP)
    session.commit()

    profile, summary = rows(session)
    assert profile.chat_id == profile.lane == f"lookup:member_profile:{GROUP}:{user}"
    assert profile.messages == [{"lookup": "member_profile", "group_id": GROUP, "user_id": user}]
    assert summary.chat_id == f"lookup:group_summary:{GROUP}"
    assert summary.messages == [{"lookup": "group_summary", "group_id": GROUP}]
    for lookup in (profile, summary):
        assert (lookup.kind, lookup.network_id, lookup.reply_token, lookup.status) == ("lookup", None, None, "pending")
        assert lookup.created_at == lookup.next_attempt_at == utc(NOW)


# --- waking the sender: one NOTIFY per committed transaction ----------------------------------------


def test_queueing_marks_the_transaction_and_the_commit_clears_the_mark(sessions):
    with sessions() as session:
        assert NOTIFY_AT_COMMIT not in session.info
        enqueue(session, GROUP, texts("一"), now=NOW)
        assert session.info[NOTIFY_AT_COMMIT] is True
        enqueue_lookup(session, "group_summary", now=NOW, group_id=GROUP)
        assert session.info[NOTIFY_AT_COMMIT] is True
        session.commit()
        assert NOTIFY_AT_COMMIT not in session.info

        enqueue_lookup(session, "group_summary", now=NOW, group_id=OTHER_GROUP)
        assert session.info[NOTIFY_AT_COMMIT] is True
        session.commit()
        assert NOTIFY_AT_COMMIT not in session.info


def test_a_rolled_back_savepoint_keeps_the_mark_of_the_transaction_around_it(sessions):
    with sessions() as session:
        enqueue(session, GROUP, texts("残る"), now=NOW)
        with session.begin_nested() as savepoint:
            enqueue(session, GROUP, texts("取り消す"), now=NOW)
            savepoint.rollback()
        assert session.info[NOTIFY_AT_COMMIT] is True  # the outer transaction still queued a row
        session.commit()
        assert NOTIFY_AT_COMMIT not in session.info
        assert [r.messages for r in rows(session)] == [texts("残る")]


def test_a_rolled_back_transaction_leaves_nothing_to_notify(sessions):
    with sessions() as session:
        enqueue(session, GROUP, texts("取り消す"), now=NOW)
        session.rollback()
        assert NOTIFY_AT_COMMIT not in session.info  # the next commit of this session has nothing to tell


@pytest.fixture
def listener(engine):
    """A second PostgreSQL connection LISTENing on the sender's channel (psycopg, autocommit)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite the sender watches the database file")
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
        yield connection


END = "end-of-test"


def notifications_until_end(listener, engine) -> list[str]:
    """Every notification on the channel up to a marker the test sends last (with a payload of its
    own): notifications arrive in commit order, so none of the test's can come after the marker."""
    with engine.begin() as connection:
        connection.execute(text(f"NOTIFY {OUTBOX_CHANNEL}, '{END}'"))
    payloads: list[str] = []
    deadline = 30.0
    while END not in payloads:
        ready, _, _ = io_select.select([listener.fileno()], [], [], deadline)
        assert ready, "the marker notification never arrived"
        payloads += [n.payload for n in listener.notifies(timeout=0)]
    return payloads[: payloads.index(END)]


def test_on_postgresql_each_committed_transaction_that_queued_notifies_once(sessions, engine, listener):
    with sessions.begin() as session:  # three rows, one transaction: one NOTIFY
        enqueue(session, GROUP, texts(*"1234567"), now=NOW)
        enqueue(session, OTHER_GROUP, texts("二"), now=NOW)
        enqueue_lookup(session, "group_summary", now=NOW, group_id=GROUP)
    with sessions.begin() as session:
        enqueue(session, GROUP, texts("次"), now=NOW)
    with sessions.begin() as session:  # nothing queued: nothing to wake the sender for
        session.execute(select(OutboxMessage.id))

    assert notifications_until_end(listener, engine) == ["", ""]


def test_on_postgresql_a_transaction_that_fails_notifies_nobody(sessions, engine, listener):
    with pytest.raises(RuntimeError), sessions.begin() as session:
        enqueue(session, GROUP, texts("取り消し"), now=NOW)
        raise RuntimeError("the handler failed after queueing: the transaction rolls back")

    assert notifications_until_end(listener, engine) == []
    with sessions() as session:
        assert rows(session) == []


def test_on_postgresql_a_rolled_back_transaction_notifies_nobody_when_the_session_commits_later(
    sessions, engine, listener
):
    with sessions() as session:
        enqueue(session, GROUP, texts("取り消し"), now=NOW)
        session.rollback()
        session.execute(select(OutboxMessage.id))  # the same session goes on and commits a read
        session.commit()

    assert notifications_until_end(listener, engine) == []
