"""The case log (models/casework.py): every change to a thread leaves one timeline event saying
who, when, through which door, and what it was before. The 月報 as of a month's end, the
dashboard's timeline and corrections are read back from exactly these events, so each field
is checked here, not only the thread's state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from test_dashboard_world import jst, make_network

from bot.pipeline.outbox import enqueue
from bot.replies import compose
from models import EventKind, Member, OrgKind, OutboxMessage, Outcome, ResponseKind, ThreadEvent, ThreadState
from models.casework import (
    add_response,
    can_manage,
    correct,
    edit_summary,
    own_thread,
    post_thread,
    reopen,
    retract,
    same_response_recently,
    set_outcome,
)
from models.membership import register_member
from models.outbox import ERASED_ERROR, thread_topic

POSTED = jst(2026, 11, 2, 9, 0)
LATER = POSTED + timedelta(days=3)


@pytest.fixture
def net(session):
    net = make_network(
        session,
        "Ccase-log",
        "Ucoordinator",
        {"子ども食堂ひまわり": OrgKind.INFORMAL, "東部包括": OrgKind.FORMAL, "西自治会": OrgKind.INFORMAL},
        POSTED,
    )
    return net


@pytest.fixture
def thread(session, net):
    thread, _ = post_thread(
        session, net.network, net.members["子ども食堂ひまわり"], "通院の付き添いを探しています", POSTED
    )
    session.flush()
    return thread


def events(session, thread) -> list[ThreadEvent]:
    session.flush()
    return list(session.scalars(select(ThreadEvent).where(ThreadEvent.thread_id == thread.id).order_by(ThreadEvent.id)))


def last_event(session, thread) -> ThreadEvent:
    return events(session, thread)[-1]


def who_when(event: ThreadEvent) -> tuple:
    """What happened, when, who did it, for which organization, through which door."""
    return (event.kind, event.at, event.actor_id, event.organization_id, event.via)


def test_posting_numbers_threads_in_turn_and_records_category_area_and_other_fields(session, net):
    poster = net.members["西自治会"]
    first, _ = post_thread(session, net.network, poster, "見守りの相談", POSTED, category="孤立", area="西部")
    second, masked = post_thread(
        session, net.network, poster, "山田さん（090-1234-5678）の件", LATER, also=["高齢", "住まい"]
    )
    session.flush()

    assert (first.number, second.number) == (1, 2)
    assert second.summary == "［氏名］さん（［電話番号］）の件" and masked.kinds == ("name", "phone")
    assert second.masked_kinds == ["name", "phone"] and second.posted_at == LATER
    event = last_event(session, first)
    assert who_when(event) == (
        EventKind.POSTED,
        POSTED,
        poster.id,
        poster.organization_id,
        "chat",
    )
    assert event.detail == {"category": "孤立", "area": "西部"}
    assert last_event(session, second).detail == {"category": "その他", "area": None, "also": ["高齢", "住まい"]}


def test_a_referral_records_where_to_what_kind_and_what_it_was_before(session, net, thread):
    coordinator = net.members["東部包括"]
    set_outcome(
        session,
        thread,
        coordinator,
        Outcome.REFERRED,
        LATER,
        referred_to="子ども食堂",
        referral_kind="participation",
        end_reason="ignored: not an ending",
        via="dashboard",
    )
    session.flush()

    assert (thread.state, thread.outcome, thread.outcome_at, thread.closed_at) == (
        ThreadState.CLOSED,
        Outcome.REFERRED,
        LATER,
        LATER,
    )
    assert (thread.referred_to, thread.end_reason) == ("子ども食堂", None)
    event = last_event(session, thread)
    assert who_when(event) == (
        EventKind.OUTCOME,
        LATER,
        coordinator.id,
        coordinator.organization_id,
        "dashboard",
    )
    assert event.detail == {
        "before": {"state": "open", "outcome": None, "referred_to": None, "end_reason": None},
        "outcome": "referred",
        "referred_to": "子ども食堂",
        "referral_kind": "participation",
    }


def test_a_referral_without_a_kind_counts_as_formal(session, net, thread):
    set_outcome(session, thread, net.members["東部包括"], Outcome.REFERRED, LATER, referred_to="地域包括")
    assert last_event(session, thread).detail["referral_kind"] == "formal"
    assert last_event(session, thread).via == "chat"


def test_a_correction_of_an_ending_keeps_the_old_one_and_the_reason(session, net, thread):
    poster = net.members["子ども食堂ひまわり"]
    set_outcome(session, thread, poster, Outcome.REFERRED, POSTED + timedelta(days=1), referred_to="地域包括")
    set_outcome(
        session,
        thread,
        None,
        Outcome.ENDED,
        LATER,
        end_reason="転居",
        reason="つなぎ先が誤っていた",
        referred_to="ignored: not a referral",
        via="dashboard",
    )
    session.flush()

    assert (thread.referred_to, thread.end_reason, thread.closed_at) == (None, "転居", LATER)
    event = last_event(session, thread)
    assert (event.actor_id, event.organization_id) == (None, None)
    assert event.detail == {
        "before": {"state": "closed", "outcome": "referred", "referred_to": "地域包括", "end_reason": None},
        "outcome": "ended",
        "end_reason": "転居",
        "reason": "つなぎ先が誤っていた",
    }


def test_accompanying_keeps_the_thread_open_after_it_was_closed(session, net, thread):
    poster = net.members["子ども食堂ひまわり"]
    set_outcome(session, thread, poster, Outcome.RESOLVED, POSTED + timedelta(days=1))
    set_outcome(session, thread, poster, Outcome.ACCOMPANYING, LATER)

    assert (thread.state, thread.closed_at, thread.outcome_at) == (ThreadState.OPEN, None, LATER)
    assert last_event(session, thread).detail == {
        "before": {"state": "closed", "outcome": "resolved", "referred_to": None, "end_reason": None},
        "outcome": "accompanying",
    }


def test_reopening_clears_the_ending_and_remembers_it(session, net, thread):
    poster = net.members["子ども食堂ひまわり"]
    set_outcome(session, thread, poster, Outcome.REFERRED, POSTED + timedelta(days=1), referred_to="地域包括")
    reopen(session, thread, poster, LATER)
    session.flush()

    assert (thread.state, thread.outcome, thread.outcome_at, thread.closed_at) == (ThreadState.OPEN, None, None, None)
    assert (thread.referred_to, thread.end_reason) == (None, None)
    event = last_event(session, thread)
    assert (event.kind, event.at, event.actor_id, event.via) == (EventKind.REOPENED, LATER, poster.id, "chat")
    assert event.detail == {"before": {"state": "closed", "outcome": "referred"}}
    reopen(session, thread, None, LATER, via="dashboard")
    assert (last_event(session, thread).via, last_event(session, thread).actor_id) == ("dashboard", None)


def test_responses_count_by_kind_and_only_answers_set_the_first_response(session, net, thread):
    helper = net.members["東部包括"]
    add_response(session, thread, helper, ResponseKind.WATCH, None, POSTED + timedelta(hours=1))
    add_response(session, thread, helper, ResponseKind.COMMENT, "見ています", POSTED + timedelta(hours=2))
    assert thread.first_response_at is None  # watching and commenting are not an answer
    offer, masked = add_response(
        session, thread, helper, ResponseKind.OFFER, "佐藤さんが運転できます", LATER, message_id="m-offer"
    )
    add_response(session, thread, helper, ResponseKind.CONNECTION, "社協へ", LATER + timedelta(days=1))
    session.flush()

    assert thread.first_response_at == LATER  # the first answer, not the latest
    counts = (thread.connection_count, thread.offer_count, thread.comment_count, thread.watcher_count)
    assert counts == (1, 1, 1, 1)
    assert offer.text == "［氏名］さんが運転できます" and masked is not None and masked.kinds == ("name",)
    assert (offer.member_id, offer.organization_id, offer.created_at) == (helper.id, helper.organization_id, LATER)
    assert offer.message_id == "m-offer"  # a quote-reply or an unsend of that LINE message finds it
    assert events(session, thread)[3].at == LATER
    kinds = [(e.kind, e.detail.get("response_kind")) for e in events(session, thread)[1:]]
    assert kinds == [
        (EventKind.WATCH, "watch"),
        (EventKind.COMMENT, "comment"),
        (EventKind.RESPONSE, "offer"),
        (EventKind.RESPONSE, "connection"),
    ]
    assert events(session, thread)[3].detail == {"response_id": offer.id, "response_kind": "offer"}
    assert events(session, thread)[3].actor_id == helper.id


def test_a_correction_of_category_and_area_keeps_both_sides(session, net, thread):
    coordinator = net.members["東部包括"]
    correct(session, thread, coordinator, LATER, category="高齢", area="東部")
    assert (thread.category, thread.area) == ("高齢", "東部")
    event = last_event(session, thread)
    assert (event.kind, event.at, event.actor_id) == (EventKind.CORRECTED, LATER, coordinator.id)
    assert event.detail == {
        "before": {"category": "その他", "area": None},
        "after": {"category": "高齢", "area": "東部"},
    }


def test_unsending_erases_the_text_and_editing_masks_the_new_one(session, net, thread):
    edited = edit_summary(session, thread, "田中様の通院の付き添い", LATER)
    assert thread.summary == "［氏名］様の通院の付き添い" and edited.kinds == ("name",)
    assert thread.masked_kinds == ["name"]
    event = last_event(session, thread)
    assert (event.kind, event.at, event.detail) == (EventKind.EDITED, LATER, {"masked": ["name"]})

    poster = net.members["子ども食堂ひまわり"]
    card = compose.text("#1 通院の付き添い")
    [card_id] = enqueue(session, "Ccase-log", [card], now=LATER, topic=thread_topic(thread.id))
    unsent = LATER + timedelta(hours=1)
    retract(session, thread, unsent, actor=poster)
    assert (thread.summary, thread.retracted) == (None, True)
    event = last_event(session, thread)
    assert (event.kind, event.at, event.actor_id) == (EventKind.RETRACTED, unsent, poster.id)
    row = session.get(OutboxMessage, card_id)
    session.refresh(row)
    assert "通院" not in str(row.messages) and row.trimmed_at == unsent  # the outbox's copy goes too
    assert (row.status, row.last_error) == ("failed", ERASED_ERROR)  # and is never sent now


def test_who_may_record_an_outcome_and_whose_thread_it_is(session, net, thread):
    poster = net.members["子ども食堂ひまわり"]
    other = net.members["東部包括"]
    colleague, _, _ = register_member(session, net.network, "Ucolleague", "子ども食堂ひまわり", OrgKind.INFORMAL, LATER)
    coordinator = session.scalar(select(Member).where(Member.line_user_id == net.coordinator))
    session.flush()
    managers = [can_manage(m, thread) for m in (poster, colleague, coordinator, other, None)]
    assert managers == [True, True, True, False, False]
    assert [own_thread(thread, m) for m in (poster, colleague, other)] == [True, True, False]


def test_the_same_answer_from_one_organization_within_a_day_counts_once(session, net, thread):
    helper = net.members["東部包括"]
    add_response(session, thread, helper, ResponseKind.CONNECTION, "社協の配食", POSTED)
    session.flush()
    again = [
        same_response_recently(session, thread, helper, ResponseKind.CONNECTION, "社協の配食", POSTED + hours)
        for hours in (timedelta(hours=23), timedelta(hours=25))
    ]
    assert again == [True, False]
    other_text = same_response_recently(session, thread, helper, ResponseKind.CONNECTION, "別の案", POSTED)
    other_kind = same_response_recently(session, thread, helper, ResponseKind.OFFER, "社協の配食", POSTED)
    assert (other_text, other_kind) == (False, False)
