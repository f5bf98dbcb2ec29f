"""``kasane doctor`` against the fake LINE platform: each way a channel or a server can be set up
wrong gives its ✘ line with what to do, and exit status 1.

Every check passing, with LINE's webhook test reaching Kasane over HTTPS, is in test_https.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TOKEN
from faults import free_port, write_config
from sqlalchemy.orm import Session

from bot.cli.main import main
from bot.fakeline import FakeLinePlatform, FakeLineServer
from bot.store.db import make_engine
from models.operations import beat, finish_backup, start_backup

# A channel secret as LINE issues them: 32 hexadecimal characters.
CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
PUBLIC = "https://kasane.example.org"


class Doctor:
    def __init__(self, tmp_path: Path, database_url: str, platform: FakeLinePlatform, line_url: str) -> None:
        self.tmp_path, self.database_url, self.platform, self.line_url = tmp_path, database_url, platform, line_url
        self.config = self.write()

    def write(self, **changes: object) -> Path:
        settings: dict[str, object] = dict(
            database_url=self.database_url,
            line_url=self.line_url,
            port=free_port(),
            secret=CHANNEL_SECRET,
            token=TOKEN,
            public_url=PUBLIC,
        )
        settings.update(changes)
        path = write_config(self.tmp_path / "kasane.toml", **settings)  # type: ignore[arg-type]
        path.chmod(0o600)
        return path

    def run(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        code = main(["--config", str(self.config), "doctor"])
        return code, capsys.readouterr().out.splitlines()

    def alive(self) -> None:
        """The worker and the sender beat just now (as `kasane serve` would)."""
        engine = make_engine(self.database_url)
        now = datetime.now(UTC)
        with Session(engine) as session:
            for role in ("worker", "sender"):
                beat(session, role=role, instance=f"{role}:h:1", host="h", pid=1, started_at=now, now=now)
            session.commit()
        engine.dispose()


@pytest.fixture
def doctor(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    # Relative paths ([backup] directory on PostgreSQL) resolve here, never in the repository.
    monkeypatch.chdir(tmp_path)
    platform = FakeLinePlatform(TOKEN, channel_secret=CHANNEL_SECRET)
    platform.set_bot_info(display_name="ひかり市ささえあい", basic_id="@889kasane")
    platform.set_webhook_endpoint(PUBLIC + "/callback")
    with FakeLineServer(platform) as server:
        yield Doctor(tmp_path, database_url, platform, server.url)


def line_of(lines: list[str], start: str) -> tuple[str, str]:
    """The check's line and the advice under it ("" when none)."""
    for n, line in enumerate(lines):
        if line[2:].startswith(start):
            advice = lines[n + 1].strip() if n + 1 < len(lines) and lines[n + 1].startswith("    → ") else ""
            return line, advice
    raise AssertionError(f"no line starting {start!r} in:\n" + "\n".join(lines))


def test_the_channel_as_set_up_at_line(doctor, capsys):
    code, lines = doctor.run(capsys)
    assert code == 1  # LINE cannot reach kasane.example.org from here
    assert line_of(lines, "configuration")[0].startswith("✔ configuration (")
    assert (
        line_of(lines, "LINE credentials are valid")[0]
        == "✔ LINE credentials are valid: bot 「ひかり市ささえあい」 (@889kasane)"
    )
    assert line_of(lines, "chat mode is bot")[0].startswith("✔")
    assert line_of(lines, "public_url is")[0] == f"✔ public_url is {PUBLIC}"
    assert line_of(lines, "LINE sends webhooks to")[0] == f"✔ LINE sends webhooks to {PUBLIC}/callback (in use)"
    line, advice = line_of(lines, "LINE could not reach")
    assert line.startswith(f"✘ LINE could not reach {PUBLIC}/callback: 0 COULD_NOT_CONNECT")
    assert "HTTPS" in advice
    assert line_of(lines, "secret key")[0] == "✔ secret key: [server] secret_key is set"
    assert line_of(lines, "the database answers")[0].startswith("✔")
    assert lines[-1].endswith("failed")
    assert CHANNEL_SECRET not in "\n".join(lines) and TOKEN not in "\n".join(lines)


def test_a_wrong_access_token_is_a_401_from_line(doctor, capsys):
    doctor.platform.channel_access_token = "a-token-line-revoked"
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "LINE refused")
    assert code == 1 and line == "✘ LINE refused the channel access token (401)"
    assert "channel_access_token" in advice


def test_chat_mode_chat_means_line_answers_beside_kasane(doctor, capsys):
    doctor.platform.set_bot_info(chat_mode="chat")
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "the account's chat is on")
    assert code == 1 and line.startswith("✘") and "応答メッセージ off" in advice and "あいさつメッセージ off" in advice


def test_a_webhook_url_pointing_elsewhere(doctor, capsys):
    doctor.platform.set_webhook_endpoint("https://old-server.example.org/webhook")
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "LINE sends webhooks to")
    assert code == 1
    assert line == f"✘ LINE sends webhooks to https://old-server.example.org/webhook, not to {PUBLIC}/callback"
    assert advice == f"→ LINE Developers console → Messaging API → Webhook URL: {PUBLIC}/callback"


