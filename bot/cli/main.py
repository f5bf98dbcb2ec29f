"""The ``kasane`` command: serve, worker, db, role, outbox.

Operator mistakes (bad config, unknown network) end with one clear line and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
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
EXTRA_PARSERS: dict[str, tuple[str, Configure]] = {}

# Modules that register subcommands with ``@command``; one line per feature.
COMMAND_MODULES = ["bot.cli.serve", "bot.cli.networks", "bot.cli.meetings", "bot.cli.caselog", "bot.cli.demo"]


class UsageError(Exception):
    """A mistake in what the operator typed: printed as one line, exit status 2."""


def command(name: str, help: str | None = None, configure: Configure | None = None) -> Callable[[Command], Command]:
    """Register a subcommand; ``configure`` adds its arguments (the core ones are in build_parser)."""

    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        if configure is not None:
            EXTRA_PARSERS[name] = (help or "", configure)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kasane", description="Kasane (重ね): LINE bot for mutual-aid networks")
    parser.add_argument("--config", help="TOML config file (or set KASANE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the webhook server, with a worker process beside it")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    help_worker = "web only: a separate `kasane worker` handles events and sends (same as [worker] embedded = false)"
    serve.add_argument("--no-worker", action="store_true", help=help_worker)
    serve.add_argument("--no-scheduler", action="store_true", help="do not run scheduled jobs in this server's worker")
    help_time = "simulator: start the clock at ISO-8601 (default: now) and enable its clock control"
    serve.add_argument("--simulate-time", nargs="?", const="now", metavar="ISO-8601", help=help_time)

    worker = sub.add_parser(
        "worker", help="handle webhook events and run scheduled jobs, with a sender process (no web server)"
    )
    worker.add_argument("--no-scheduler", action="store_true")
    # A replacement for a sender process that died (its worker starts it).
    worker.add_argument("--role", choices=["handle", "send"], default="handle", help=argparse.SUPPRESS)
    # Set by `kasane serve` when it starts a replacement worker: stop when that server is gone.
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])

    role = sub.add_parser("role", help="grant, revoke or list roles in a network")
    role.add_argument("action", choices=["grant", "revoke", "list"])
    role.add_argument("--network", type=int, required=True, help="network id (see `kasane role list`)")
    role.add_argument("--user", help="LINE user id (U...)")
    role.add_argument("--role", choices=["member", "coordinator", "organizer"])

    outbox = sub.add_parser("outbox", help="list failed and pending outgoing messages")
    outbox.add_argument("--all", action="store_true", help="include sent messages")
    outbox.add_argument("--limit", type=int, default=50)

    for name, (help_text, configure) in EXTRA_PARSERS.items():
        configure(sub.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        config = load_config(args.config)
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
