"""The network's monthly meeting, as a chat: the rule, reminders with an agenda, attendance, records.

The clock starts on Tuesday 24 November 2026, 10:00 in Japan (conftest); the network meets on
the 4th Wednesday at 14:00, so the first meeting is tomorrow. Reminder jobs are called directly
(`tick`), exactly as the scheduler calls them every five minutes.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import pytest
from conftest import JST, make_config, require_postgres
from harness import Answer
from held import sent_or_held
from sqlalchemy import func, select

from bot.runtime import build_runtime
from jobs import reminders
from models import (
    EventKind,
    MeetingAttendance,
    MeetingChange,
    MeetingSchedule,
    Member,
    Network,
    OutboxMessage,
    Thread,
    ThreadEvent,
)
from models.casework import post_thread, request_meeting, retract, set_outcome
from models.consent import set_consent
from models.thread import Consent, Outcome

PHONE = "０９０－１２３４－５６７８"


def at(runtime, text: str) -> None:
    runtime.clock.set(datetime.fromisoformat(text).replace(tzinfo=JST))


def tick(world, runtime=None) -> Answer:
    """One run of the reminder job, then what LINE delivered and what waits for the next free
    reply in the group (the day-before and morning reminders: tests/held.py)."""
    runtime = runtime or world.runtime
    with runtime.sessions.begin() as session:
        reminders.send_meeting_reminders(session, runtime.clock.now())
    return sent_or_held(world)


def ticks_at_once(runtime, count: int = 2) -> list[BaseException]:
    """Several workers run the reminder job at the same instant, each in its own session."""
    barrier, errors = threading.Barrier(count), []

    def run() -> None:
        try:
            barrier.wait()
            with runtime.sessions.begin() as session:
                reminders.send_meeting_reminders(session, runtime.clock.now())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class Net:
    """A network: Alice organizes (子ども食堂ひまわり), Bob and Carol work at 東部包括, Dan at 民生委員."""

    def __init__(self, world, *, alice_is_friend: bool = True) -> None:
        self.world = world
        self.group = world.group()
        self.alice, self.bob = world.person("Alice"), world.person("Bob")
        self.carol, self.dan = world.person("Carol"), world.person("Dan")
        world.invite_bot(self.group)
        self.group.add(self.alice, self.bob, self.carol, self.dan)
        self.alice.says(self.group, "団体登録 子ども食堂ひまわり")
        self.bob.says(self.group, "団体登録 東部地域包括支援センター フォーマル")
        self.carol.says(self.group, "団体登録 東部地域包括支援センター")
        self.dan.says(self.group, "団体登録 民生委員児童委員協議会")
        if alice_is_friend:
            self.alice.follows_bot()
        world.deliver()

    def network(self, session) -> Network:
        return session.scalar(select(Network).where(Network.group_id == self.group.id))

    def post(self, runtime, text: str, **kwargs) -> Thread:
        """A 困りごと posted by Bob, through the casework functions the threads feature uses."""
        with runtime.sessions.begin() as session:
            network = self.network(session)
            bob = session.scalar(select(Member).where(Member.line_user_id == self.bob.id))
            thread, _ = post_thread(session, network, bob, text, runtime.clock.now(), **kwargs)
            return thread


@pytest.fixture
def net(world) -> Net:
    return Net(world)


@pytest.fixture
def kurume(world, net) -> Net:
    """The network with its rule set: 4th Wednesday, 14:00, at the 中央公民館."""
    net.alice.says(net.group, "会議設定 毎月第4水曜 14:00 中央公民館")
    return net


def read(runtime):
    """A short read-only session: SQLite takes its write lock at BEGIN, so never hold one open."""
    return runtime.sessions()


def count(runtime, model) -> int:
    with read(runtime) as session:
        return session.scalar(select(func.count()).select_from(model))


# --- setting the schedule -----------------------------------------------------------------
def test_an_organizer_sets_the_monthly_meeting(world, runtime, net):
    answer = net.alice.says(net.group, "会議設定 毎月第4水曜 14:00 中央公民館 https://meet.example.jp/kasane")

    assert answer.text == (
        "会議の予定を「毎月第4水曜 14:00」にしました。\n"
        "場所：中央公民館\n"
        "オンライン：https://meet.example.jp/kasane\n"
        "次回：11月25日（水）14:00"
    )
    with read(runtime) as session:
        schedule = session.scalar(select(MeetingSchedule))
    assert (schedule.rule, schedule.place, schedule.link) == (
        "毎月第4水曜 14:00",
        "中央公民館",
        "https://meet.example.jp/kasane",
    )
    shown = net.bob.says(net.group, "会議")
    assert shown.text.startswith("次回の会議：11月25日（水）14:00\n場所：中央公民館")
    assert "出欠：出席0・欠席0・未定0・お返事まだ3" in shown.text


def test_a_member_who_is_not_organizer_is_refused_politely(world, runtime, kurume):
    for command in ("会議設定 毎月15日 10:00 市役所", "会議変更 12/23 → 12/16", "会議中止 12/23", "議題追加 #1"):
        answer = kurume.bob.says(kurume.group, command)
        assert answer.text == "すみません、会議の予定や議題を変えられるのは世話役の方だけです。"
    with read(runtime) as session:
        assert session.scalar(select(MeetingSchedule.rule)) == "毎月第4水曜 14:00"
    assert count(runtime, MeetingChange) == 0


@pytest.mark.parametrize(
    "command, expected",
    [
        ("会議設定 毎月第4水曜 25:00 公民館", "時刻が読み取れませんでした"),
        ("会議設定 毎月32日 10:00 公民館", "日にちは1日〜28日"),
        ("会議設定 毎月第5水曜 14:00", "最終水曜"),
        ("会議設定 来月あたり", "読み取れませんでした"),
        ("会議設定 毎月第4水曜 公民館", "開始時刻が書かれていません"),
    ],
)
def test_a_rule_it_cannot_read_gets_the_accepted_forms_and_nothing_is_stored(world, runtime, net, command, expected):
    answer = net.alice.says(net.group, command)

    assert expected in answer.text
    assert "会議設定 毎月第4水曜 14:00 場所" in answer.text and "会議設定 毎月15日 10:00 場所" in answer.text
    assert count(runtime, MeetingSchedule) == 0


@pytest.mark.parametrize(
    "command, expected",
    [
        (
            "会議変更 2026-12-24 → 2026-12-16 15:00",
            "12月24日（木）は会議の日ではありません。次回は11月25日（水）14:00です。",
        ),
        ("会議変更 2026-02-30 → 2026-12-16", "日付が読み取れませんでした"),
        ("会議変更 12/23 → 12/16 25:00", "時刻が読み取れませんでした"),
        ("会議変更 12/23 12/16", "会議変更 2026-12-23 → 2026-12-16 15:00"),
        ("会議変更 12/23 → 2026-11-20", "新しい日時がもう過ぎています"),
        ("会議変更 12/23 → 11/20", "前後60日以内"),  # no year: next year's 11/20, surely a slip
        ("会議中止 12/24", "12月24日（木）は会議の日ではありません"),
        ("会議中止 あした", "日付が読み取れませんでした"),
    ],
)
def test_a_date_that_is_not_a_meeting_is_answered_and_nothing_changes(world, runtime, kurume, command, expected):
    answer = kurume.alice.says(kurume.group, command)

    assert expected in answer.text
    assert count(runtime, MeetingChange) == 0


@pytest.mark.parametrize(
    "command",
    [
        "会議変更 12/23 → 12/16 15:00",
        "会議変更 2026-12-23 -> 2026-12-16 15:00",
        "会議変更 １２／２３ ＞ １２／１６ １５：００",
    ],
)
def test_a_move_can_be_typed_with_any_arrow_and_full_width_digits(world, runtime, kurume, command):
    answer = kurume.alice.says(kurume.group, command)

    assert answer.text == "12月23日（水）14:00の会議は、12月16日（水）15:00に変わりました。"
    with read(runtime) as session:
        change = session.scalar(select(MeetingChange))
    assert change.moved_to == datetime(2026, 12, 16, 15, 0, tzinfo=JST)


def test_moving_back_to_the_rules_time_restores_a_cancelled_meeting(world, runtime, kurume):
    kurume.alice.says(kurume.group, "会議中止 12/23")
    restored = kurume.alice.says(kurume.group, "会議変更 12/23 → 12/23 14:00")

    assert restored.text == "12月23日（水）14:00の会議は、12月23日（水）14:00に変わりました。"
    at(runtime, "2026-11-26 09:00")
    assert kurume.bob.says(kurume.group, "会議").text.startswith("次回の会議：12月23日（水）14:00")


@pytest.mark.parametrize(
    "data",
    [
        "a=meeting.move&n=99999999999999999999999&d=2026-12-23&to=2026-12-22",
        "a=meeting.move&n=1&d=not-a-date&to=2026-12-22",
        "a=meeting.keep&n=&d=",
        "a=meeting.rsvp&d=2026-13-45&r=yes",
        "a=meeting.rsvp&d=2026-11-25&r=perhaps",
    ],
)
def test_forged_meeting_buttons_change_nothing_and_crash_nothing(world, runtime, kurume, data):
    answer = world.send(world.line.postback(kurume.group.id, kurume.alice.id, data))

    assert answer.status == 200
    assert "うまく処理できませんでした" not in answer.text
    assert count(runtime, MeetingChange) == 0 and count(runtime, MeetingAttendance) == 0


# --- three months of reminders ------------------------------------------------------------
def test_three_months_of_reminders_with_a_moved_and_a_cancelled_meeting(world, runtime, kurume):
    group, alice, bob, carol, dan = kurume.group, kurume.alice, kurume.bob, kurume.carol, kurume.dan

    # November. The rule was set the day before the meeting: the 7-day card is late but within
    # its grace (until the 1-day reminder is due), so it comes at once.
    card = tick(world).to(group)
    assert card.text == (
        "会議のお知らせ\n11月25日（水）14:00\n場所：中央公民館\n議題（案）\n"
        "いまのところ、話し合う困りごとはありません。\n"
        "前回から：新しい困りごと 0 件・終わった困りごと 0 件\n"
        "団体ごとに出欠をお知らせください。\n[出席]\n[欠席]\n[未定]"
    )
    assert not tick(world)  # never twice

    assert "「東部地域包括支援センター」は11月25日（水）の会議に「出席」で承りました。" in (
        bob.presses(group, card.button("出席")).text
    )
    carol.presses(group, card.button("欠席"))  # same organization: the last answer wins
    dan.presses(group, card.button("未定"))

    at(runtime, "2026-11-24 13:55")
    assert not tick(world)
    at(runtime, "2026-11-24 14:00")
    day_before = tick(world)
    assert day_before.to(group).texts == [
        "明日 11月25日（水）14:00 から会議です。\n場所：中央公民館\n"
        "まだ出欠のお返事がない団体：\n・子ども食堂ひまわり @Alice\n"
        "お手数ですが、出欠をお知らせください。",
        "出欠のお返事\n11月25日（水）14:00\n団体ごとに出欠をお知らせください。\n[出席]\n[欠席]\n[未定]",
    ]
    # Buttons on the card (they stay), and the same as quick replies beside them.
    assert [b["label"] for b in day_before.to(group).buttons] == ["出席", "欠席", "未定"] * 2
    # Alice organizes and follows the bot: the attendance list and final agenda come to her 1:1.
    assert day_before.to(alice.id).text == (
        "【会議の準備】11月25日（水）14:00\n\n出欠\n"
        "・出席：なし\n・欠席：東部地域包括支援センター\n・未定：民生委員児童委員協議会\n"
        "・お返事まだ：子ども食堂ひまわり\n\n議題\nいまのところ、話し合う困りごとはありません。"
    )
    assert not tick(world)

    at(runtime, "2026-11-25 08:30")
    assert tick(world).to(group).text == "本日 14:00 から会議です。\n場所：中央公民館"
    at(runtime, "2026-11-25 14:00")
    assert not tick(world)

    # December: moved a week earlier and an hour later.
    at(runtime, "2026-11-26 09:00")
    moved = alice.says(group, "会議変更 12/23 → 12/16 15:00")
    assert moved.text == "12月23日（水）14:00の会議は、12月16日（水）15:00に変わりました。"
    assert bob.says(group, "会議").text.startswith("次回の会議：12月16日（水）15:00")
    at(runtime, "2026-12-09 14:59")
    assert not tick(world)
    at(runtime, "2026-12-09 15:00")
    assert "12月16日（水）15:00" in tick(world).to(group).text
    at(runtime, "2026-12-15 15:00")
    assert tick(world).to(group).text.startswith("明日 12月16日（水）15:00 から会議です。")
    at(runtime, "2026-12-16 08:30")
    assert tick(world).to(group).text == "本日 15:00 から会議です。\n場所：中央公民館"
    for moment in ("2026-12-16 15:00", "2026-12-22 14:00", "2026-12-23 08:30"):
        at(runtime, moment)
        assert not tick(world)  # nothing for the old date

    # January: cancelled. Nothing is sent for it; February's meeting is the next one.
    cancelled = alice.says(group, "会議中止 2027-01-27")
    assert cancelled.text == "1月27日（水）の会議は中止になりました。次回は2月24日（水）14:00です。"
    assert "すでに中止" in alice.says(group, "会議中止 1/27").text
    for moment in ("2027-01-20 14:00", "2027-01-26 14:00", "2027-01-27 08:30"):
        at(runtime, moment)
        assert not tick(world)

    at(runtime, "2027-02-17 14:00")
    assert "2月24日（水）14:00" in tick(world).to(group).text
    with read(runtime) as session:
        keys = session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.is_not(None))).all()
    network_id = 1
    assert sorted(keys) == sorted(
        [
            f"meeting:{network_id}:2026-11-25:week",
            f"meeting:{network_id}:2026-11-25:day",
            f"meeting:{network_id}:2026-11-25:summary:1",
            f"meeting:{network_id}:2026-11-25:morning",
            f"meeting:{network_id}:2026-12-23:week",  # the moved meeting keeps its identity
            f"meeting:{network_id}:2026-12-23:day",
            f"meeting:{network_id}:2026-12-23:summary:1",
            f"meeting:{network_id}:2026-12-23:morning",
            f"meeting:{network_id}:2027-02-24:week",
        ]
    )


def test_a_network_chooses_when_reminders_come_and_what_its_meeting_is_called(world, runtime, kurume):
    with runtime.sessions.begin() as session:
        settings = {"card_days_before": 10, "morning_time": "07:45", "name": "支援会議"}
        kurume.network(session).settings = {"meeting": settings}
    at(runtime, "2026-11-26 09:00")

    at(runtime, "2026-12-13 13:55")
    assert not tick(world)
    at(runtime, "2026-12-13 14:00")
    assert tick(world).to(kurume.group).text.startswith("支援会議のお知らせ\n12月23日（水）14:00")
    at(runtime, "2026-12-23 07:45")
    assert tick(world).to(kurume.group).text == "本日 14:00 から支援会議です。\n場所：中央公民館"


def test_meeting_commands_are_listed_in_help_and_belong_in_the_group(world, kurume):
    card = kurume.bob.says(kurume.group, "ヘルプ")  # a card of topics since issue 21
    assert "会議設定 毎月第4水曜 14:00 場所" in kurume.bob.presses(kurume.group, card.button("会議")).text
    # 「会議」 alone in the 1:1 chat (the rich menu's button) lists the next meetings since issue 21.
    assert "【" in kurume.alice.says(None, "会議").text
    for command in ("会議設定 毎月15日 10:00", "会議記録 #1"):
        assert kurume.alice.says(None, command).text == "会議のことは、ネットワークのグループの中で送ってください。"


# --- holidays -----------------------------------------------------------------------------------
def test_a_meeting_on_a_public_holiday_is_flagged_to_the_organizer_two_weeks_ahead(world, runtime, net):
    at(runtime, "2027-02-01 10:00")
    net.alice.says(net.group, "会議設定 毎月23日 10:00 市民センター")

    at(runtime, "2027-02-09 09:55")
    assert not tick(world)
    at(runtime, "2027-02-09 10:00")  # two weeks before 2027-02-23, 天皇誕生日
    warning = tick(world)
    assert not warning.to(net.group)  # the organizer decides; the group hears only the outcome
    assert warning.to(net.alice.id).text == (
        "会議の日が祝日です\n"
        "2月23日（火）10:00の会議は、祝日（天皇誕生日）にあたります。日を移しますか？\n"
        "[2月22日（月）に移す]\n[2月24日（水）に移す]\n[このまま]"
    )
    assert not tick(world)

    refused = net.bob.presses(None, warning.button("2月22日（月）に移す"))
    assert "世話役の方だけ" in refused.text
    moved = net.alice.presses(None, warning.button("2月22日（月）に移す"))
    assert moved.to(net.alice.id).text == "2月23日（火）10:00の会議は、2月22日（月）10:00に変わりました。"
    assert moved.to(net.group).text == "2月23日（火）10:00の会議は、2月22日（月）10:00に変わりました。"
    assert net.bob.says(net.group, "会議").text.startswith("次回の会議：2月22日（月）10:00")


def test_without_a_friendship_the_holiday_card_goes_to_the_group(world, runtime):
    net = Net(world, alice_is_friend=False)
    at(runtime, "2027-02-01 10:00")
    net.alice.says(net.group, "会議設定 毎月23日 10:00 市民センター")
    at(runtime, "2027-02-10 12:00")

    warning = tick(world)

    assert "祝日（天皇誕生日）" in warning.to(net.group).text
    kept = net.alice.presses(net.group, warning.button("このまま"))
    assert kept.text == "2月23日（火）のまま開きます。"


# --- once, whatever happens ---------------------------------------------------------------------
def test_two_ticks_at_the_same_moment_send_each_reminder_once(world, runtime, kurume):
    assert ticks_at_once(runtime) == []
    assert len(world.deliver().to(kurume.group).messages) == 1


def test_a_restarted_bot_does_not_repeat_what_it_sent(world, runtime, kurume, config, clock):
    assert tick(world).to(kurume.group)  # the 7-day card, before the restart

    restarted = build_runtime(config, clock=clock)  # a new process on the same database
    assert not tick(world, restarted)
    at(runtime, "2026-11-24 14:00")
    assert tick(world, restarted).to(kurume.group).text.startswith("明日 11月25日（水）14:00")
    assert not tick(world)  # the old process agrees: already sent
    restarted.sender.gateway.close()


def test_a_reminder_missed_while_down_is_sent_late_within_its_grace_and_skipped_after(
    world, runtime, kurume, caplog, monkeypatch
):
    monkeypatch.setattr(reminders, "_logged_skips", set())
    at(runtime, "2026-11-26 09:00")  # after November's meeting
    tick(world)

    at(runtime, "2026-12-19 10:00")  # down since the 15th: the card was due on the 16th, 14:00
    assert tick(world).to(kurume.group).text.startswith("会議のお知らせ\n12月23日（水）14:00")

    at(runtime, "2026-12-23 09:00")  # down again: the day-before reminder's time has passed
    with caplog.at_level(logging.WARNING, logger="jobs.reminders"):
        late = tick(world)
    assert late.to(kurume.group).text == "本日 14:00 から会議です。\n場所：中央公民館"
    assert "meeting:1:2026-12-23:day skipped" in caplog.text
    assert not late.to(kurume.alice.id)  # the summary's time has passed too

    at(runtime, "2026-12-23 14:00")
    assert not tick(world)  # never after the meeting started


# --- the agenda -------------------------------------------------------------------------------------
def flag(runtime, number: int) -> None:
    """What the threads feature's follow-up job does after 7 days without a response."""
    with runtime.sessions.begin() as session:
        session.scalar(select(Thread).where(Thread.number == number)).flagged_at = runtime.clock.now()


