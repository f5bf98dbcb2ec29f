"""PostgreSQL goes away while events arrive: the webhook answers 500 (so LINE redelivers), nothing
is half-written, and after recovery everything is consistent.

Why a proxy and not ``pg_ctlcluster … restart``: restarting the real server in CI would break
every other test that shares it in the same step, and a restart's timing cannot be aimed. A TCP
proxy between Kasane and PostgreSQL (``faults.TcpProxy``) shows the application exactly what a
crashed or restarting server shows it (open connections reset, new ones refused, then accepted
again) and can cut at a chosen byte: just before a statement reaches the server, or just after
``COMMIT`` reached it but before the answer came back (committed, yet the application saw an error).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES, require_postgres, truncate_all
from harness import RunningSender, eventually
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, encode_body
from bot.store.db import make_engine
from faults import (
    Conversation,
    KasaneProcess,
    TcpProxy,
    check_conversation,
    drive,
    fault_seed,
    fork_context,
    free_port,
    http_get,
    postgres_address,
    via_proxy,
    wait_until_sent,
    write_config,
)
from models import OutboxMessage

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

OUTAGES = 10


@pytest.fixture
def postgres(request):
    require_postgres()
    if not USING_POSTGRES:
        pytest.skip("runs in the PostgreSQL pass (KASANE_TEST_DATABASE=postgres), once per CI run")
    url = request.getfixturevalue("postgres_migrated")
    engine = make_engine(url)
    truncate_all(engine)
    yield url, engine
    engine.dispose()


@pytest.fixture
def proxy(postgres):
    proxy = TcpProxy(*postgres_address(postgres[0])).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def database_url(postgres, proxy):
    """The application reaches PostgreSQL only through the proxy (the checks use ``direct``)."""
    return via_proxy(postgres[0], proxy)


@pytest.fixture
def direct(postgres):
    return postgres[1]


@pytest.fixture
def net(world):
    group = world.group()
    world.invite_bot(group)
    carol, bob = world.person("Carol"), world.person("Bob")
    group.add(carol, bob)
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    world.deliver()
    return group, carol, bob


def fresh_connections(world) -> None:
    """psycopg prepares a statement after a few runs and then stops sending its text: start new
    connections so the proxy can recognise the statement it is told to cut at."""
    world.runtime.engine.dispose()
    world.runtime.door.writer.close()  # the webhook's own connection too


def send_until_sent(running, direct, timeout: float = 30.0) -> None:
    """Let the running sender (production's loop) work until nothing is pending. The server ends a cut
    connection's backend (and its row locks, which SKIP LOCKED steps over) a moment after the cut, in real time."""
    eventually(
        lambda: (running.settle(), not count(direct, "SELECT count(*) FROM outbox WHERE status = 'pending'"))[1],
        timeout,
        "nothing pending",
    )


def count(engine, sql: str, **params) -> int:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def post(world, event) -> int:
    return world.post(encode_body(world.line.payload(event))).status_code


@pytest.mark.parametrize("where", ["statement never arrives", "committed, answer lost"])
def test_outage_while_the_webhook_records_answers_500_and_the_redelivery_acts_once(world, net, proxy, direct, where):
    group, carol, _ = net
    event = world.line.text(group.id, carol.id, "困りごと 配食サービスを探しています")
    fresh_connections(world)
    # The door's batch is one statement in autocommit: the statement is its commit.
    if where == "statement never arrives":
        proxy.drop_on(b"INSERT INTO inbox")
    else:
        proxy.cut_on(b"INSERT INTO inbox")

    assert post(world, event) == 500  # LINE will redeliver
    assert proxy.fired.is_set() and not proxy.is_up
    committed = where == "committed, answer lost"
    assert count(direct, "SELECT count(*) FROM inbox") == int(committed), "all or nothing"
    assert world.client.get("/healthz").status_code == 503
    assert post(world, world.line.redelivery(event)) == 500  # still down: still 500, nothing written

    proxy.restore()
    assert post(world, world.line.redelivery(event)) == 200
    assert count(direct, "SELECT count(*) FROM inbox") == 1  # the copy already kept, or the redelivery
    answer = world.deliver()
    assert count(direct, "SELECT count(*) FROM threads") == 1
    assert count(direct, "SELECT count(*) FROM thread_events WHERE kind = 'posted'") == 1
    assert [t for t in answer.texts if t.startswith("#1 困りごと")], answer.texts
    assert len([d for d in world.platform.deliveries(group.id) if "#1 困りごと" in str(d.messages)]) == 1


@pytest.mark.parametrize("where", ["statement never arrives", "committed, answer lost"])
def test_outage_while_the_worker_handles_leaves_nothing_half_done_and_nothing_twice(world, net, proxy, direct, where):
    group, carol, _ = net
    event = world.line.text(group.id, carol.id, "困りごと 配食サービスを探しています")
    key = event["webhookEventId"]
    assert post(world, event) == 200
    fresh_connections(world)
    if where == "statement never arrives":
        proxy.drop_on(b"INSERT INTO threads")
    else:
        proxy.cut_on(b"COMMIT")

    with pytest.raises(OperationalError):  # the worker's loop logs it, waits and tries again
        world.runtime.inbox.run_once()
    committed = where == "committed, answer lost"
    assert count(direct, "SELECT count(*) FROM threads") == int(committed), "all or nothing"
    assert count(direct, "SELECT count(*) FROM webhook_events WHERE event_key = :k", k=key) == int(committed)
    assert count(direct, "SELECT count(*) FROM inbox") == int(not committed)

    proxy.restore()
    # The cut connection's backend (and the inbox's advisory lock it held) ends a moment later.
    deadline = time.monotonic() + 10
    while count(direct, "SELECT count(*) FROM inbox") and time.monotonic() < deadline:
        world.runtime.inbox.drain()
        time.sleep(0.05)
    world.deliver()
    assert count(direct, "SELECT count(*) FROM threads") == 1
    assert count(direct, "SELECT count(*) FROM inbox") == 0
    assert len([d for d in world.platform.deliveries(group.id) if "#1 困りごと" in str(d.messages)]) == 1


def test_sender_survives_an_outage_and_sends_each_message_once(world, net, proxy, direct):
    group, carol, bob = net
    posted = world.line.text(group.id, carol.id, "困りごと 見守りの必要な方がいます")
    world.post(encode_body(world.line.payload(posted)))
    world.post(encode_body(world.line.payload(world.line.text(group.id, bob.id, "#1 伝手 民生委員さんに相談します"))))
    world.runtime.inbox.drain()
    before = len(world.platform.deliveries(group.id))
    fresh_connections(world)
    proxy.cut_on(b"UPDATE outbox SET status")  # the "sent" mark, written after LINE took the message
    with RunningSender(world.runtime.sender) as running:  # production's loop: it logs the failed round, carries on
        eventually(proxy.fired.is_set, what="the round recording the delivery is cut")
        assert len(world.platform.deliveries(group.id)) > before  # LINE has it; the database says pending
        assert count(direct, "SELECT count(*) FROM outbox WHERE status = 'pending'")
        proxy.restore()
        world.runtime.clock.advance(timedelta(seconds=31))  # the dead attempt's lease expires
        send_until_sent(running, direct)
    with world.runtime.sessions() as session:
        statuses = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    assert dict(statuses) == {"sent": count(direct, "SELECT count(*) FROM outbox")}
    cards = [d for d in world.platform.deliveries(group.id) if "#1 困りごと" in str(d.messages)]
    assert len(cards) == 1


def test_database_blip_while_claiming_does_not_fail_the_message(world, net, proxy, direct):
    group, carol, _ = net
    world.post(encode_body(world.line.payload(world.line.text(group.id, carol.id, "ヘルプ"))))
    world.runtime.inbox.drain()
    # The sender's claim (which also marks the reply attempted) is cut; the database is back a moment later.
    fresh_connections(world)
    proxy.drop_on(b"UPDATE outbox SET reply_state", restore_after=True)
    with RunningSender(world.runtime.sender) as running:  # production's loop
        eventually(proxy.fired.is_set, what="the claim is cut")
        send_until_sent(running, direct)  # the cut claim's row lock goes with its backend, a moment later
    failed = count(direct, "SELECT count(*) FROM outbox WHERE status = 'failed'")
    assert failed == 0, "the message was marked failed ('invalid request: OperationalError') and never sent"
    assert len([d for d in world.platform.deliveries(group.id) if "【使い方】" in str(d.messages)]) == 1


def test_outages_while_a_conversation_arrives(tmp_path, postgres, proxy):
    """A real ``kasane serve`` reaches PostgreSQL through the proxy; ten outages (0.3–1.2 s) hit it at
    random moments, half of them right after a COMMIT reached the server."""
    url, direct = postgres
    seed = fault_seed("postgres outages")
    rng = random.Random(seed)
    platform = FakeLinePlatform(TOKEN)
    with FakeLineServer(platform) as line_server:
        conversation = Conversation(platform, groups=2, posts=8, seed=seed)
        line = WebhookBuilder(platform)
        port = free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=via_proxy(url, proxy),
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
            lease_seconds=2.0,
        )
        server = KasaneProcess(config, port=port, log_dir=tmp_path)
        fork_context()
        server.start(fork=True)
        server.wait_healthy()
        width = (len(conversation) - 3) / OUTAGES
        plan = {2 + int(n * width + rng.uniform(0, width - 1)): rng.choice(["now", "commit"]) for n in range(OUTAGES)}
        outages: list[threading.Thread] = []
        health: list[int | None] = []

        def outage(kind: str) -> None:
            if kind == "now":
                time.sleep(rng.uniform(0, 0.03))
                proxy.cut()
            else:  # right after a COMMIT of the worker or the sender (the door's own write: the test above)
                proxy.cut_on(b"COMMIT")
                if not proxy.fired.wait(5):
                    proxy.disarm()
                    return
            health.append(http_get(server.url + "/healthz", timeout=5)[0])
            time.sleep(rng.uniform(0.3, 1.2))
            proxy.restore()

        def before_post(index: int) -> None:
            if index in plan:
                for thread in outages:
                    thread.join()
                thread = threading.Thread(target=outage, args=(plan[index],))
                thread.start()
                outages.append(thread)

        try:
            stats = drive(
                conversation,
                line,
                SECRET,
                lambda: server.url,
                before_post=before_post,
                on_unacknowledged=lambda i, s: time.sleep(0.2),
            )
            for thread in outages:
                thread.join()
            if not proxy.is_up:
                proxy.restore()
            wait_until_sent(direct, alive=lambda: server.alive)
            assert server.stop() == 0
            figures = check_conversation(direct, conversation, platform)
        finally:
            server.stop()
    logs = server.logs()
    assert proxy.cuts >= OUTAGES
    assert stats.statuses["500"] > 0, "events that arrived during an outage were answered 500"
    assert stats.statuses["no answer"] == 0, "the web server itself stayed up"
    assert 503 in health, "/healthz tells the outage"
    assert "handler failed" not in logs
    print(
        f"\n[postgres outages] seed={seed} cuts={proxy.cuts} events={figures.events} posts={stats.posts} "
        f"{dict(stats.statuses)} threads={figures.threads} delivered={figures.deliveries} "
        f"409s={figures.saved_by_retry_key} lost={figures.lost} duplicated={figures.duplicated} {stats.seconds:.1f}s"
    )
