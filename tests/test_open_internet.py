"""Safe on the open internet (issue 18): each hole a security review found, tried again against
a running server (real ``python -m bot`` processes, LINE being the fake platform on its own port),
or through the app where a process adds nothing.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES, make_config
from faults import (
    REPO,
    KasaneProcess,
    clean_environment,
    free_port,
    http_get,
    post_webhook,
    signed,
    utc_now,
    write_config,
)
from harness import World
from sqlalchemy import func, insert, select
from test_dashboard_world import jst, make_network, post, respond
from test_deployed_sign_in import CSRF, Browser, Deployment, eventually, uri_buttons

from bot.app import create_app
from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id
from bot.replies import messages
from bot.runtime import build_runtime
from bot.scheduler import run_job
from bot.simulator.mode import SIMULATOR_SECRET, SIMULATOR_TOKEN
from bot.store.db import make_engine
from jobs import load_all
from jobs.retention import erase_expired, trim_delivered_messages
from models import CalendarFeed, Member, Network, Organization, OrganizationChange, OrgKind, OutboxMessage, ResponseKind
from models.membership import change_kind
from models.report import month_period, monthly_report


def kasane(config: Path, *args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A one-off ``kasane`` command that is expected to end by itself (a refusal, an export)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=REPO,
        env={**clean_environment(), **(environ or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def simulator_config(path: Path, database_url: str, port: int) -> Path:
    path.write_text(f'[database]\nurl = "{database_url}"\n[server]\nport = {port}\n', encoding="utf-8")
    return path


@pytest.fixture
def line_mode(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    """A LINE-mode deployment as in tests/test_deployed_sign_in.py: a config file, the default empty
    ``secret_key``, LINE being the fake platform on its own port."""
    platform = FakeLinePlatform(TOKEN)
    with FakeLineServer(platform) as line_server:
        port = free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
            session_key="",
            approval="operator",  # the default: groups wait for an operator
        )
        deployed = Deployment(tmp_path, config, port, platform, [])
        try:
            yield deployed
        finally:
            for process in reversed(deployed.processes):
                process.stop()


def networks(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count(Network.id)))
    finally:
        engine.dispose()


# --- finding 1: the mode is unambiguous, no built-in secret verifies anything ------------------


@pytest.mark.parametrize("forged_with", [SIMULATOR_SECRET, SIMULATOR_TOKEN, ""], ids=["secret", "token", "empty"])
def test_a_webhook_signed_with_a_built_in_string_is_refused_in_line_mode(
    line_mode: Deployment, database_url: str, forged_with: str
):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    group, forger = new_group_id(), new_user_id()
    line = WebhookBuilder(line_mode.platform)
    for event in (line.join(group), line.text(group, forger, "団体登録 攻撃者 フォーマル")):
        body, headers = signed(line, forged_with, event)
        assert post_webhook(line_mode.url, body, headers) == 400
    assert networks(database_url) == 0
    assert line_mode.platform.deliveries(group) == []


@pytest.mark.parametrize(
    "environ, missing",
    [
        ({"KASANE_LINE_CHANNEL_ACCESS_TOKEN": TOKEN}, "KASANE_LINE_CHANNEL_SECRET"),
        ({"KASANE_LINE_CHANNEL_SECRET": SECRET}, "KASANE_LINE_CHANNEL_ACCESS_TOKEN"),
    ],
    ids=["token-only", "secret-only"],
)
def test_half_a_line_configuration_does_not_start(tmp_path: Path, database_url: str, environ, missing):
    config = simulator_config(tmp_path / "kasane.toml", database_url, free_port())
    for command in ("serve", "worker"):
        done = kasane(config, command, environ=environ)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert missing in line and "is not set" in line


def test_the_simulator_strings_are_refused_as_line_credentials(tmp_path: Path, database_url: str):
    config = simulator_config(tmp_path / "kasane.toml", database_url, free_port())
    done = kasane(
        config,
        "serve",
        environ={"KASANE_LINE_CHANNEL_SECRET": SIMULATOR_SECRET, "KASANE_LINE_CHANNEL_ACCESS_TOKEN": "real-token"},
    )
    assert done.returncode == 2 and "built-in simulator strings" in done.stderr


def test_simulator_mode_refuses_a_database_once_used_in_line_mode(line_mode: Deployment, database_url: str):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    server.stop()
    # The same database, the environment lost: no credentials.
    port = free_port()
    config = simulator_config(line_mode.tmp / "lost.toml", database_url, port)
    done = kasane(config, "serve")
    assert done.returncode == 2 and "--simulator" in done.stderr, done.stderr
    # Said explicitly, it starts.
    simulator = KasaneProcess(config, args=["--simulator"], port=port, log_dir=line_mode.tmp, name="simulator")
    line_mode.processes.append(simulator.start(fork=False))
    simulator.wait_healthy()
    assert "simulator mode" in simulator.logs()


@pytest.mark.skipif(not USING_POSTGRES, reason="PostgreSQL only")
def test_simulator_mode_refuses_postgres_unless_asked(tmp_path: Path, database_url: str):
    config = simulator_config(tmp_path / "kasane.toml", database_url, free_port())
    done = kasane(config, "serve")
    assert done.returncode == 2 and "PostgreSQL" in done.stderr and "--simulator" in done.stderr


# --- finding 3: nothing sensitive outlives its purpose ------------------------------------------


def network_with_organizer(deployed: Deployment) -> tuple[str, str]:
    """A group that invites the bot, organized by a friend of the bot: (group id, organizer's id)."""
    group, alice = new_group_id(), new_user_id()
    deployed.platform.add_group(group, "久留米ささえあいネット")
    deployed.platform.add_member(group, alice, "社協 田中")
    deployed.platform.add_friend(alice, "社協 田中")
    line = WebhookBuilder(deployed.platform)
    deployed.send(line.join(group))
    eventually(lambda: deployed.platform.deliveries(group), what="the bot's answer to its join")
    deployed.cli("network", "approve", group, "--organizer", alice)
    deployed.send(line.text(group, alice, "団体登録 社会福祉協議会 フォーマル"))
    deployed.send(line.follow(alice))
    eventually(lambda: len(deployed.platform.deliveries(group)) >= 3, what="the bot's answers in the group")
    return group, alice


def outbox_text(database_url: str) -> str:
    """Everything the outbox holds, as one string (what a copy of the database file would show)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(OutboxMessage.messages, OutboxMessage.last_error)).all()
    finally:
        engine.dispose()
    return json.dumps([list(row) for row in rows], ensure_ascii=False)


def test_the_outbox_keeps_no_sign_in_link_and_no_text_of_an_unsent_thread(line_mode: Deployment, database_url):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    group, alice = network_with_organizer(line_mode)
    link = line_mode.login_link_from_chat(alice)
    line = WebhookBuilder(line_mode.platform)
    post = line.text(group, alice, "困りごと 駅前の独居の方の見守りを相談したいです")
    line_mode.send(post)
    eventually(lambda: "駅前の独居の方" in outbox_text(database_url), what="the thread card")
    line_mode.send(line.unsend(group, alice, post["message"]["id"]))

    eventually(lambda: "駅前の独居の方" not in outbox_text(database_url), what="the card's text erased")
    eventually(lambda: "dashboard/login/" not in outbox_text(database_url), what="the sign-in link replaced")
    assert "(link sent; not kept)" in outbox_text(database_url)
    # The link itself still signs in: only the outbox's copy went.
    assert "久留米ささえあいネット" in Browser().sign_in(link)


def test_retention_and_the_30_day_trim_leave_the_outbox_without_text(world, runtime, clock):
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice, bob = world.person("Alice"), world.person("Bob")
    group.add(alice, bob)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    bob.says(group, "団体登録 東部包括 フォーマル")
    for endpoint in ("reply", "push"):  # the card is refused: a failed row keeps it
        world.platform.fail_next(status=400, message="bad", endpoint=endpoint)
    alice.says(group, "困りごと 通院の付き添いを探しています")
    bob.says(group, "#1 手伝えます 車を出せます")
    alice.says(group, "#1 解決")
    assert "通院の付き添い" in outbox_text(runtime.config.database_url)
    assert "車を出せます" in outbox_text(runtime.config.database_url)

    clock.advance(timedelta(days=31))  # a month on: delivered rows keep their kinds only
    with runtime.sessions.begin() as session:
        assert trim_delivered_messages(session, clock.now()) > 0
    text = outbox_text(runtime.config.database_url)
    assert "車を出せます" not in text and "子ども食堂ひまわり" not in text and '"type": "text"' in text
    assert "通院の付き添い" in text  # the failed row, still listed on 送信の状況

    clock.advance(timedelta(days=6 * 365))  # past the five years: the thread's text goes everywhere
    with runtime.sessions.begin() as session:
        assert erase_expired(session, clock.now()) == 1
    assert "通院の付き添い" not in outbox_text(runtime.config.database_url)


# --- finding 8: networks exist only when someone trusted says so ----------------------------------


def said_in(platform: FakeLinePlatform, chat: str) -> list[str]:
    return [message.get("text", "") for delivery in platform.deliveries(chat) for message in delivery.messages]


def test_a_group_waits_for_the_operator_who_names_its_organizer(line_mode: Deployment, database_url: str):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    group, alice, bob, carol = new_group_id(), new_user_id(), new_user_id(), new_user_id()
    line_mode.platform.add_group(group, "だれかのグループ")
    for person, name in ((alice, "社協 田中"), (bob, "自治会 佐藤"), (carol, "自治会 鈴木")):
        line_mode.platform.add_member(group, person, name)
    line = WebhookBuilder(line_mode.platform)

    line_mode.send(line.join(group))
    [waiting] = eventually(lambda: said_in(line_mode.platform, group), what="the one answer")
    assert group in waiting and "承認" in waiting
    # Nothing else happens in a group nobody approved: no answer, no change.
    for text in ("団体登録 攻撃者 フォーマル", "困りごと 何か", "ヘルプ"):
        line_mode.send(line.text(group, bob, text))
    line_mode.send(line.text(alice, alice, "ヘルプ"))  # handled after them: its answer says they were
    eventually(lambda: line_mode.platform.deliveries(alice), what="the 1:1 answer")
    assert len(said_in(line_mode.platform, group)) == 1
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count(Organization.id))) == 0
    engine.dispose()
    listed = line_mode.cli("network", "list")
    assert group in listed.split("waiting for approval")[1]

    printed = line_mode.cli("network", "approve", group, "--organizer", alice)
    assert "approved" in printed
    eventually(lambda: any("団体登録" in text for text in said_in(line_mode.platform, group)[1:]), what="greeting")
    before = len(said_in(line_mode.platform, group))
    line_mode.send(line.text(group, bob, "団体登録 自治会 インフォーマル"))  # first to type: not organizer
    line_mode.send(line.text(group, alice, "団体登録 社会福祉協議会 フォーマル"))
    line_mode.send(line.text(group, carol, "団体登録 自治会 フォーマル"))  # a member may not flip the kind
    line_mode.send(line.text(group, alice, "団体登録 自治会 フォーマル"))  # the organizer may, recorded
    eventually(lambda: len(said_in(line_mode.platform, group)) >= before + 4, what="four answers")
    answers = said_in(line_mode.platform, group)[before:]
    assert "世話役になりました" not in "".join(answers)
    assert sum("世話役だけです" in answer for answer in answers) == 1  # carol's, not alice's
    with engine.connect() as connection:
        roles = dict(connection.execute(select(Member.line_user_id, Member.role)).all())
        assert roles == {alice: "organizer", bob: "member", carol: "member"}
        kind = connection.scalar(select(Organization.kind).where(Organization.name == "自治会"))
        changes = connection.execute(select(OrganizationChange.kind_before, OrganizationChange.kind_after)).all()
    engine.dispose()
    assert kind == "formal" and changes == [("informal", "formal")]


def test_the_bot_leaves_a_group_nobody_approved(database_url: str, line_server, platform, clock):
    config = make_config(
        database_url, line_server.url, networks={"approval": "operator", "leave_unapproved_after_hours": 2.0}
    )
    app = create_app(build_runtime(config, clock=clock))
    runtime = app.extensions["kasane"]
    try:
        world = World(app.test_client(), runtime, platform, SECRET)
        group, late = world.group("だれかのグループ"), world.group("あとのグループ")
        world.invite_bot(group)
        clock.advance(timedelta(hours=1))
        world.invite_bot(late)
        clock.advance(timedelta(hours=1, minutes=1))
        [leave] = [job for job in load_all() if job.name.endswith("leave_unapproved_groups")]
        run_job(runtime, leave)
        runtime.sender.drain()
        assert platform.left_groups == [group.id]
        assert "承認" not in world.send(world.line.text(group.id, world.person("Bob").id, "ヘルプ")).text
    finally:
        runtime.close()


def test_an_organizer_approves_a_waiting_group_from_the_dashboard(line_mode: Deployment, database_url: str):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    _, alice = network_with_organizer(line_mode)  # organizer of an approved network
    waiting, bob = new_group_id(), new_user_id()
    line_mode.platform.add_group(waiting, "新しいグループ")
    line_mode.platform.add_member(waiting, bob, "自治会 佐藤")
    line = WebhookBuilder(line_mode.platform)
    line_mode.send(line.join(waiting))
    eventually(lambda: said_in(line_mode.platform, waiting), what="the one answer")

    browser = Browser()
    home = browser.sign_in(line_mode.login_link_from_chat(alice))
    token = CSRF.search(home).group(1)
    status, _, page = browser.request(
        line_mode.url + "/dashboard/approve", {"csrf_token": token, "group_id": "C" + "0" * 32}
    )
    assert status == 404 and "見つかりません" in page
    status, _, page = browser.request(line_mode.url + "/dashboard/approve", {"csrf_token": token, "group_id": waiting})
    assert status == 200 and "承認しました" in page
    eventually(lambda: len(said_in(line_mode.platform, waiting)) == 2, what="the greeting")
    line_mode.send(line.text(waiting, bob, "団体登録 自治会"))
    eventually(lambda: len(said_in(line_mode.platform, waiting)) == 3, what="an answer, now approved")
    assert "新しいグループ" in browser.request(line_mode.url + "/dashboard/")[2]  # alice organizes it


# --- finding 4: sessions the server can end -------------------------------------------------------


def session_cookie(browser: Browser) -> str:
    [cookie] = [c.value for c in browser.cookies if c.name == "session"]
    return cookie


def copy_of(browser: Browser) -> Browser:
    """Another browser holding the same cookie (stolen, or the same person's other tab)."""
    twin = Browser()
    for cookie in browser.cookies:
        twin.cookies.set_cookie(cookie)
    return twin


def new_sign_in_link(deployed: Deployment, user: str) -> str:
    """``ログイン`` in the 1:1 chat again: the link of the new card (not an earlier one)."""
    before = len(uri_buttons(deployed.platform, user))
    deployed.send(WebhookBuilder(deployed.platform).text(user, user, "ログイン"))
    eventually(lambda: len(uri_buttons(deployed.platform, user)) > before, what="a new sign-in card")
    return uri_buttons(deployed.platform, user)[-1]


def test_a_copied_session_cookie_is_signed_out_with_its_original(line_mode: Deployment):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    _, alice = network_with_organizer(line_mode)
    home_url = line_mode.url + "/dashboard/"

    browser = Browser()
    home = browser.sign_in(new_sign_in_link(line_mode, alice))
    first = session_cookie(browser)
    copy = copy_of(browser)
    assert copy.request(home_url)[0] == 200
    browser.request(line_mode.url + "/dashboard/logout", {"csrf_token": CSRF.search(home).group(1)})
    status, headers, _ = copy.request(home_url)
    assert status == 302 and headers["Location"].endswith("/dashboard/signin")

    # Signing in again gives a new session id; "sign out everywhere" ends every copy of it.
    home = browser.sign_in(new_sign_in_link(line_mode, alice))
    assert session_cookie(browser) != first
    copy = copy_of(browser)
    browser.request(line_mode.url + "/dashboard/logout/everywhere", {"csrf_token": CSRF.search(home).group(1)})
    assert copy.request(home_url)[0] == 302

    # A revoked role ends the sessions of the person who held it.
    browser.sign_in(new_sign_in_link(line_mode, alice))
    copy = copy_of(browser)
    line_mode.cli("role", "revoke", "--network", "1", "--user", alice)
    assert browser.request(home_url)[0] == 302 and copy.request(home_url)[0] == 302


# --- finding 5: private files ------------------------------------------------------------------


def mode_of(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


@pytest.mark.skipif(USING_POSTGRES, reason="SQLite's files")
def test_the_files_kasane_serve_and_kasane_export_create_are_private(tmp_path: Path):
    port = free_port()
    database = tmp_path / "fresh" / "kasane.db"
    database.parent.mkdir()
    config = simulator_config(tmp_path / "kasane.toml", f"sqlite:///{database}", port)
    server = KasaneProcess(config, port=port, log_dir=tmp_path, name="serve").start(fork=False)
    try:
        server.wait_healthy()
        created = sorted(database.parent.iterdir())
        names = {path.name for path in created}
        assert {"kasane.db", "kasane-inbox.db", "kasane.db-wal", "kasane-secret.key"} <= names, names
        assert {path.name: mode_of(path) for path in created} == dict.fromkeys(names, "0o600")
    finally:
        server.stop()
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(insert(Network).values(group_id=new_group_id(), name="南ネット", created_at=utc_now()))
    engine.dispose()
    export = tmp_path / "fresh" / "export.csv"
    done = kasane(config, "export", "--network", "1", "--month", "2026-11", "--output", str(export))
    assert done.returncode == 0, done.stderr
    assert mode_of(export) == "0o600"


@pytest.mark.skipif(USING_POSTGRES, reason="SQLite's files")
def test_a_database_readable_by_others_is_named_at_start(tmp_path: Path, database_url: str):
    database = Path(database_url.removeprefix("sqlite:///"))
    database.chmod(0o644)
    port = free_port()
    config = simulator_config(tmp_path / "kasane.toml", database_url, port)
    server = KasaneProcess(config, port=port, log_dir=tmp_path, name="serve").start(fork=False)
    try:
        server.wait_healthy()
        assert f"{database} is readable by other users (mode 644)" in server.logs()
    finally:
        server.stop()


# --- finding 6: revocable calendar URLs ------------------------------------------------------------


def calendar_url(deployed: Deployment, user: str) -> str:
    """``カレンダー`` in the 1:1 chat: the URL in the bot's new answer."""

    def urls() -> list[str]:
        texts = [m.get("text", "") for d in deployed.platform.deliveries(user) for m in d.messages]
        return [url for text in texts for url in re.findall(r"http://\S+\.ics", text)]

    before = len(urls())
    deployed.send(WebhookBuilder(deployed.platform).text(user, user, "カレンダー"))
    eventually(lambda: len(urls()) > before, what="the calendar answer")
    return urls()[-1]


def test_a_calendar_url_stops_when_a_new_one_is_issued_and_when_the_role_goes(line_mode: Deployment, database_url):
    server = line_mode.start("serve", name="serve")
    server.wait_healthy()
    _, alice = network_with_organizer(line_mode)
    first = calendar_url(line_mode, alice)
    assert http_get(first)[0] == 200
    second = calendar_url(line_mode, alice)
    assert http_get(first)[0] == 404 and http_get(second)[0] == 200
    token = second.rsplit("/", 1)[1].removesuffix(".ics")
    engine = make_engine(database_url)
    with engine.connect() as connection:  # only a hash is kept
        assert token not in str(connection.execute(select(CalendarFeed)).all())
    engine.dispose()
    line_mode.cli("role", "revoke", "--network", "1", "--user", alice)
    assert http_get(second)[0] == 404


# --- finding 7: simulator mode locked to the machine ------------------------------------------------


def raw_get(port: int, path: str, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_simulator_mode_answers_only_this_machine_and_its_inspection_api_needs_the_key(tmp_path: Path, database_url):
    port = free_port()
    config = simulator_config(tmp_path / "kasane.toml", database_url, port)
    args = [] if database_url.startswith("sqlite") else ["--simulator"]
    server = KasaneProcess(config, args=args, port=port, log_dir=tmp_path, name="simulator").start(fork=False)
    try:
        server.wait_healthy()
        for path in ("/simulator/api/state", "/_line/_fake/health", "/healthz"):
            assert raw_get(port, path, "evil.example") == 400, path  # DNS rebinding: refused
            assert raw_get(port, path, f"evil.example:{port}") == 400, path
        assert raw_get(port, "/simulator/api/state", f"127.0.0.1:{port}") == 200
        assert raw_get(port, "/simulator/api/state", f"localhost:{port}") == 200

        [key] = re.findall(r"fake LINE inspection key \(.*\): (\S+)", server.logs())
        assert raw_get(port, "/_line/_fake/deliveries", f"127.0.0.1:{port}") == 401
        assert raw_get(port, "/_line/_fake/deliveries?key=wrong", f"127.0.0.1:{port}") == 401
        assert raw_get(port, f"/_line/_fake/deliveries?key={key}", f"127.0.0.1:{port}") == 200
    finally:
        server.stop()


# --- finding 9: logs without data ------------------------------------------------------------------

BOOM_SQLITE = "CREATE TRIGGER kasane_test_boom BEFORE INSERT ON threads BEGIN SELECT RAISE(ABORT, 'boom'); END"
BOOM_POSTGRES = [
    "CREATE OR REPLACE FUNCTION kasane_test_boom() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = 'check_violation'; END $$",
    "CREATE TRIGGER kasane_test_boom BEFORE INSERT ON threads FOR EACH ROW EXECUTE FUNCTION kasane_test_boom()",
]


def test_a_failing_handler_logs_neither_the_summary_nor_the_user_id(world, runtime, engine, caplog):
    group = world.group("久留米ささえあいネット")
    world.invite_bot(group)
    alice = world.person("Alice")
    group.add(alice)
    alice.says(group, "団体登録 子ども食堂ひまわり")
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for statement in BOOM_POSTGRES if postgres else [BOOM_SQLITE]:
            connection.exec_driver_sql(statement)
    try:
        with caplog.at_level(logging.DEBUG):
            answer = alice.says(group, "困りごと 配食サービスを探しています 電話は090-1234-5678")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER kasane_test_boom" + (" ON threads" if postgres else ""))
    assert answer.text == messages.SORRY_FAILED  # the handler failed, and said so
    logged = caplog.text
    assert "handler failed" in logged and "boom" in logged
    assert "配食サービス" not in logged and alice.id not in logged and "parameters hidden" in logged


def test_reports_count_an_organization_as_the_kind_it_was_when_it_took_part(session):
    """The organizer turns 民生委員会 フォーマル in November: October's overlap stays what it was."""
    net = make_network(
        session,
        "Cgroup-kind",
        "Ucoord-kind",
        {"子ども食堂": OrgKind.INFORMAL, "民生委員会": OrgKind.INFORMAL},
        jst(2026, 10, 1),
    )
    october = post(session, net, "子ども食堂", "通院の付き添いを探しています", jst(2026, 10, 5))
    respond(session, net, october, "民生委員会", ResponseKind.OFFER, jst(2026, 10, 6), "付き添えます")
    session.commit()
    period = month_period(2026, 10, "Asia/Tokyo")
    assert monthly_report(session, net.network, period).overlap == 0

    organizer = net.members["子ども食堂"]
    change_kind(session, net.org("民生委員会"), OrgKind.FORMAL, organizer, jst(2026, 11, 2))
    november = post(session, net, "子ども食堂", "見守りの相談です", jst(2026, 11, 5))
    respond(session, net, november, "民生委員会", ResponseKind.OFFER, jst(2026, 11, 6), "伺います")
    session.commit()
    assert monthly_report(session, net.network, period).overlap == 0  # not rewritten
    assert monthly_report(session, net.network, month_period(2026, 11, "Asia/Tokyo")).overlap == 1
