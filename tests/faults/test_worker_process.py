"""``kasane serve`` keeps a worker process beside it, and the worker a sender beside itself: started,
lower in CPU priority, replaced when they die, and never left behind when the server itself is killed.

Real processes (``python -m bot serve``), a real fake LINE platform, signed webhooks over HTTP.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id
from faults import KasaneProcess, free_port, post_webhook, signed, write_config

pytestmark = pytest.mark.faults


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def eventually(check, timeout: float = 30.0, message: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(message or f"not within {timeout}s")


@pytest.fixture
def served(tmp_path: Path):
    if USING_POSTGRES:
        pytest.skip("the embedded worker is SQLite's default set-up; PostgreSQL runs `kasane worker`")
    platform = FakeLinePlatform(TOKEN)
    with FakeLineServer(platform) as line_server:
        port = free_port()
        config = write_config(
            tmp_path / "kasane.toml",
            database_url=f"sqlite:///{tmp_path / 'kasane.db'}",
            line_url=line_server.url,
            port=port,
            secret=SECRET,
            token=TOKEN,
        )
        server = KasaneProcess(config, port=port, log_dir=tmp_path, name="serve")
        server.start(fork=False)
        try:
            server.wait_healthy()
            yield server, platform
        finally:
            server.stop()


def greeting(server: KasaneProcess, platform: FakeLinePlatform) -> bool:
    """Invite the bot to a new group: answered 200, and its greeting reaches LINE."""
    group = new_group_id()
    platform.add_group(group, "テストネット")
    line = WebhookBuilder(platform)
    assert post_webhook(server.url, *signed(line, SECRET, line.join(group))) == 200
    return bool(eventually(lambda: platform.deliveries(group), message="no greeting reached LINE"))


def family(server: KasaneProcess) -> tuple[int, int]:
    """The server's worker, and the worker's sender."""
    [worker] = eventually(lambda: len(children(server.pid)) == 1 and children(server.pid), message="no worker")
    [sender] = eventually(lambda: len(children(worker)) == 1 and children(worker), message="no sender process")
    return worker, sender


def test_serve_runs_its_worker_and_sender_in_processes_of_their_own_at_lower_priority(served):
    server, platform = served
    worker, sender = family(server)
    assert niceness(server.pid) == 0 and niceness(worker) == 10 and niceness(sender) == 10
    assert greeting(server, platform)


def test_a_sender_that_dies_is_replaced_and_messages_wait_for_it(served):
    server, platform = served
    worker, first = family(server)
    os.kill(first, signal.SIGKILL)
    eventually(lambda: not alive(first))
    assert greeting(server, platform)  # handled at once, sent by the new sender
    [second] = children(worker)
    assert second != first and "sender exited (killed by signal 9)" in server.logs()


def test_a_worker_that_dies_is_replaced_and_events_wait_for_it(served):
    server, platform = served
    first, its_sender = family(server)
    os.kill(first, signal.SIGKILL)
    eventually(lambda: not alive(first) and not alive(its_sender), message="the sender outlived its worker")
    assert greeting(server, platform)  # acknowledged at once, answered by the new worker and sender
    worker, sender = family(server)
    assert worker != first and sender != its_sender and "worker exited (killed by signal 9)" in server.logs()


def test_killing_the_server_takes_its_worker_and_sender_with_it(served):
    server, _ = served
    worker, sender = family(server)
    server.kill()
    eventually(lambda: not alive(worker) and not alive(sender), timeout=10, message="they outlived their server")


def test_stopping_the_server_stops_its_worker_and_sender_cleanly(served):
    server, _ = served
    worker, sender = family(server)
    assert server.stop() == 0
    eventually(lambda: not alive(worker) and not alive(sender), timeout=10)