def test_the_agenda_holds_exactly_the_flagged_requested_and_due_threads_and_no_personal_data(world, runtime, kurume):
    kurume.post(runtime, "高齢の方の通院の付き添いを探しています", category="高齢", area="東部校区")  # 1
    kurume.post(runtime, "ひとり親家庭の夕食の支援を相談したい", category="子ども")  # 2
    kurume.post(runtime, "空き家の片付けの手伝い", category="住まい")  # 3
    kurume.post(runtime, "見守りが続いている方", category="孤立")  # 4
    kurume.post(runtime, f"電話は{PHONE}の方、ゴミ出しに困っています", category="高齢")  # 5
    kurume.post(runtime, "取り消される投稿", category="その他")  # 6
    kurume.post(runtime, "伴走を始めたばかり", category="障害")  # 7
    flag(runtime, 1)
    flag(runtime, 6)
    with runtime.sessions.begin() as session:
        threads = {t.number: t for t in session.scalars(select(Thread))}
        request_meeting(session, threads[2], None, runtime.clock.now())
        request_meeting(session, threads[5], None, runtime.clock.now())
        # 伴走 set in early October, no contact since: due for a check-in at the meeting.
        set_outcome(session, threads[4], None, Outcome.ACCOMPANYING, datetime(2026, 10, 1, tzinfo=JST))
        set_outcome(session, threads[7], None, Outcome.ACCOMPANYING, runtime.clock.now())
        retract(session, threads[6], runtime.clock.now())
        # 本人同意 あり for #2 #3 #5; #4 has none: the group sees its number, 分野 and 地区 only.
        for number in (2, 3, 5):
            set_consent(session, threads[number], None, Consent.YES, runtime.clock.now())

    assert "#3 を加えました" in kurume.alice.says(kurume.group, "議題追加 #3").text
    assert "#1 を外しました" in kurume.alice.says(kurume.group, "議題削除 #1").text
    assert "#99 の困りごとは見つかりませんでした" in kurume.alice.says(kurume.group, "議題追加 #99").text
    assert "議題追加 #12" in kurume.alice.says(kurume.group, "議題追加 十二番").text

    card = tick(world).to(kurume.group)

    agenda = card.text.split("議題（案）\n")[1].split("\n前回から")[0]
    assert agenda == (
        "#2［子ども］ひとり親家庭の夕食の支援を相談したい（会議で相談）\n"
        "#3［住まい］空き家の片付けの手伝い（追加）\n"
        "#4［孤立］（伴走の確認）\n"
        "#5［高齢］電話は［電話番号］の方、ゴミ出しに困っています（会議で相談）\n"
        "#6［その他］（取り消し済み）（応答なし）"
    )
    assert "前回から：新しい困りごと 7 件・終わった困りごと 0 件" in card.text
    at(runtime, "2026-11-24 14:00")
    summary = tick(world).to(kurume.alice.id).text
    assert "#5［高齢］電話は［電話番号］の方" in summary and "#1［" not in summary
    everything = str([d.messages for d in world.platform.deliveries()])
    for digits in ("1234", "１２３４", "5678", "５６７８", "取り消される投稿"):
        assert digits not in everything


