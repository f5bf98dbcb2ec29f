"""``kasane backup`` and ``kasane restore`` (bot/store/backup.py does the work)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from bot.store.backup import BackupError, backup_directory, default_name, recorded_backup, require_tools, restore


def _configure_backup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", help="the file to write (default: [backup] directory / kasane-<time>.tar.gz|.dump)")


@command("backup", help="back up the database while Kasane runs (SQLite: gzip'd copy; PostgreSQL: pg_dump)",
         configure=_configure_backup)
def backup(args: argparse.Namespace, config: Config) -> int:
    url = config.database_url
    now = datetime.now(ZoneInfo(config.timezone))
    if args.output:
        output = Path(args.output)
    else:
        output = backup_directory(url, config.get("backup", "directory")) / default_name(url, now)
    try:
        require_tools(url)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    sessions = open_sessions(config)
    try:
        made = recorded_backup(sessions, url, output, lambda: datetime.now(UTC))
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    assert made is not None  # no slot: never taken
    print(f"backed up to {made.path} ({made.size:,} bytes, {made.kind})")
    return 0


def _configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a file written by `kasane backup`")


@command("restore", help="restore a backup into an empty database", configure=_configure_restore)
def restore_command(args: argparse.Namespace, config: Config) -> int:
    try:
        kind = restore(Path(args.file), config.database_url)
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    print(f"restored {args.file} ({kind}) into {_shown(config.database_url)}")
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from bot.store.db import normalise_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)
