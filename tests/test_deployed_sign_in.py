"""Signing in as people deploy Kasane: real processes, LINE mode, the default empty ``secret_key``.

The in-process suite runs one process with a fixed key, so it could not see that a sign-in link
issued by the worker (``ログイン`` in the 1:1 chat) was signed with a key the web process did not
have, nor that the worker wrote the monthly figures without the dashboard button. Here the web
process, the worker and ``kasane login-link`` are separate ``python -m bot`` processes sharing
only the configuration file and the database; LINE is the fake platform on its own port.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SECRET, TOKEN
from faults import REPO, KasaneProcess, clean_environment, free_port, post_webhook, signed, write_config

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def eventually(check: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def uri_buttons(platform: FakeLinePlatform, chat: str) -> list[str]:
    """Every URI button LINE accepted for ``chat``, oldest first."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("action")
            if node.get("type") == "button" and isinstance(action, dict) and action.get("type") == "uri":
                found.append(action["uri"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for delivery in platform.deliveries(chat):
        walk(delivery.messages)
    return found


class Browser:
    """A coordinator's browser: cookies kept, redirects not followed (we check where they lead)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), self._NoRedirect())

    def request(self, url: str, data: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def sign_in(self, link: str) -> str:
        """Open the link, press ログインする; the dashboard's home page."""
        status, _, page = self.request(link)
        assert status == 200, f"the link was refused ({status}): {page[:300]}"
        status, headers, _ = self.request(link, {"csrf_token": CSRF.search(page).group(1)})
        assert status == 302 and headers["Location"].endswith("/dashboard/"), (status, headers)
        status, _, home = self.request(urllib.parse.urljoin(link, "/dashboard/"))
        assert status == 200
        return home


@dataclass
class Deployment:
    tmp: Path
    config: Path
    port: int
    platform: FakeLinePlatform
    processes: list[KasaneProcess]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, command: str, *args: str, name: str) -> KasaneProcess:
        process = KasaneProcess(
            self.config, command=command, args=args, port=self.port, log_dir=self.tmp, name=name
        ).start(fork=False)
        self.processes.append(process)
        return process

    def send(self, event: dict[str, Any], url: str | None = None) -> None:
        line = WebhookBuilder(self.platform)
        assert post_webhook(url or self.url, *signed(line, SECRET, event)) == 200

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(self.config), *args],
            cwd=REPO,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def network_with_organizer(self) -> str:
        return self.network_with_organizer_at(self.url)

    def network_with_organizer_at(self, url: str) -> str:
        """A group that invites the bot; its first registrant (a friend of the bot) organizes it."""
        group, alice = new_group_id(), new_user_id()
        self.platform.add_group(group, "久留米ささえあいネット")
        self.platform.add_member(group, alice, "社協 田中")
        self.platform.add_friend(alice, "社協 田中")
        line = WebhookBuilder(self.platform)
        self.send(line.join(group), url)
        self.send(line.text(group, alice, "団体登録 社会福祉協議会 フォーマル"), url)
        self.send(line.follow(alice), url)
        eventually(lambda: len(self.platform.deliveries(group)) >= 2, what="the bot's answers in the group")
        return alice

    def login_link_from_chat(self, user: str) -> str:
        """``ログイン`` in the 1:1 chat: the link in the card the worker sent."""
        line = WebhookBuilder(self.platform)
        self.send(line.text(user, user, "ログイン"))
        links = eventually(
            lambda: [u for u in uri_buttons(self.platform, user) if "/dashboard/login/" in u], what="a sign-in card"
        )
        return links[-1]


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
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
            session_key="",  # the default: Kasane generates one and keeps it
        )
        deployed = Deployment(tmp_path, config, port, platform, [])
        try:
            yield deployed
        finally:
            for process in reversed(deployed.processes):
                process.stop()