def test_a_discussed_thread_gets_a_timeline_event_and_leaves_the_next_agenda(world, runtime, kurume):
    kurume.post(runtime, "通院の付き添い", category="高齢")
    kurume.post(runtime, "夕食の支援", category="子ども")
    flag(runtime, 1)
    with runtime.sessions.begin() as session:
        request_meeting(session, session.scalar(select(Thread).where(Thread.number == 2)), None, runtime.clock.now())
    at(runtime, "2026-11-25 16:00")  # after the meeting

    assert "会議記録は、世話役かコーディネーターの方に" in kurume.bob.says(kurume.group, "会議記録 #1").text
    recorded = kurume.alice.says(kurume.group, "会議記録 #1 #2")
    assert recorded.text == "11月25日（水）の会議で話し合った困りごととして #1、#2 を記録しました。"
    assert (
        kurume.alice.says(kurume.group, "会議記録 11/25 #2").text == "#2 は11月25日（水）の会議の記録にすでにあります。"
    )
    assert "会議記録 #12 #15" in kurume.alice.says(kurume.group, "会議記録 2026-12-23 #1").text  # not held yet
    assert "#9 の困りごとは見つかりませんでした" in kurume.alice.says(kurume.group, "会議記録 #9").text

    with read(runtime) as session:
        events = session.execute(
            select(Thread.number, ThreadEvent.detail)
            .join(ThreadEvent, ThreadEvent.thread_id == Thread.id)
            .where(ThreadEvent.kind == EventKind.DISCUSSED)
            .order_by(Thread.number)
        ).all()
    assert events == [(1, {"meeting": "2026-11-25"}), (2, {"meeting": "2026-11-25"})]

    at(runtime, "2026-12-16 14:00")
    card = tick(world).to(kurume.group)
    assert "いまのところ、話し合う困りごとはありません。" in card.text  # both were discussed since


