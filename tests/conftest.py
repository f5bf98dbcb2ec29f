"""Shared fixtures: a real database (SQLite or PostgreSQL), a controlled clock, the fake LINE platform.

The suite runs on SQLite by default; ``KASANE_TEST_DATABASE=postgres`` runs it on the
PostgreSQL database named by ``KASANE_TEST_POSTGRES_URL`` (``.ci/run`` does both).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from harness import RunningSender, World
from hypothesis import settings
from sqlalchemy import Engine, text

from bot.app import create_app
from bot.clock import Clock
from bot.config import load_config
from bot.fakeline import FakeLinePlatform, FakeLineServer
from bot.runtime import build_runtime
from bot.store.db import make_engine
from bot.store.migrate import upgrade

JST = ZoneInfo("Asia/Tokyo")
SECRET = "test-channel-secret"
TOKEN = "test-channel-access-token"
SHARED = Path(__file__).resolve().parents[2] / "shared"
IN_CI = os.environ.get("CI") == "true"

# Hypothesis: under CI=true the same examples every run (derandomized, no example database),
# so a red CI run is red again on the next push; locally new examples each run. No deadline:
# a per-example time limit is a wall-clock assertion, and speed belongs in bench/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("dev", print_blob=True, deadline=None)
settings.load_profile("ci" if IN_CI else "dev")


def postgres_url() -> str | None:
    return os.environ.get("KASANE_TEST_POSTGRES_URL") or None


def require_postgres() -> str:
    """PostgreSQL-only tests skip without a server, except in CI where that would hide a failure."""
    url = postgres_url()
    if url is None:
        if IN_CI:
            pytest.fail("KASANE_TEST_POSTGRES_URL is not set, but CI=true: PostgreSQL tests must run")
        pytest.skip("PostgreSQL tests need KASANE_TEST_POSTGRES_URL (see README)")
    return url


def require_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing, but CI=true")
        pytest.skip(f"{path} not present (LINE fixtures exist in CI only)")
    return path


USING_POSTGRES = os.environ.get("KASANE_TEST_DATABASE") == "postgres"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kasane.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    url = require_postgres()
    upgrade(url)
    return url


TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"


def truncate_all(engine: Engine) -> None:
    with engine.begin() as connection:
        tables = connection.execute(text(TABLES_SQL)).scalars().all()
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if USING_POSTGRES:
        url = request.getfixturevalue("postgres_migrated")
        engine = make_engine(url)
        truncate_all(engine)
        engine.dispose()
        return url
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "kasane.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    """Tuesday 24 November 2026, 10:00 in Japan: inside the bot's default quiet-hours window."""
    return Clock(fixed=datetime(2026, 11, 24, 10, 0, tzinfo=JST))


@pytest.fixture
def platform(clock: Clock) -> FakeLinePlatform:
    return FakeLinePlatform(TOKEN, clock=clock.now)


@pytest.fixture
def line_server(platform: FakeLinePlatform) -> Iterator[FakeLineServer]:
    with FakeLineServer(platform) as server:
        yield server


def make_config(database_url: str, line_url: str, **sections: dict[str, object]):  # type: ignore[no-untyped-def]
    overrides: dict[str, dict[str, object]] = {
        "line": {
            "channel_secret": SECRET,
            "channel_access_token": TOKEN,
            "api_base_url": line_url,
            "request_timeout": 2.0,
        },
        "database": {"url": database_url},
        "server": {"secret_key": "test-session-key-not-secret"},
        "scheduler": {"enabled": False},
        # Groups are approved at once, as in simulator mode: the conversations under test start
        # with the bot joining. The approval itself is tested in tests/test_open_internet.py.
        "networks": {"approval": "automatic"},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_config(environ={}, overrides=overrides)


@pytest.fixture
def config(database_url: str, line_server: FakeLineServer):  # type: ignore[no-untyped-def]
    return make_config(database_url, line_server.url)


@pytest.fixture
def app(config, clock: Clock, engine: Engine):  # type: ignore[no-untyped-def]
    app = create_app(build_runtime(config, clock=clock, engine=engine))
    app.config["TESTING"] = True
    yield app
    app.extensions["kasane"].close()


@pytest.fixture
def runtime(app):  # type: ignore[no-untyped-def]
    return app.extensions["kasane"]


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def world(client, runtime, platform: FakeLinePlatform) -> World:  # type: ignore[no-untyped-def]
    return World(client, runtime, platform, SECRET)


@pytest.fixture
def production_sender(world):  # type: ignore[no-untyped-def]
    """The world's sender runs as production runs it for the whole test: ``run_forever`` in a thread
    of its own; ``world.deliver()`` waits for it to settle instead of draining row by row."""
    with RunningSender(world.runtime.sender) as running:
        world.running_sender = running
        yield running
        world.running_sender = None


@pytest.fixture
def session(runtime):  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        yield session


# --- privacy guard over the whole suite ----------------------------------------------
PHONE_OR_EMAIL = re.compile(r"0\d{1,4}[-‐ー−–]\d{1,4}[-‐ー−–]\d{3,4}|[\w.+-]+@[\w-]+\.[\w.]+")


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_identifiers_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test: nothing logged may look like a phone number or an e-mail address.

    Tests post such identifiers on purpose; they must be masked before anything is
    stored, and never reach a log line (NFKC first: full-width digits are digits).
    """
    recorder = _Recorder()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(recorder)
        root.setLevel(previous)
    if request.node.get_closest_marker("allow_identifiers_in_logs"):
        return
    leaked = [line for line in recorder.lines if PHONE_OR_EMAIL.search(unicodedata.normalize("NFKC", line))]
    assert not leaked, f"identifiers in log output: {leaked[:3]}"


# --- quick replies on the last message, over the whole suite ---------------------------------
@pytest.fixture(autouse=True)
def quick_replies_only_on_the_last_message(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every batch any fake LINE platform of this test accepted: quick replies on its last message only.

    LINE shows quick replies only while their message is the last in the chat; chips on an earlier
    message of a batch are never seen. Checked on what LINE accepted, whoever queued it.
    """
    accepted: list[tuple[str, list[dict[str, object]]]] = []
    original = FakeLinePlatform.accept

    def recording(self: FakeLinePlatform, **kwargs: Any) -> Any:
        accepted.append((str(kwargs.get("via")), list(kwargs.get("messages") or [])))
        return original(self, **kwargs)

    monkeypatch.setattr(FakeLinePlatform, "accept", recording)
    yield
    misplaced = [
        (via, [m.get("type") for m in messages])
        for via, messages in accepted
        if any("quickReply" in m for m in messages[:-1])
    ]
    assert not misplaced, f"quick replies on a message that is not the last of its batch: {misplaced[:3]}"