def test_serve_signs_in_with_the_link_its_worker_process_issued(deployment):
    server = deployment.start("serve", name="serve")
    server.wait_healthy()
    alice = deployment.network_with_organizer()
    home = Browser().sign_in(deployment.login_link_from_chat(alice))
    assert "久留米ささえあいネット" in home
    assert "secret key: generated, kept in" in server.logs() or "kept in the database" in server.logs()
    assert deployment.config.read_text().count('secret_key = ""') == 1  # nothing was written into the config


def test_a_separate_worker_and_login_link_sign_in_on_the_web_process(deployment):
    web = deployment.start("serve", "--no-worker", name="web")
    web.wait_healthy()
    deployment.start("worker", name="worker")
    alice = deployment.network_with_organizer()
    assert "久留米ささえあいネット" in Browser().sign_in(deployment.login_link_from_chat(alice))
    # An operator's `kasane login-link`, run while the server is up, signs in too.
    printed = deployment.cli("login-link", "--user", alice).strip()
    assert printed.startswith(deployment.url + "/dashboard/login/")
    assert "久留米ささえあいネット" in Browser().sign_in(printed)


def test_sessions_survive_a_restart_of_the_web_process(deployment):
    web = deployment.start("serve", name="serve")
    web.wait_healthy()
    alice = deployment.network_with_organizer()
    browser = Browser()
    browser.sign_in(deployment.login_link_from_chat(alice))
    web.stop()
    web.start(fork=False)
    web.wait_healthy()
    status, _, page = browser.request(deployment.url + "/dashboard/")
    assert status == 200 and "久留米ささえあいネット" in page


MONTHLY_JOB = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from bot.clock import Clock
from bot.config import load_config
from bot.runtime import build_runtime
from bot.scheduler import run_job
from jobs import load_all

config = load_config(sys.argv[1])
at = datetime.fromisoformat(sys.argv[2]).replace(tzinfo=ZoneInfo("Asia/Tokyo"))
runtime = build_runtime(config, clock=Clock(fixed=at))
[job] = [job for job in load_all() if job.name.endswith("push_monthly_figures")]
run_job(runtime, job)
while runtime.sender.run_once():
    pass
print(json.dumps({"web_app_built": "bot.app" in sys.modules}))
"""


def test_the_monthly_figures_from_a_worker_process_carry_the_dashboard_button(deployment):
    """A worker never builds the web app: its links come from the configuration all the same."""
    server = deployment.start("serve", name="serve")
    server.wait_healthy()
    alice = deployment.network_with_organizer()
    # A weekday early next month at 9:30 (past 年末年始): the figures of this month, in which the
    # network was made (a network made after the month it would report on gets none: issue 17).
    today = datetime.now(ZoneInfo("Asia/Tokyo"))
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=4, hour=9, minute=30)
    while first.weekday() >= 5:
        first += timedelta(days=1)
    done = subprocess.run(
        [sys.executable, "-c", MONTHLY_JOB, str(deployment.config), first.replace(tzinfo=None).isoformat()],
        cwd=REPO,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"web_app_built": False}
    buttons = [u for u in uri_buttons(deployment.platform, alice) if "/report?month=" in u]
    assert buttons and buttons[0].startswith(deployment.url + "/dashboard/n/")
    assert buttons[0].endswith(f"month={today:%Y-%m}")


def test_login_link_uses_the_port_the_server_was_started_with(deployment):
    # The configuration says one port; the operator started the server with --port another (issue 21).
    other = free_port()
    args = ("--port", str(other))
    web = KasaneProcess(deployment.config, command="serve", args=args, port=other, log_dir=deployment.tmp, name="serve")
    web.start(fork=False)
    deployment.processes.append(web)
    web.wait_healthy()
    alice = deployment.network_with_organizer_at(f"http://127.0.0.1:{other}")
    printed = deployment.cli("login-link", "--user", alice).strip()
    assert printed.startswith(f"http://127.0.0.1:{other}/dashboard/login/"), printed
    assert "久留米ささえあいネット" in Browser().sign_in(printed)
