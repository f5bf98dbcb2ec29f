"""LINE misbehaves for a while (429 with Retry-After, 500/503, timeouts before and after it took
the message, connection refused), then recovers: every answer is delivered exactly once, in
order per chat, with the backoff in the logs. A message LINE refuses for good shows in
``kasane outbox``.

In-process with a controlled clock, so the sender's backoff (up to 5 minutes) costs no real time;
timeouts are real (the client's timeout is 0.5 s here). The fake platform is served over HTTP
on loopback, so the bot's LINE client sees real refused connections and real timeouts.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from conftest import SECRET, TOKEN, make_config
from sqlalchemy import func, select

from bot.fakeline import FakeLineServer
from bot.fakeline.api import RATE_LIMITED
from faults import check_outbox_delivered, free_port, write_config
from models import OutboxMessage

# The sender runs as in production (run_forever in a thread); world.deliver() waits for it to settle.
pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("production_sender")]

RETRY_LOG = re.compile(r"outbox #(\d+): (.*) \((\d+)\); retry (\d+) in ([\d.]+)s")


@pytest.fixture
def config(database_url, line_server):
    # A short client timeout keeps the timeout faults quick.
    return make_config(database_url, line_server.url, line={"request_timeout": 0.5})


@pytest.fixture
def net(world):
    """Two networks; in each, a poster who follows the bot (so answers also reach them 1:1) and a helper."""
    groups = []
    for name in ("東ネット", "西ネット"):
        group = world.group(name)
        world.invite_bot(group)
        poster, helper = world.person(f"{name}の投稿者"), world.person(f"{name}の支援者")
        group.add(poster, helper)
        poster.follows_bot()
        poster.says(group, "団体登録 子ども食堂ひまわり")
        helper.says(group, "団体登録 東部地域包括支援センター フォーマル")
        groups.append((group, poster, helper))
    world.deliver()
    return groups


def talk(world, net, round_: int) -> None:
    """Each network: a trouble, a 伝手 (to the group, and 1:1 to the poster), a typed offer and a list."""
    for group, poster, helper in net:
        event = world.line.text(group.id, poster.id, f"困りごと 第{round_}便：配食サービスを探しています")
        world.send(event)
        n = thread_count(world)  # numbers are per network
        helper.says(group, f"#{n[group.id]} 伝手 社協の配食があります（第{round_}便）")
        helper.says(group, f"#{n[group.id]} 手伝えます 車を出せます（第{round_}便）")
        poster.says(group, "一覧")


def thread_count(world) -> dict[str, int]:
    from models import Network

    with world.runtime.sessions() as session:
        return {n.group_id: n.thread_counter for n in session.scalars(select(Network))}


def recover(world, rounds: int = 100) -> int:
    """Let time pass as the sender needs it: let it settle, then move the clock to the next retry
    (a row's backoff), until nothing is pending. Reply tokens age with the same clock."""
    clock = world.runtime.clock
    for n in range(rounds):
        world.runtime.inbox.drain()
        world.send_outbox()
        with world.runtime.sessions() as session:
            due = session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > clock.now()
                )
            )
            left = session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending"))
        if not left:
            return n
        clock.set(due + timedelta(milliseconds=10) if due is not None else clock.now() + timedelta(seconds=1))
    raise AssertionError(f"still pending after {rounds} rounds: {pending(world)}")


def pending(world) -> list[tuple[int, str, str | None]]:
    with world.runtime.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        return [(r.id, r.chat_id, r.last_error) for r in rows]


def retries(caplog) -> list[tuple[int, str, int, int, float]]:
    found = []
    for record in caplog.records:
        match = RETRY_LOG.search(record.getMessage())
        if match:
            row, reason, status, attempt, delay = match.groups()
            found.append((int(row), reason, int(status), int(attempt), float(delay)))
    return found