# --- attendance ---------------------------------------------------------------------------------------
def test_attendance_is_one_answer_per_organization_and_the_last_one_wins(world, runtime, kurume):
    card = tick(world).to(kurume.group)
    kurume.bob.presses(kurume.group, card.button("出席"))
    answer = kurume.carol.presses(kurume.group, card.button("未定"))
    assert answer.text == "「東部地域包括支援センター」は11月25日（水）の会議に「未定」で承りました。"

    with read(runtime) as session:
        rows = session.scalars(select(MeetingAttendance)).all()
    assert [(r.organization_id, r.answer) for r in rows] == [(2, "maybe")]
    assert "出欠：出席0・欠席0・未定1・お返事まだ2" in kurume.dan.says(kurume.group, "会議").text

    stranger = world.person("Eve")
    kurume.group.add(stranger)
    assert "団体登録" in stranger.presses(kurume.group, card.button("出席")).text
    at(runtime, "2026-11-25 14:00")
    assert "もう始まっているか終わっています" in kurume.dan.presses(kurume.group, card.button("出席")).text


def test_an_organizer_who_is_not_a_friend_gets_the_attendance_list_in_the_group(world, runtime):
    net = Net(world, alice_is_friend=False)
    net.alice.says(net.group, "会議設定 毎月第4水曜 14:00 中央公民館")
    at(runtime, "2026-11-24 14:00")

    sent = tick(world)

    assert not sent.to(net.alice.id)
    assert "【会議の準備】11月25日（水）14:00" in sent.to(net.group).text
    assert "お返事まだ：子ども食堂ひまわり、東部地域包括支援センター、民生委員児童委員協議会" in sent.to(net.group).text