def test_a_webhook_registered_but_not_in_use(doctor, capsys):
    doctor.platform.set_webhook_endpoint(PUBLIC + "/callback", active=False)
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "the webhook")
    assert code == 1 and line.startswith("✘") and "Use webhook" in advice


def test_no_webhook_url_at_all(doctor, capsys):
    doctor.platform.set_webhook_endpoint(None)
    code, lines = doctor.run(capsys)
    assert line_of(lines, "no webhook URL")[0] == "✘ no webhook URL is set at LINE"


def test_line_failing_its_own_test_call(doctor, capsys):
    doctor.platform.fail_next(status=500, endpoint="webhook_test")
    code, lines = doctor.run(capsys)
    assert code == 1 and line_of(lines, "LINE's webhook test could not run")[0].startswith("✘")


@pytest.mark.parametrize(("public_url", "expected"), [("", "is empty"), ("http://kasane.example.org", "is not https")])
def test_public_url_must_be_https(doctor, capsys, public_url, expected):
    doctor.config = doctor.write(public_url=public_url)
    code, lines = doctor.run(capsys)
    line, _ = line_of(lines, "[server] public_url")
    assert code == 1 and line.startswith("✘") and expected in line


def test_an_unmigrated_database(doctor, capsys, tmp_path: Path):
    doctor.config = doctor.write(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "the database is at")
    assert code == 1 and line.startswith("✘ the database is at empty") and advice == "→ kasane db upgrade"


def test_files_others_can_read(doctor, capsys, tmp_path: Path):
    doctor.config.chmod(0o644)
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "readable by other users")
    assert code == 1 and str(doctor.config) in line and "-rw-r--r--" in line and "chmod 600" in advice


def test_files_kept_private_pass(doctor, capsys, database_url: str):
    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            path.chmod(0o600)
    code, lines = doctor.run(capsys)
    assert line_of(lines, "configuration, database, key and backup files are private")[0].startswith("✔")


def test_a_stopped_worker_and_sender(doctor, capsys):
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "the worker")
    assert code == 1 and line == "✘ the worker is not running (last heartbeat never)" and "systemctl" in advice
    assert line_of(lines, "the sender")[0] == "✘ the sender is not running (last heartbeat never)"
    doctor.alive()
    code, lines = doctor.run(capsys)
    assert line_of(lines, "the worker is alive")[0].startswith("✔") and line_of(lines, "the sender is alive")


def test_backups_never_made_failed_or_old(doctor, capsys, database_url: str):
    code, lines = doctor.run(capsys)
    assert line_of(lines, "no backup")[0] == "✘ no backup has been made"
    engine = make_engine(database_url)
    with Session(engine) as session:
        run = start_backup(session, datetime.now(UTC) - timedelta(days=3))
        assert run is not None
        finish_backup(
            session, run, datetime.now(UTC) - timedelta(days=3), ok=True, path="/b/k.tar.gz", size=9, message="ok"
        )
        session.commit()
    code, lines = doctor.run(capsys)
    assert line_of(lines, "the last backup is 3 day(s) old")[0].startswith("✘")
    with Session(engine) as session:
        run = start_backup(session, datetime.now(UTC))
        assert run is not None
        finish_backup(session, run, datetime.now(UTC), ok=False, path="/b/x", size=None, message="disk full")
        session.commit()
    code, lines = doctor.run(capsys)
    assert line_of(lines, "the last backup failed")[0].endswith(": disk full")
    engine.dispose()


def test_simulator_mode_is_not_an_installation(tmp_path: Path, capsys):
    path = tmp_path / "sim.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "s.db"}"\n', encoding="utf-8")
    code = main(["--config", str(path), "doctor"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and lines[0].startswith("✘ configuration") and "simulator mode" in lines[0]


def test_a_channel_secret_that_is_not_one(doctor, capsys):
    doctor.config = doctor.write(secret="test-channel-secret")
    code, lines = doctor.run(capsys)
    assert code == 1 and "not 32 hexadecimal characters" in lines[0]


def test_the_message_plan_used_up(doctor, capsys):
    doctor.platform.set_plan(200)  # the free plan
    code, lines = doctor.run(capsys)
    assert line_of(lines, "message plan")[0] == "✔ message plan: 0 of 200 counted messages used this month"
    doctor.platform.monthly_limit_reached()
    code, lines = doctor.run(capsys)
    line, advice = line_of(lines, "message plan")
    assert code == 1 and line.startswith("✘") and "pushes fail until it ends" in line


def test_a_plan_that_cannot_be_read_is_reported_not_hidden(doctor, capsys):
    doctor.platform.fail_next(1, status=500, endpoint="message_quota_consumption")
    code, lines = doctor.run(capsys)
    assert line_of(lines, "the message plan could not be read")[0] == (
        "✘ the message plan could not be read (500 Internal Server Error)"
    )


def test_the_doctor_prints_no_secret_in_any_failure(doctor, capsys):
    doctor.platform.channel_access_token = "other"
    os.environ.pop("KASANE_LINE_CHANNEL_ACCESS_TOKEN", None)
    code, lines = doctor.run(capsys)
    text = "\n".join(lines)
    assert CHANNEL_SECRET not in text and TOKEN not in text and "faults-session-key" not in text
