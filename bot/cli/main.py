"""The ``kasane`` command: the parser, the registry of subcommands and how errors end.

Operator mistakes (bad config, unknown network) end with one clear line and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import Config, ConfigError, load_config

log = logging.getLogger("kasane")

Command = Callable[[argparse.Namespace, Config], int]
Configure = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, Command] = {}
PARSERS: dict[str, tuple[str, Configure | None]] = {}

# Modules that register subcommands with ``@command``; one line per feature.
COMMAND_MODULES = [
    "bot.cli.serve",
    "bot.cli.database",
    "bot.cli.roles",
    "bot.cli.outbox",
    "bot.cli.networks",
    "bot.cli.meetings",
    "bot.cli.caselog",
    "bot.cli.demo",
    "bot.cli.richmenu",
    "bot.cli.backup",
    "bot.cli.doctor",
    "bot.cli.cost",
]


class UsageError(Exception):
    """A mistake in what the operator typed: printed as one line, exit status 2."""


def command(name: str, help: str | None = None, configure: Configure | None = None) -> Callable[[Command], Command]:
    """Register a subcommand; ``configure`` adds its arguments."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        PARSERS[name] = (help or "", configure)
        return fn

    return register


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # waitress warns "Task queue depth is N" for every queued request under a burst.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def _configure_logging(config: Config, verbose: bool) -> None:
    from bot import logs

    problem = logs.check_levels(config.get("log", "levels"))
    if problem is not None:
        raise ConfigError(f"{config.source}: {problem}")
    logs.configure(config, verbose)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="kasane", description="Kasane (重ね): LINE bot for mutual-aid networks")
    parser.add_argument("--config", help="TOML config file (or set KASANE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, (help_text, configure) in PARSERS.items():
        subparser = sub.add_parser(name, help=help_text)
        if configure is not None:
            configure(subparser)
    return parser


# Files Kasane creates hold case records and secrets: the database, the inbox, their -wal and
# -shm files, generated keys, exports and backups are for this user only (0600, folders 0700).
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # before anything is opened; inherited by the worker processes
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        config = load_config(args.config)
        _configure_logging(config, args.verbose)
        return COMMANDS[args.command](args, config)
    except (ConfigError, UsageError) as exc:
        print(f"kasane: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def wait_for_signal(on_stop: Callable[[], Any]) -> threading.Event:
    stopped = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping (signal %d)", signum)
        on_stop()
        stopped.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stopped
