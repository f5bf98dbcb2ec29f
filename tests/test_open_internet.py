"""Safe on the open internet (issue 18): each hole a security review found, tried again against
a running server (real ``python -m bot`` processes, LINE being the fake platform on its own port),
or through the app where a process adds nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES
from faults import REPO, KasaneProcess, clean_environment, free_port, post_webhook, signed, write_config
from sqlalchemy import func, select
from test_deployed_sign_in import Deployment

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id
from bot.simulator.mode import SIMULATOR_SECRET, SIMULATOR_TOKEN
from bot.store.db import make_engine
from models import Network


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
