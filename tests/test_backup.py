"""Backups that restore: taken from a real ``kasane serve`` during a burst of webhooks, restored
into a fresh database (SQLite or PostgreSQL, as the suite runs)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import SECRET, TOKEN, USING_POSTGRES, make_config, require_postgres
from faults import (
    REPO,
    KasaneProcess,
    clean_environment,
    free_port,
    post_webhook,
    signed,
    wait_until_sent,
    write_config,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, new_group_id, new_user_id
from bot.runtime import build_runtime
from bot.scheduler import run_daily_backup
from bot.store.db import make_engine, make_inbox_engine
from models.operations import last_finished_backup

pytestmark = pytest.mark.faults


def kasane(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=REPO,
        env=env or clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind, to restore into."""
    if not USING_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored' / 'kasane.db'}"
        return
    url = make_url(require_postgres())
    name = f"{url.database}_restore"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Burst:
    """Webhooks posted as fast as two senders can, each acknowledged one noted with its moment."""

    def __init__(self, url: str, platform: FakeLinePlatform, group: str, users: list[str]) -> None:
        self.url, self.line, self.group, self.users = url, WebhookBuilder(platform), group, users
        self.acknowledged: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(2)]

    def _run(self, n: int) -> None:
        count = 0
        while not self.stop.is_set() and count < 400:
            count += 1
            user = self.users[(n + count) % len(self.users)]
            event = self.line.text(self.group, user, f"困りごと 買い物の付き添いを探しています{n}-{count}")
            if post_webhook(self.url, *signed(self.line, SECRET, event)) == 200:
                with self.lock:
                    self.acknowledged.append((time.monotonic(), event["webhookEventId"]))

    def start(self) -> Burst:
        for thread in self.threads:
            thread.start()
        return self

    def acknowledged_before(self, moment: float) -> set[str]:
        with self.lock:
            return {key for at, key in self.acknowledged if at < moment}

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def network(url: str, platform: FakeLinePlatform, name: str, posts: int) -> tuple[str, list[str]]:
    group, users = new_group_id(), [new_user_id() for _ in range(3)]
    platform.add_group(group, name)
    for n, user in enumerate(users):
        platform.add_member(group, user, f"{name}メンバー{n}")
    line = WebhookBuilder(platform)
    events = [line.join(group)]
    events += [line.text(group, user, f"団体登録 {name}団体{n} インフォーマル") for n, user in enumerate(users)]
    events += [line.text(group, users[n % 3], f"困りごと 通院の付き添いを探しています{n}") for n in range(posts)]
    events += [line.text(group, users[1], f"#{n + 1} 伝手 社協の窓口が使えます") for n in range(posts)]
    events += [line.text(group, users[n % 3], f"#{n + 1} 解決") for n in range(0, posts, 2)]
    for event in events:
        assert post_webhook(url, *signed(line, SECRET, event)) == 200
    return group, users


