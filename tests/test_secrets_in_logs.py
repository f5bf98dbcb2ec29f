"""The channel secret, the access token, the session key and a database password never appear in
logs or error pages, and neither does a phone number or e-mail address posted in a 困りごと.

All logging is captured at DEBUG (SQLAlchemy, urllib3, werkzeug and waitress included) while a
representative flow runs, and through the error paths: a bad signature, LINE answering 401 to a
wrong token, a missing table, an unreachable database. Then the same against a real
``python -m bot -v serve`` process, reading its whole output.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata

import pytest
from conftest import SECRET, TOKEN, make_config
from faults import KasaneProcess, free_port, post_webhook, secrets_in, signed, write_config
from harness import eventually
from sqlalchemy import text

from bot.app import create_app
from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, encode_body, sign
from bot.runtime import build_runtime

SESSION_KEY = "test-session-key-not-secret"  # conftest's [server] secret_key
DB_PASSWORD = "db-pa55word-never-logged"
PHONE = "０９０－２７１８－２８１８"
EMAIL = "tanaka.hanako@example.jp"
ROTATED = "rotated-channel-access-token-XYZ"
POSTED = f"困りごと 田中さん（{PHONE}、{EMAIL}）の通院の付き添いを探しています"
EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def leaks(output: str, *extra: str) -> list[str]:
    """Secrets and the posted identifiers found in ``output`` (as written, and NFKC-normalised).

    Exact values, not a phone-number pattern: with SQL logging on, UUIDs (retry keys) look like
    phone numbers to a pattern (``…-2018-4639-8424-…``).
    """
    normalised = unicodedata.normalize("NFKC", output)
    found = secrets_in(output, [SECRET, TOKEN, SESSION_KEY, DB_PASSWORD, ROTATED, PHONE, EMAIL, *extra])
    found += secrets_in(normalised, [unicodedata.normalize("NFKC", PHONE), "2718-2818", "27182818", "tanaka.hanako"])
    found += [m.group() for m in EMAIL_LIKE.finditer(normalised)]
    return found


@pytest.fixture
def everything(caplog):
    """Every logger at DEBUG, the noisy libraries included."""
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "urllib3", "werkzeug", "waitress", "linebot", "alembic"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


# SQL logging is on here: the suite's phone-number pattern would take the retry keys (UUIDs) for
# phone numbers, so this test checks the exact identifiers it posted instead.
@pytest.mark.allow_identifiers_in_logs
def test_a_whole_flow_and_its_error_paths_log_no_secret(world, runtime, platform, client, database_url, everything):
    group = world.group()
    world.invite_bot(group)
    carol, bob = world.person("Carol"), world.person("Bob")
    group.add(carol, bob)
    carol.follows_bot()
    carol.says(group, "団体登録 民生委員の会")
    bob.says(group, "団体登録 東部地域包括支援センター フォーマル")
    card = carol.says(group, POSTED)
    assert "電話番号" in card.text  # masked, and the poster was told
    bob.presses(group, card.button("伝手あり"))
    bob.says(group, f"連絡先は {EMAIL} です")
    carol.says(group, "#1 解決")
    pages = []

    # A bad signature, a body signed with another secret, an unknown path and method.
    body = encode_body(world.line.payload(world.line.text(group.id, carol.id, POSTED)))
    for signature in ("bad", sign(body, "another-secret"), None):
        response = world.post(body, signature)
        assert response.status_code == 400
        pages.append(response.get_data(as_text=True))
    pages.append(client.get("/callback").get_data(as_text=True))
    pages.append(client.get("/nowhere").get_data(as_text=True))

    # LINE answers 401: the bot's token is wrong (rotated on LINE's side).
    platform.channel_access_token = ROTATED
    carol.says(group, "ヘルプ")
    platform.channel_access_token = TOKEN
    assert "401" in everything.text and "Authentication failed" in everything.text

    # Tables go missing: the webhook answers 500, the sender's round fails and logs it.
    with runtime.engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbox RENAME TO outbox_gone"))
    with runtime.inbox.inbox.begin() as connection:  # on SQLite, a file of its own
        connection.execute(text("ALTER TABLE inbox RENAME TO inbox_gone"))
    try:
        response = world.post(encode_body(world.line.payload(world.line.text(group.id, carol.id, POSTED))))
        assert response.status_code == 500
        pages.append(response.get_data(as_text=True))
        stop = threading.Event()
        failed_rounds = everything.text.count("round failed")
        sender = threading.Thread(target=runtime.sender.run_forever, args=(stop, 0.05))
        sender.start()
        try:
            eventually(lambda: everything.text.count("round failed") > failed_rounds, what="a failed round logged")
        finally:
            stop.set()
            sender.join()
    finally:
        with runtime.engine.begin() as connection:
            connection.execute(text("ALTER TABLE outbox_gone RENAME TO outbox"))
        with runtime.inbox.inbox.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_gone RENAME TO inbox"))
    assert "round failed" in everything.text

    assert "/v2/bot/message/" in everything.text, "urllib3's DEBUG lines were captured too"
    assert not leaks(everything.text), leaks(everything.text)[:5]
    assert not leaks("\n".join(pages))


@pytest.mark.allow_identifiers_in_logs
def test_an_unreachable_database_with_a_password_logs_no_password(line_server, clock, everything):
    url = f"postgresql://kasane:{DB_PASSWORD}@127.0.0.1:{free_port()}/kasane"
    app = create_app(build_runtime(make_config(url, line_server.url), clock=clock))
    app.config["TESTING"] = True
    client = app.test_client()
    platform = FakeLinePlatform(TOKEN)
    line = WebhookBuilder(platform)
    body = encode_body(line.payload(line.text("C" + "1" * 32, "U" + "2" * 32, POSTED)))
    response = client.post("/callback", data=body, headers={"X-Line-Signature": sign(body, SECRET)})
    assert response.status_code == 500
    health = client.get("/healthz")
    assert health.status_code == 503
    stop = threading.Event()
    runtime = app.extensions["kasane"]
    sender = threading.Thread(target=runtime.sender.run_forever, args=(stop, 0.05))
    sender.start()
    try:
        eventually(lambda: "round failed" in everything.text, what="the sender logs its failed round")
    finally:
        stop.set()
        sender.join()
    assert "database unavailable" in everything.text and "round failed" in everything.text
    assert not leaks(everything.text), leaks(everything.text)[:5]
    assert not leaks(response.get_data(as_text=True) + health.get_data(as_text=True))
    with pytest.raises(Exception) as raised:  # noqa: PT011  (what the operator would see on start-up)
        build_runtime(make_config(url, line_server.url)).engine.connect()
    assert DB_PASSWORD not in str(raised.value)


def test_a_real_server_at_debug_level_prints_no_secret(tmp_path, database_url):
    """``python -m bot -v serve``: everything it prints, start to stop, through the same paths."""
    port = free_port()
    real = FakeLinePlatform(TOKEN)  # real time, like the server process
    with FakeLineServer(real) as fake:
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=fake.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
            session_key=SESSION_KEY,
        )
        line = WebhookBuilder(real)
        group, carol, bob = "C" + "a" * 32, "U" + "b" * 32, "U" + "c" * 32
        real.add_group(group, "ネット")
        real.add_member(group, carol, "Carol")
        real.add_member(group, bob, "Bob")
        server = KasaneProcess(config, port=port, log_dir=tmp_path, verbose=True)
        server.start(fork=False)
        try:
            server.wait_healthy()
            steps = [
                line.join(group),
                line.text(group, carol, "団体登録 民生委員の会"),
                line.text(group, bob, "団体登録 東部地域包括支援センター フォーマル"),
                line.text(group, carol, POSTED),
                line.text(group, bob, f"#1 伝手 連絡先は {EMAIL} です"),
                line.text(group, carol, POSTED, mode="standby"),  # logged at DEBUG only
            ]
            for event in steps:
                assert post_webhook(server.url, *signed(line, SECRET, event)) == 200
            body, headers = signed(line, SECRET, line.text(group, carol, POSTED))
            assert post_webhook(server.url, body, {**headers, "X-Line-Signature": "forged"}) == 400
            eventually(lambda: len(real.deliveries()) >= len(steps) - 1, what="every answer delivered")
            real.channel_access_token = ROTATED  # LINE now answers 401
            assert post_webhook(server.url, *signed(line, SECRET, line.text(group, carol, "ヘルプ"))) == 200
            eventually(lambda: "Authentication failed" in server.logs(), what="the 401 logged")
        finally:
            assert server.stop() == 0
    output = server.logs()
    assert "DEBUG bot.pipeline.webhook" in output and "Authentication failed" in output
    assert not leaks(output), leaks(output)[:5]
