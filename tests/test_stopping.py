"""SIGTERM stops every process of ``kasane serve`` and ``kasane worker``, in every mode.

Real processes, started and stopped in a loop, each time with a browser-like kept-alive
connection open (which once kept ``kasane serve --simulate-time`` serving for minutes after
"stopping (signal 15)") and, with LINE credentials, webhooks in flight for the worker.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SECRET, TOKEN
from faults import REPO, clean_environment, free_port, post_webhook, signed, write_config

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id

pytestmark = pytest.mark.faults

# A stop that needs the 15 s SIGKILL fallback (bot/worker_process.py) shows as a missing "stopped" line.
DEADLINE = 12.0


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: the worker, the sender, their restarts)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Started:
    def __init__(self, config: Path, args: list[str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(config), *args],
                cwd=REPO,
                env=clean_environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, line: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.text():
            assert self.popen.poll() is None, f"exited during start-up:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {line!r} within {timeout:.0f} s:\n{self.text()[-3000:]}"
            time.sleep(0.05)


def stop_all(processes: list[Started]) -> None:
    """SIGTERM each top process; every process of the tree must be gone, each having said so."""
    tree = {pid for p in processes for pid in {p.popen.pid} | descendants(p.popen.pid)}
    for process in processes:
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + DEADLINE
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in tree if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    for process in processes:
        process.popen.wait(10)
    logs = "\n".join(p.text() for p in processes)
    assert not left, f"still running {DEADLINE:.0f} s after SIGTERM: {left}\n{logs[-3000:]}"
    assert all(p.popen.returncode == 0 for p in processes), logs[-3000:]
    assert "did not stop" not in logs and "Traceback" not in logs, logs[-3000:]


def keep_alive(port: int) -> http.client.HTTPConnection:
    """A connection left open after a request, as a browser leaves one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return connection


def wait_healthy(port: int, process: Started) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.popen.poll() is None, process.text()[-3000:]
        try:
            keep_alive(port).close()
            return
        except OSError:
            assert time.monotonic() < deadline, process.text()[-3000:]
            time.sleep(0.05)


def simulator_config(path: Path, database_url: str, port: int) -> Path:
    path.write_text(f'[database]\nurl = "{database_url}"\n[server]\nport = {port}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("simulate_time", [False, True], ids=["simulator", "simulate-time"])
def test_simulator_serve_stops_on_sigterm(tmp_path: Path, database_url: str, simulate_time: bool):
    port = free_port()
    config = simulator_config(tmp_path / "kasane.toml", database_url, port)
    args = ["serve", *(["--simulate-time", "2026-11-24T10:00"] if simulate_time else [])]
    if not database_url.startswith("sqlite"):
        args.append("--simulator")  # simulator mode on PostgreSQL only when said (issue 18)
    for round_ in range(2):
        server = Started(config, args, tmp_path / f"serve-{round_}.log")
        wait_healthy(port, server)
        connection = keep_alive(port)
        stop_all([server])
        connection.close()
        assert "stopped" in server.text()


def busy_conversation(platform: FakeLinePlatform, url: str, events: int = 12) -> None:
    """Webhooks the worker is still handling (and answering) when the signal comes."""
    group, users = new_group_id(), [new_user_id() for _ in range(3)]
    platform.add_group(group, "ささえあいネット")
    for n, user in enumerate(users):
        platform.add_member(group, user, f"メンバー{n}")
    line = WebhookBuilder(platform)
    posts = [f"困りごと 通院の付き添いを探しています{n}" for n in range(events)]
    texts = ["団体登録 ひまわり食堂 インフォーマル", *posts]
    assert post_webhook(url, *signed(line, SECRET, line.join(group))) == 200
    for n, text in enumerate(texts):
        assert post_webhook(url, *signed(line, SECRET, line.text(group, users[n % 3], text))) == 200


@pytest.fixture
def line_deployment(tmp_path: Path, database_url: str):
    platform = FakeLinePlatform(TOKEN)
    platform.set_latency(0.2)  # sends in flight when the signal comes
    with FakeLineServer(platform) as line_server:
        port = free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=database_url,
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
        )
        yield config, port, platform


def test_serve_with_its_worker_and_sender_processes_stops_on_sigterm(tmp_path: Path, line_deployment):
    config, port, platform = line_deployment
    for round_ in range(3):
        server = Started(config, ["serve"], tmp_path / f"serve-{round_}.log")
        server.wait_for("sender started")
        wait_healthy(port, server)
        connection = keep_alive(port)
        busy_conversation(platform, f"http://127.0.0.1:{port}")
        stop_all([server])
        connection.close()
        text = server.text()
        assert "worker stopped" in text and "sender stopped" in text


def test_web_only_and_a_separate_worker_stop_on_sigterm(tmp_path: Path, line_deployment):
    config, port, platform = line_deployment
    for round_ in range(2):
        web = Started(config, ["serve", "--no-worker"], tmp_path / f"web-{round_}.log")
        worker = Started(config, ["worker"], tmp_path / f"worker-{round_}.log")
        wait_healthy(port, web)
        worker.wait_for("sender started")
        connection = keep_alive(port)
        busy_conversation(platform, f"http://127.0.0.1:{port}")
        stop_all([web, worker])
        connection.close()
        assert "worker stopped" in worker.text() and "sender stopped" in worker.text()
