"""The ``kasane`` command: configuration errors, serve in simulator mode, roles, the outbox listing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import ConfigError, load_config
from bot.store.migrate import upgrade
from models import Friend, Network, OutboxMessage


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[line\nchannel_secret = 1", "not valid TOML"),
        ("[line]\nchanel_secret = 'x'", "unknown key [line] chanel_secret"),
        ("[webserver]\nport = 1", "unknown section [webserver]"),
        ("[server]\nport = '8000'", "[server] port must be int, got str"),
        ("[scheduler]\nenabled = 'yes'", "[scheduler] enabled must be bool, got str"),
        ("[server]\nport = true", "[server] port must be int, got bool"),
        ("[sender]\nin_process = false", "[sender] in_process is now [worker] embedded"),
        ("[sender]\nconcurrency = 0", "[sender] concurrency must be between 1 and 64, got 0"),
        ("[worker]\nnice = 40", "[worker] nice must be between 0 and 19, got 40"),
        ("[report]\ncontract_end = '27-03-31'", "[report] contract_end must be a date YYYY-MM-DD or empty"),
        ("[report]\ncontract_end = '2027-02-30'", "[report] contract_end is not a day of the calendar"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys, content: str, expected: str):
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")

    status = main(["--config", str(path), "db", "current"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and expected in err and str(path) in err
    assert "Traceback" not in err


def test_report_dates_as_text_or_toml_dates(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[report]\ncontract_start = 2026-04-01\ncontract_end = "2027-03-31"\n')
    config = load_config(path, environ={})
    assert (config.day("report", "contract_start"), config.day("report", "contract_end")) == (
        date(2026, 4, 1),
        date(2027, 3, 31),
    )
    assert config.day("report", "final_report_due") is None


def test_missing_config_file(capsys, tmp_path: Path):
    assert main(["--config", str(tmp_path / "nope.toml"), "db", "current"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_environment_wins_over_the_file(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[line]\nchannel_secret = "from-file"\n[database]\nurl = "sqlite:///a.db"\n', encoding="utf-8")
    config = load_config(path, environ={"KASANE_LINE_CHANNEL_SECRET": "from-env"})
    assert config.channel_secret == "from-env" and config.database_url == "sqlite:///a.db"
    assert not config.simulator
    assert load_config(environ={"KASANE_CONFIG": str(path)}).channel_secret == "from-file"
    with pytest.raises(ConfigError):
        load_config(environ={"KASANE_CONFIG": str(tmp_path / "missing.toml")})


def test_example_config_documents_every_key():
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(example, environ={})
    from bot.config import SCHEMA

    text = example.read_text(encoding="utf-8")
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"\n{key} = " in text, key
    assert config.simulator


def write_config(tmp_path: Path, database_url: str, **server: object) -> Path:
    path = tmp_path / "config.toml"
    lines = [f'[database]\nurl = "{database_url}"', "[server]"]
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in server.items()]
    path.write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    return path


def test_role_grant_list_revoke(tmp_path: Path, capsys, database_url, session):
    session.add(Network(group_id="C" + "a" * 32, name="テスト"))
    session.commit()
    path = write_config(tmp_path, database_url)
    user = "U" + "b" * 32
    grant = ["--config", str(path), "role", "grant", "--network", "1", "--role", "coordinator", "--user"]

    # An id Kasane has never seen, or the README's placeholder, is refused unless --force (issue 21).
    assert main([*grant, "Uxxxxxxxx"]) == 2
    assert "not a LINE user id" in capsys.readouterr().err
    assert main([*grant, user]) == 2
    assert "has not written in network 1's group nor followed the bot" in capsys.readouterr().err
    assert main([*grant, "U" + "c" * 32, "--force"]) == 0
    session.add(Friend(line_user_id=user))
    session.commit()
    assert (
        main(["--config", str(path), "role", "grant", "--network", "1", "--user", user, "--role", "coordinator"]) == 0
    )
    assert main(["--config", str(path), "role", "list", "--network", "1"]) == 0
    assert f"{user}\tcoordinator" in capsys.readouterr().out
    assert main(["--config", str(path), "role", "revoke", "--network", "1", "--user", user]) == 0
    assert main(["--config", str(path), "role", "grant", "--network", "99", "--user", user, "--role", "member"]) == 2
    assert "no network with id 99" in capsys.readouterr().err
    assert main(["--config", str(path), "role", "grant", "--network", "1", "--role", "member"]) == 2


def test_outbox_lists_failed_and_pending(tmp_path: Path, capsys, database_url, session, clock):
    now = clock.now()
    session.add_all(
        [
            OutboxMessage(
                chat_id="Cfailed", messages=[], status="failed", last_error="rejected: 400 bad", created_at=now
            ),
            OutboxMessage(chat_id="Cpending", messages=[], created_at=now),
            OutboxMessage(chat_id="Csent", messages=[], status="sent", created_at=now),
        ]
    )
    session.commit()
    path = write_config(tmp_path, database_url)

    assert main(["--config", str(path), "outbox"]) == 0
    out = capsys.readouterr().out
    assert "Cfailed" in out and "rejected: 400 bad" in out and "Cpending" in out and "Csent" not in out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_in_simulator_mode_and_answers_healthz(tmp_path: Path):
    """What the README's run command does: no credentials, SQLite, /healthz answers."""
    port = free_port()
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'kasane.db'}", port=port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASANE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(path), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    body = response.read().decode()
            except OSError:
                time.sleep(0.2)
        assert body is not None and '"mode":"simulator"' in body.replace(" ", "")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "simulator mode" in output.splitlines()[0]


def test_serve_refuses_an_unmigrated_postgres_and_busy_port(tmp_path: Path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        db = tmp_path / "busy.db"
        upgrade(f"sqlite:///{db}")
        path = write_config(tmp_path, f"sqlite:///{db}", port=port)
        assert main(["--config", str(path), "serve", "--no-scheduler"]) == 2
    assert "cannot listen on" in capsys.readouterr().err


def test_network_list_and_settings(tmp_path: Path, capsys, database_url, session):
    session.add(Network(group_id="C" + "c" * 32, name="南部ネット", approved_at=datetime.now(UTC)))
    session.commit()
    path = write_config(tmp_path, database_url)

    assert main(["--config", str(path), "network", "list"]) == 0
    assert "1\tyes\t0\t0\t南部ネット" in capsys.readouterr().out
    assert (
        main(
            [
                "--config",
                str(path),
                "network",
                "settings",
                "--network",
                "1",
                "--set",
                "nudge_days=5",
                "--set",
                "quiet_end=19:00",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "nudge_days = 5" in out and "quiet_end = 19:00" in out and "flag_days = 7" in out
    assert main(["--config", str(path), "network", "settings", "--network", "1", "--set", "nudge_days=0"]) == 2
    assert main(["--config", str(path), "network", "settings", "--network", "1", "--set", "colour=blue"]) == 2
    assert main(["--config", str(path), "network", "settings", "--network", "1", "--set", "quiet_start=25:00"]) == 2
    assert "unknown setting 'colour'" in capsys.readouterr().err