# --- the command line ---------------------------------------------------------------------------------
def test_meeting_set_and_show_on_the_command_line(tmp_path, capsys, runtime, net, database_url):
    from bot.cli.main import main

    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    base = ["--config", str(path), "meeting"]

    assert main([*base, "set", "--network", "1", "--rule", "隔月第2火曜 14:00", "--place", "市役所 3階"]) == 0
    out = capsys.readouterr().out
    assert "network 1: " in out and "月第2火曜 14:00" in out and "place: 市役所 3階" in out
    assert main([*base, "show", "--network", "1"]) == 0
    assert "place: 市役所 3階" in capsys.readouterr().out
    assert main([*base, "show", "--network", "9"]) == 2
    assert capsys.readouterr().err == "kasane: no network with id 9\n"
    assert main([*base, "set", "--network", "1", "--rule", "毎月32日 10:00"]) == 2
    assert "day of the month must be 1-28" in capsys.readouterr().err


# --- PostgreSQL -----------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_two_ticks_on_postgresql_send_each_reminder_once(line_server, platform, clock, request):
    require_postgres()
    url = request.getfixturevalue("postgres_migrated")
    from conftest import truncate_all

    from models.meeting import set_schedule
    from models.meeting_rule import parse_rule

    runtime = build_runtime(make_config(url, line_server.url), clock=clock)
    truncate_all(runtime.engine)
    with runtime.sessions.begin() as session:
        for n in range(8):
            group_id = f"C{n:032x}"
            platform.add_group(group_id, f"net {n}")
            network = Network(group_id=group_id, name=f"net {n}", created_at=clock.now())
            session.add(network)
            session.flush()
            set_schedule(session, network, parse_rule("毎月第4水曜 14:00"), "公民館", None, None, clock.now())

    for moment in ("2026-11-24 10:00", "2026-11-24 14:00", "2026-11-25 08:30"):
        at(runtime, moment)
        assert ticks_at_once(runtime) == []
    runtime.sender.drain()

    delivered = [d.to for d in platform.deliveries()]
    # week card, day reminder, organizer summary in the group (no organizer), morning: 4 per network
    # (groups Kasane knows no member of: a push there is cheap, so nothing waits for a reply)
    assert sorted(delivered) == sorted(f"C{n:032x}" for n in range(8) for _ in range(4))
    runtime.sender.gateway.close()
    truncate_all(runtime.engine)
    runtime.engine.dispose()