def test_a_backup_taken_during_a_burst_restores_every_acknowledged_event(
    tmp_path: Path, database_url: str, fresh_database_url: str
):
    platform = FakeLinePlatform(TOKEN)
    with FakeLineServer(platform) as line_server:
        port = free_port()
        settings = dict(line_url=line_server.url, port=port, secret=SECRET, token=TOKEN)
        config = write_config(tmp_path / "kasane.toml", database_url=database_url, **settings)
        restored = write_config(tmp_path / "restored.toml", database_url=fresh_database_url, **settings)
        server = KasaneProcess(config, port=port, log_dir=tmp_path, name="serve").start(fork=False)
        engine = make_engine(database_url)
        try:
            server.wait_healthy()
            network(server.url, platform, "ひかり", posts=6)
            wait_until_sent(engine, alive=lambda: server.alive)
            month = datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m")
            export = ["export", "--network", "1", "--month", month, "--format", "csv", "--output"]
            group, users = network(server.url, platform, "みどり", posts=1)
            burst = Burst(server.url, platform, group, users).start()
            while len(burst.acknowledged_before(time.monotonic())) < 40:
                time.sleep(0.05)
            started = time.monotonic()
            backup = tmp_path / "backups" / "during-burst"
            done = kasane(config, "backup", "--output", str(backup))
            during = len(burst.acknowledged_before(time.monotonic())) - len(burst.acknowledged_before(started))
            burst.finish()
            assert done.returncode == 0, done.stderr
            assert f"backed up to {backup}" in done.stdout
            assert stat.S_IMODE(backup.stat().st_mode) == 0o600
            before = burst.acknowledged_before(started)
            assert len(before) >= 40 and during > 0, (len(before), during)  # the burst went on while it ran
            wait_until_sent(engine, alive=lambda: server.alive)
            assert kasane(config, *export, str(tmp_path / "original.csv")).returncode == 0
        finally:
            server.stop()
            engine.dispose()

    done = kasane(restored, "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert kasane(restored, "db", "current").stdout.split() == ["current:", head(), "head:", head()]
    restored_engine = make_engine(fresh_database_url)
    inbox = make_inbox_engine(fresh_database_url, restored_engine)
    try:
        with restored_engine.connect() as connection:
            handled = set(connection.scalars(text("SELECT event_key FROM webhook_events")))
            tables_before = sorted(connection.scalars(text(TABLES[restored_engine.dialect.name])))
        with inbox.connect() as connection:
            waiting = set(connection.scalars(text("SELECT event_key FROM inbox")))
        missing = before - handled - waiting
        assert not missing, f"{len(missing)} acknowledged events are not in the backup"
        # Already at the head revision: `kasane db upgrade` changes nothing.
        assert kasane(restored, "db", "upgrade").returncode == 0
        with restored_engine.connect() as connection:
            assert sorted(connection.scalars(text(TABLES[restored_engine.dialect.name]))) == tables_before
            assert list(connection.scalars(text("SELECT version_num FROM alembic_version"))) == [head()]
    finally:
        if inbox is not restored_engine:
            inbox.dispose()
        restored_engine.dispose()
    # The network untouched since before the backup exports the same, byte for byte.
    assert kasane(restored, *export, str(tmp_path / "restored.csv")).returncode == 0
    assert (tmp_path / "restored.csv").read_bytes() == (tmp_path / "original.csv").read_bytes()
    assert (tmp_path / "original.csv").read_text(encoding="utf-8-sig").count("\n") == 7  # the header, 6 threads


TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


def head() -> str:
    from bot.store.migrate import head_revisions

    [revision] = head_revisions("sqlite://")
    return revision


def test_restore_refuses_a_database_that_is_not_empty(tmp_path: Path, database_url: str):
    config = write_config(
        tmp_path / "kasane.toml",
        database_url=database_url,
        line_url="http://127.0.0.1:1",
        port=1,
        secret=SECRET,
        token=TOKEN,
    )
    backup = tmp_path / "b"
    assert kasane(config, "backup", "--output", str(backup)).returncode == 0
    done = kasane(config, "restore", str(backup))
    assert done.returncode == 2 and "not empty" in done.stderr and "Traceback" not in done.stderr
    assert (
        kasane(config, "backup", "--output", str(backup))
        .stderr.strip()
        .endswith("already exists; choose another --output")
    )
    (tmp_path / "junk").write_bytes(b"not a backup")
    done = kasane(config, "restore", str(tmp_path / "junk"))
    assert done.returncode == 2 and "is not a Kasane backup" in done.stderr


def test_a_backup_of_one_kind_is_not_restored_into_the_other(tmp_path: Path):
    sqlite_config = write_config(
        tmp_path / "sqlite.toml",
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        line_url="http://127.0.0.1:1",
        port=1,
        secret=SECRET,
        token=TOKEN,
    )
    assert kasane(sqlite_config, "backup", "--output", str(tmp_path / "a.tar.gz")).returncode == 0
    postgres_config = write_config(
        tmp_path / "pg.toml",
        database_url="postgresql://kasane@127.0.0.1:1/none",
        line_url="http://127.0.0.1:1",
        port=1,
        secret=SECRET,
        token=TOKEN,
    )
    done = kasane(postgres_config, "restore", str(tmp_path / "a.tar.gz"))
    assert done.returncode == 2 and "backup of a SQLite database" in done.stderr


def test_without_pg_dump_the_message_says_what_to_install(tmp_path: Path):
    url = require_postgres()
    config = write_config(
        tmp_path / "kasane.toml", database_url=url, line_url="http://127.0.0.1:1", port=1, secret=SECRET, token=TOKEN
    )
    env = clean_environment()
    env["PATH"] = str(Path(sys.executable).parent)  # python, but no PostgreSQL client tools
    done = kasane(config, "backup", "--output", str(tmp_path / "x.dump"), env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kasane: pg_dump is not installed: install PostgreSQL's client tools (Debian: apt install postgresql-client)"
    )
    assert not (tmp_path / "x.dump").exists()


def test_the_daily_backup_runs_once_a_day_and_keeps_the_newest(tmp_path: Path, database_url: str, clock):
    config = make_config(
        database_url,
        "http://127.0.0.1:1",
        backup={"enabled": True, "directory": str(tmp_path / "daily"), "keep": 2, "time": "03:30"},
    )
    runtime = build_runtime(config, clock=clock)
    try:
        (tmp_path / "daily").mkdir()
        suffix = ".tar.gz" if database_url.startswith("sqlite") else ".dump"
        for day in ("20261120", "20261121", "20261122"):
            (tmp_path / "daily" / f"kasane-daily-{day}-033000{suffix}").write_bytes(b"old")
        (tmp_path / "daily" / f"kasane-by-hand{suffix}").write_bytes(b"kept")
        run_daily_backup(runtime)
        run_daily_backup(runtime)  # the same day (another worker, or a restart): nothing more
        files = sorted(p.name for p in (tmp_path / "daily").iterdir())
        assert files == [
            f"kasane-by-hand{suffix}",
            f"kasane-daily-20261122-033000{suffix}",
            f"kasane-daily-20261124-100000{suffix}",
        ]
        assert stat.S_IMODE(os.stat(tmp_path / "daily" / files[-1]).st_mode) == 0o600
        with runtime.sessions() as session:
            last = last_finished_backup(session)
            assert last is not None and last.ok and last.slot == "scheduled:2026-11-24"
    finally:
        runtime.close()
