"""What `kasane serve` keeps in memory: the server and the processes forked from it.

Every module the server imports is in the worker and the sender too, and stays for the life of
the process. So what only a moment needs (migrating the schema, writing an Excel file) is kept
out of it, and what all of them need is loaded once, before the fork, to be shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import UsageError
from bot.cli.serve import prepare_database_apart
from bot.config import load_config
from bot.worker_process import in_forked_child

REPO = Path(__file__).resolve().parents[1]
# Loaded only by whoever needs them, when they need them (together ~27 MB per process tree).
ONLY_WHEN_NEEDED = ("alembic", "mako", "pygments", "openpyxl")


def run_python(code: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASANE_")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kasane.toml"
    path.write_text(f'[database]\nurl = "{url}"\n')
    return path


def test_the_server_migrates_in_a_child_and_never_loads_alembic_itself(tmp_path):
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'kasane.db'}")
    out = run_python(
        "import importlib, sys, sqlite3\n"
        "from bot.cli.main import COMMAND_MODULES\n"
        "for name in COMMAND_MODULES: importlib.import_module(name)\n"
        "from bot.cli.serve import prepare_database_apart\n"
        "from bot.config import load_config\n"
        "from bot.worker_process import preload\n"
        f"prepare_database_apart(load_config({str(config)!r}))\n"
        "preload()\n"
        f"db = sqlite3.connect({str(tmp_path / 'kasane.db')!r})\n"
        "names = \"('threads', 'outbox', 'alembic_version')\"\n"
        "tables = db.execute(f'SELECT count(*) FROM sqlite_master WHERE name IN {names}').fetchone()[0]\n"
        f"print(tables, [m for m in {ONLY_WHEN_NEEDED!r} if m in sys.modules])\n",
        tmp_path,
    )
    assert out == "3 []"


def test_a_refusal_in_the_child_is_the_same_one_line_error(tmp_path):
    config = load_config(str(config_file(tmp_path, f"sqlite:///{tmp_path / 'no' / 'such' / 'kasane.db'}")))
    with pytest.raises(UsageError, match=r"^cannot open the database \(OperationalError\); check \[database\] url$"):
        prepare_database_apart(config)


def test_a_child_that_fails_unexpectedly_stops_the_start_too():
    def broken() -> None:
        raise RuntimeError("a bug")  # logged with its traceback by the child

    with pytest.raises(UsageError, match="stopped with status 1"):
        in_forked_child(broken, UsageError)
