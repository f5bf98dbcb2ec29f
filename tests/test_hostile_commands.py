"""Hostile chat commands: every command with missing, extra and malformed parts, numbers out of
range, another network's thread numbers, unregistered senders, 1:1 chats where a group is needed.

The bot answers in short Japanese (or stays silent where that is right: an unregistered sender's
second message, a button with a value no card ever carried), the network's state is unchanged,
and never the generic apology "すみません、うまく処理できませんでした" (that means a handler crashed).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.fakeline import encode_body, new_group_id, new_room_id
from bot.replies import messages
from models import Base

HOSTILE = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Tables the bot writes for every event it answers (the event id, the answer): not "state".
# The bot's own bookkeeping; "friends" too: any 1:1 message shows LINE that the person follows the
# bot (issue 17), which is a fact about their LINE account, not a change a command made.
BOOKKEEPING = {"webhook_events", "outbox", "sent_messages", "friends", "message_ledger", "message_quota"}
SILENCE = None


def state(engine) -> str:
    """The networks' state: every table but the bot's own bookkeeping."""
    out = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            order = ", ".join(c.name for c in table.primary_key.columns) or "1"
            rows = connection.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}")).all()
            out.append(f"{table.name}: {[tuple(r) for r in rows]}")
    return "\n".join(out)


@pytest.fixture
def net(world):
    """Network A: Alice (organizer), Bob (formal), Carol (poster of #1), Dave (in the group, not registered).
    Network B: Eve, with threads #1 and #2."""
    a = world.group("Aネット")
    world.invite_bot(a)
    alice, bob, carol, dave = (world.person(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    a.add(alice, bob, carol, dave)
    alice.says(a, "団体登録 子ども食堂ひまわり")
    bob.says(a, "団体登録 東部地域包括支援センター フォーマル")
    carol.says(a, "団体登録 民生委員の会")
    carol.says(a, "困りごと 配食サービスを探しています")
    b = world.group("Bネット")
    world.invite_bot(b)
    eve = world.person("Eve")
    b.add(eve)
    eve.says(b, "団体登録 NPOつばさ")
    eve.says(b, "困りごと 見守りの必要な方がいます")
    eve.says(b, "困りごと 買い物に困っている方がいます")
    world.deliver()
    return {"A": a, "B": b, "alice": alice, "bob": bob, "carol": carol, "dave": dave, "eve": eve}


def answer_of(world, event):
    """Send one event; the bot's answer (texts) and the HTTP status."""
    response = world.post(encode_body(world.line.payload(event)))
    return response.status_code, world.deliver()


def check(answer, status, expected) -> None:
    assert status == 200
    said = answer.text
    assert messages.SORRY_FAILED not in said, "a handler crashed"
    if expected is SILENCE:
        assert not answer, f"expected silence, got {said!r}"
    else:
        assert expected in said, f"expected {expected!r} in {said!r}"
        assert JAPANESE.search(said)


NOT_FOUND = "の困りごとは、このネットワークに見つかりませんでした"
TEXTS = [
    # who, where, what, expected (a piece of the answer, or SILENCE)
    ("bob", "A", "#0 解決", "#0 " + NOT_FOUND),
    ("bob", "A", "#999999999 解決", "#999999999 " + NOT_FOUND),
    ("bob", "A", "＃０００１　解決", "を記録できるのは"),  # full width, leading zeros: still #1, not Bob's
    ("bob", "A", "#2 解決", "#2 " + NOT_FOUND),  # #2 exists, in network B only
    ("bob", "A", "#2 伝手 社協にあります", "#2 " + NOT_FOUND),
    ("bob", "A", "#2", "#2 " + NOT_FOUND),
    ("bob", "A", "#1 解決", "#1 の結果を記録できるのは"),
    ("bob", "A", "#1 取り下げ", "#1 の結果を記録できるのは"),
    ("bob", "A", "#1 再開", "#1 の結果を記録できるのは"),
    ("carol", "A", "#1 再開", "#1 は受付中です"),
    ("carol", "A", "#1 つなぎ", "つなぎ先を選ぶか"),
    ("carol", "A", "#1 終了", "終了する理由を選ぶか"),
    ("bob", "A", "#1 よろしく", "「#1 よろしく」は分かりませんでした"),
    ("bob", "A", "#1 解決済み", "は分かりませんでした"),
    ("bob", "A", "#1 伝手", "返信の形：#1 伝手 内容"),
    ("bob", "A", "#1 手伝えます", "返信の形"),
    ("bob", "A", "#1 伝手 " + "い" * 501, "文章が長すぎます"),
    ("bob", "A", "困りごと", "困りごとは、次のように送ってください"),
    ("bob", "A", "困りごと　", "困りごとは、次のように送ってください"),
    ("bob", "A", "困りごと " + "あ" * 1001, "少し長すぎます"),
    ("bob", "A", "団体登録", "団体登録の形は次のとおりです"),
    ("bob", "A", "団体登録 フォーマル", "団体登録の形は次のとおりです"),
    ("bob", "A", "団体登録 " + "団" * 51, "団体名が長すぎます"),
    ("bob", "A", "地区登録 南校区", "世話役の方のみ"),
    ("alice", "A", "地区登録", "地区登録の形"),
    ("alice", "A", "地区登録 、 , ", "地区登録の形"),
    ("dave", "A", "#1 解決", "#1 の結果を記録できるのは"),
    ("bob", "A", "事例集", "形：事例集 名前を出す"),
    ("bob", "A", "事例集 名前を出す 子ども食堂ひまわり", "ほかの団体の分を記録できるのは世話役の方です"),
    ("alice", "A", "事例集 名前を出さない", "もともと事例集に名前を出していません"),
    ("alice", "A", "事例集 名前を出す 090-1234-5678", "「［電話番号］」という団体は登録されていません"),
    # 1:1 chats, where a group is needed
    ("bob", None, "困りごと 配食サービスを探しています", "グループの中でお願いします"),
    ("bob", None, "団体登録 子ども食堂ひまわり", "グループの中で送ってください"),
    ("bob", None, "一覧", "グループの中でお願いします"),
    ("bob", None, "#1", "グループの中でお願いします"),
    ("bob", None, "#1 解決", "グループの中でお願いします"),
    ("bob", None, "#1 伝手 社協にあります", "グループの中でお願いします"),
    ("bob", None, "地区登録 南校区", "グループの中でお願いします"),
    ("bob", None, "ヘルプ", "使い方"),
    # typed like a command, but not one: a group chat is mostly people talking to each other
    ("bob", "A", "#-1 解決", SILENCE),
    ("bob", "A", "#1.5 解決", "「#1 .5」は分かりませんでした"),
]
UX_SILENT = [
    # A number too long for the #N pattern (10+ digits) is silently ignored: defensible, but the
    # sender typed a command and hears nothing. Reported, not asserted as a bug.
    ("bob", "A", "#99999999999 解決"),
    ("bob", "A", "#1234567890"),
]


def run_cases(world, net, engine, cases, event_of) -> list[str]:
    """Each case in turn on one network (one set-up, many cases): the failures, described."""
    failures = []
    for who, where, what, expected in cases:
        person = net[who]
        chat = net[where].id if where else person.id
        before = state(engine)
        status, answer = answer_of(world, event_of(chat, person.id, what))
        try:
            check(answer, status, expected)
            if who != "dave":  # an unregistered sender's first message marks them as told
                assert state(engine) == before, "the state changed"
        except AssertionError as error:
            failures.append(f"{who} in {where or '1:1'}: {what[:40]!r}: {str(error).splitlines()[0][:200]}")
    return failures


def test_bad_text_commands_get_a_clear_answer_and_change_nothing(world, net, engine):
    failures = run_cases(world, net, engine, TEXTS, world.line.text)
    assert not failures, "\n".join(failures)


def test_overlong_thread_numbers_are_ignored_without_a_crash(world, net, engine):
    for who, where, said in UX_SILENT:
        before = state(engine)
        status, answer = answer_of(world, world.line.text(net[where].id, net[who].id, said))
        assert status == 200 and messages.SORRY_FAILED not in answer.text
        assert state(engine) == before


POSTBACKS = [
    ("bob", "A", "a=t.connect", NOT_FOUND),  # no number at all
    ("bob", "A", "a=t.connect&n=abc", "#abc " + NOT_FOUND),
    ("bob", "A", "a=t.connect&n=0", "#0 " + NOT_FOUND),
    ("bob", "A", "a=t.connect&n=-1", "#-1 " + NOT_FOUND),
    ("bob", "A", "a=t.offer&n=2", "#2 " + NOT_FOUND),  # network B's number
    ("bob", "A", "a=t.watch&n=", NOT_FOUND),
    ("bob", "A", "a=t.meeting&n=%E2%91%A0", NOT_FOUND),  # ① (a digit to isdigit(), not to int())
    ("bob", "A", "a=t.areas&n=1", "地区がまだ登録されていません"),
    ("bob", "A", "a=t.area&n=1&r=存在しない地区", "地区がまだ登録されていません"),
    ("bob", "A", "a=t.outcome&n=1&o=resolved", "#1 の結果を記録できるのは"),
    ("bob", "A", "a=t.refer&n=1&i=0", "#1 の結果を記録できるのは"),
    ("carol", "A", "a=t.outcome&n=1&o=bogus", SILENCE),
    ("carol", "A", "a=t.outcome&n=1", SILENCE),
    ("carol", "A", "a=t.category&n=1&c=宇宙", SILENCE),
    ("carol", "A", "a=t.category&n=1", SILENCE),
    ("carol", "A", "a=t.refer&n=1&i=99", SILENCE),
    ("carol", "A", "a=t.refer&n=1&i=-1", SILENCE),
    ("carol", "A", "a=t.end&n=1&i=abc", SILENCE),
    ("bob", "A", "a=t.consentmenu&n=1", "#1 の本人同意を記録できるのは"),
    ("bob", "A", "a=t.consent&n=1&v=yes", "#1 の本人同意を記録できるのは"),
    ("carol", "A", "a=t.consent&n=1&v=maybe", SILENCE),
    ("carol", "A", "a=t.consent&n=1", SILENCE),
    ("carol", "A", "a=t.catdel&n=1&c=宇宙", SILENCE),
    ("carol", "A", "a=t.catdel&n=1&c=その他", "#1 の分野は一つ以上必要です"),
    ("bob", "A", "a=t.unknown&n=1", SILENCE),
    ("bob", "A", "", SILENCE),
    ("bob", "A", "a", SILENCE),
    ("bob", "A", "%ZZ%%&&==", SILENCE),
    ("bob", "A", "a=t.connect&n=1&n=abc", "#abc " + NOT_FOUND),  # the last value wins
    ("dave", "A", "a=t.connect&n=1", "団体の登録が必要です"),
    ("bob", None, "a=t.connect&n=1", "グループの中でお願いします"),
    ("bob", None, "a=t.outcome&n=1&o=resolved", "グループの中でお願いします"),
]
BIG_NUMBER_BUG = (
    "BUG: a thread number past the integer column crashes the handler (SQLite: OverflowError past 2**63, "
    "apology) or is a DataError taken for an outage (PostgreSQL: past 2**31, 500 for ever)"
)


def test_bad_postbacks_get_a_clear_answer_or_silence_and_change_nothing(world, net, engine):
    failures = run_cases(world, net, engine, POSTBACKS, world.line.postback)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "number",
    [
        "3000000000",
        "99999999999999999999",
        "9" * 290,  # LINE: data ≤ 300
    ],
)
def test_huge_thread_numbers_in_buttons_are_not_found(world, net, engine, number):
    for action in ("t.connect", "t.offer", "t.watch", "t.meeting", "t.areas", "t.outcome"):
        before = state(engine)
        extra = "&o=resolved" if action == "t.outcome" else ""
        data = f"a={action}&n={number}{extra}"
        status, answer = answer_of(world, world.line.postback(net["A"].id, net["carol"].id, data))
        check(answer, status, NOT_FOUND)
        assert state(engine) == before


def test_unregistered_sender_is_told_once_then_silence(world, net, engine):
    dave, a = net["dave"], net["A"]
    before = state(engine)
    status, first = answer_of(world, world.line.text(a.id, dave.id, "困りごと 誰かが困っています"))
    check(first, status, "団体の登録が必要です")
    for said in ("困りごと もう一度", "#1 伝手 社協", "#1 手伝えます 土曜に"):
        status, again = answer_of(world, world.line.text(a.id, dave.id, said))
        check(again, status, SILENCE)
    status, pressed = answer_of(world, world.line.postback(a.id, dave.id, "a=t.watch&n=1"))
    check(pressed, status, SILENCE)
    with engine.connect() as connection:
        threads = connection.execute(text("SELECT count(*) FROM threads")).scalar()
    assert threads == 3  # A's #1, B's #1 and #2: nothing from Dave
    assert state(engine) != before  # Dave is marked as told, nothing else


def test_groups_the_bot_does_not_know_and_senders_without_a_user_id(world, net, engine):
    before = state(engine)
    stranger = world.person("Frank")
    unknown_group, room = new_group_id(), new_room_id()
    for chat in (unknown_group, room):
        world.platform.add_group(chat, "知らないグループ")
        world.platform.add_member(chat, stranger.id, "Frank")
        for said in ("困りごと 配食サービスを探しています", "一覧", "#1 解決"):
            status, answer = answer_of(world, world.line.text(chat, stranger.id, said))
            check(answer, status, "まだネットワークとして登録されていません")
    a = net["A"]
    status, answer = answer_of(world, world.line.text(a.id, None, "困りごと 配食サービスを探しています"))
    check(answer, status, "送り主が分からない")
    status, answer = answer_of(world, world.line.text(a.id, None, "団体登録 子ども食堂ひまわり"))
    check(answer, status, "送り主が分からない")
    assert state(engine) == before


COMMANDS = [
    "困りごと",
    "#1 伝手",
    "#1 手伝えます",
    "#1 解決",
    "#1 緩和",
    "#1 つなぎ",
    "#1 伴走",
    "#1 終了",
    "#1 取り下げ",
    "#1 再開",
    "#1",
    "一覧",
    "団体登録",
    "地区登録",
    "ヘルプ",
    "#2",
    "#0",
    "＃１",
]


@HOSTILE
@given(
    command=st.sampled_from(COMMANDS),
    rest=st.text(max_size=80) | st.text(st.characters(min_codepoint=0x3000, max_codepoint=0x30FF), max_size=20),
    who=st.sampled_from(["alice", "bob", "carol", "dave"]),
    one_to_one=st.booleans(),
)
def test_any_command_with_any_text_never_crashes(world, net, command, rest, who, one_to_one):
    person = net[who]
    chat = person.id if one_to_one else net["A"].id
    status, answer = answer_of(world, world.line.text(chat, person.id, f"{command} {rest}"))
    assert status == 200
    assert messages.SORRY_FAILED not in answer.text, (command, rest)
    assert not answer or JAPANESE.search(answer.text)


@HOSTILE
@given(
    action=st.sampled_from(
        [
            "t.connect",
            "t.offer",
            "t.watch",
            "t.meeting",
            "t.category",
            "t.area",
            "t.areas",
            "t.outcome",
            "t.refer",
            "t.end",
            "t.consentmenu",
            "t.consent",
            "t.catmenu",
            "t.catadd",
            "t.catdel",
            "x",
            "",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(["n", "c", "r", "o", "i", "v", "a", "zz"]),
        st.text(max_size=30) | st.integers().map(str),
        max_size=4,
    ),
    who=st.sampled_from(["alice", "bob", "carol", "dave"]),
)
def test_any_postback_never_crashes(world, net, action, params, who):
    from urllib.parse import urlencode

    data = urlencode({"a": action, **{k: v for k, v in params.items() if k != "a"}})
    status, answer = answer_of(world, world.line.postback(net["A"].id, net[who].id, data))
    assert status == 200
    assert messages.SORRY_FAILED not in answer.text, data