FAULTS = {
    "500": lambda platform, server: platform.fail_next(6, status=500),
    "503": lambda platform, server: platform.fail_next(6, status=503, message="Service Unavailable"),
    "429 with Retry-After": lambda platform, server: platform.fail_next(
        6, status=429, message=RATE_LIMITED, headers={"Retry-After": "7"}
    ),
    "timeout, not processed": lambda platform, server: platform.timeout_next(3, seconds=0.8, processed=False),
    "timeout, processed (answer lost)": lambda platform, server: platform.timeout_next(3, seconds=0.8, processed=True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_line_failing_for_a_while_then_recovering_delivers_everything_once_in_order(
    world, net, platform, line_server, engine, caplog, fault
):
    caplog.set_level(logging.INFO)
    FAULTS[fault](platform, line_server)
    talk(world, net, 1)
    talk(world, net, 2)
    recover(world)

    delivered = check_outbox_delivered(engine, platform)
    seen = retries(caplog)
    assert seen, "the backoff shows in the logs"
    if fault.startswith("429"):
        # LINE's Retry-After is a floor for the backoff.
        rate_limited = [r for r in seen if r[2] == 429]
        assert rate_limited and all(delay >= 7.0 for *_, delay in rate_limited)
    if fault.startswith("timeout, processed"):
        # LINE took it, the answer was lost: a retried push gets 409, a retried reply finds its token used.
        assert delivered.conflicts or "reply token already used by an earlier attempt" in caplog.text


def test_connection_refused_then_back_on_the_same_port(world, net, platform, line_server, engine, caplog):
    caplog.set_level(logging.INFO)
    line_server.stop()
    talk(world, net, 1)
    world.runtime.clock.advance(timedelta(minutes=6))
    world.send_outbox()
    errors = {error for _, _, error in pending(world) if error}
    assert errors and all("connection" in e for e in errors), errors

    with FakeLineServer(platform, port=line_server.port):
        talk(world, net, 2)
        recover(world)
        check_outbox_delivered(engine, platform)
    assert any("connection failed" in r[1] for r in retries(caplog))


def test_every_fault_in_turn_keeps_order_and_exactly_once(world, net, platform, line_server, engine, caplog):
    """429, 500, lost answers, unprocessed timeouts and an outage, one after the other, with traffic throughout."""
    caplog.set_level(logging.INFO)
    platform.fail_next(2, status=429, message=RATE_LIMITED, headers={"Retry-After": "3"})
    platform.fail_next(2, status=500)
    platform.timeout_next(2, seconds=0.8, processed=True, endpoint="push")  # (lost reply answers: the tests below)
    platform.timeout_next(1, seconds=0.8, processed=False)
    talk(world, net, 1)
    line_server.stop()
    talk(world, net, 2)
    world.runtime.clock.advance(timedelta(minutes=3))
    world.send_outbox()
    with FakeLineServer(platform, port=line_server.port):
        platform.fail_next(3, status=503, message="Service Unavailable")
        talk(world, net, 3)
        recover(world)
        delivered = check_outbox_delivered(engine, platform)
    assert max(attempt for _, _, _, attempt, _ in retries(caplog)) >= 2, "some message was retried several times"
    assert delivered.deliveries == len(delivered.rows)


def test_message_refused_for_good_is_failed_and_listed_by_kasane_outbox(
    world, net, platform, engine, database_url, line_server, tmp_path, capsys
):
    from bot.cli.main import main

    (group, poster, helper), (other, _, _) = net
    poster.says(group, "困りごと 配食サービスを探しています")
    platform.monthly_limit_reached()
    world.runtime.clock.advance(timedelta(minutes=2))  # reply tokens expired: these go by push
    world.post(body_of(world, helper, group, "#1 伝手 社協の配食があります"))
    world.runtime.clock.advance(timedelta(minutes=2))
    recover(world)
    platform.monthly_limit_reached(False)
    platform.remove_group(other.id)  # the bot was removed: LINE answers 400 to a push there
    world.post(body_of(world, helper, other, "一覧"))
    world.runtime.clock.advance(timedelta(minutes=2))
    recover(world)
    poster.says(group, "一覧")  # the chat is not blocked by its failed message

    with world.runtime.sessions() as session:
        failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
    reasons = {row.chat_id: row.last_error for row in failed}
    assert any("monthly limit" in (reason or "") for reason in reasons.values()), reasons
    assert reasons.get(other.id, "").startswith("rejected: 400"), reasons
    check_outbox_delivered(engine, platform, allow_failed=True)  # the rest went out once, in order

    config = write_config(
        tmp_path / "kasane.toml",
        database_url=database_url,
        line_url=line_server.url,
        port=free_port(),
        secret=SECRET,
        token=TOKEN,
    )
    capsys.readouterr()
    assert main(["--config", str(config), "outbox"]) == 0
    listing = capsys.readouterr().out
    for row in failed:
        line = next(line for line in listing.splitlines() if line.startswith(f"{row.id}\t"))
        assert "\tfailed\t" in line and row.chat_id in line and (row.last_error or "")[:20] in line
    assert "\tpending\t" not in listing


def body_of(world, person, group, text: str) -> bytes:
    from bot.fakeline import encode_body

    return encode_body(world.line.payload(world.line.text(group.id, person.id, text)))


# --- the reply whose answer was lost -----------------------------------------------------------
# LINE took a reply, the answer never came back (timeout). A reply token is single use, so the
# sender keeps ``reply_state=attempted`` and, on the retry, reads "Invalid reply token" as "our
# earlier call used it". Two ways that memory could be lost, each checked to deliver once:


def test_lost_reply_answer_then_a_500_on_the_retry_is_not_delivered_twice(world, net, platform, engine):
    group, poster, _ = net[0]
    platform.timeout_next(1, seconds=0.8, processed=True, endpoint="reply")  # delivered, answer lost
    platform.fail_next(1, status=500, endpoint="reply")  # the retry 1 s later: LINE hiccups
    world.post(body_of(world, poster, group, "ヘルプ"))
    recover(world)  # third try: "Invalid reply token" now reads as "rejected", so it pushes
    assert len([d for d in platform.deliveries(group.id) if "【使い方】" in str(d.messages)]) == 1


# An answer whose reply outcome is unknown when its token expires is not pushed (most likely LINE
# took it; at worst the member asks again): tests/test_stale_answers.py. A notice still is.
def test_lost_reply_answer_then_a_long_outage_is_not_delivered_twice(world, net, platform, line_server, engine):
    """The reply's answer is lost and LINE stays away past the token's deadline: an answer (not a
    notice) is then dropped rather than pushed, so it arrives once, by the reply LINE took."""
    group, poster, _ = net[0]
    platform.timeout_next(1, seconds=0.8, processed=True, endpoint="reply")
    world.post(body_of(world, poster, group, "ヘルプ"))
    world.runtime.inbox.drain()
    world.send_outbox()  # LINE delivers it; the answer is lost
    line_server.stop()  # then LINE is unreachable for two minutes: the token's deadline passes
    for _ in range(8):
        world.send_outbox()
        world.runtime.clock.advance(timedelta(seconds=15))
    with FakeLineServer(platform, port=line_server.port):
        recover(world)
    copies = [d.via for d in platform.deliveries(group.id) if "【使い方】" in str(d.messages)]
    assert copies, "the message was lost"
    assert copies == ["reply"]
