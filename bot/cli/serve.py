"""``kasane serve`` and ``kasane worker``: the composition root of the long-lived processes.

Here, and only here, the mode is decided: with LINE credentials the runtime talks to LINE;
without them (simulator mode) ``bot/simulator/mode.py`` adds the built-in fake LINE platform
and the chat simulator to the product's app.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.cli.database import prepare_database_apart
from bot.cli.main import UsageError, command, wait_for_signal
from bot.cli.stopping import StopOnSignal
from bot.config import Config
from bot.runtime import LineChannel, Runtime
from bot.store.db import is_sqlite, make_engine, normalise_url

log = logging.getLogger("kasane")


def worker_in_threads(config: Config, simulated: bool) -> bool:
    """The simulator's clock lives in the web process, and an in-memory database cannot be shared:
    then the worker runs as threads of ``kasane serve`` instead of processes of its own."""
    return simulated or config.simulator or ":memory:" in config.database_url


def channel_of(config: Config) -> LineChannel | None:
    """The simulator's built-in channel in simulator mode; None: the configured LINE channel."""
    if not config.simulator:
        return None
    from bot.simulator.mode import simulator_channel

    return simulator_channel(config)


LINE_MODE_MARK = "line_mode_used"  # server_keys: a LINE-mode process has used this database


def check_mode(config: Config, simulator_explicit: bool) -> None:
    """Start only when the mode is unambiguous (issue 18, finding 1).

    Both credentials: LINE mode, with a secret of its own (never one of Kasane's built-in
    strings, printed in the source). Neither: simulator mode, but not on PostgreSQL nor on a
    database a LINE-mode process has used, unless ``--simulator`` says so: a production server
    that lost its environment must not silently answer as the simulator on the real database.
    One of them: a one-line error naming the missing one.
    """
    from bot.simulator.mode import SIMULATOR_SECRET, SIMULATOR_TOKEN

    secret, token = config.channel_secret, config.channel_access_token
    if bool(secret) != bool(token):
        missing = "KASANE_LINE_CHANNEL_SECRET ([line] channel_secret)"
        if not token:
            missing = "KASANE_LINE_CHANNEL_ACCESS_TOKEN ([line] channel_access_token)"
        raise UsageError(f"{missing} is not set: LINE mode needs both credentials, simulator mode neither")
    if not config.simulator:
        if simulator_explicit:
            raise UsageError("--simulator: remove the LINE credentials to run in simulator mode")
        if {secret, token} & {SIMULATOR_SECRET, SIMULATOR_TOKEN}:
            raise UsageError("[line] credentials are Kasane's built-in simulator strings: set your channel's own")
        return
    if simulator_explicit:
        return
    if not is_sqlite(normalise_url(config.database_url)):
        raise UsageError("no LINE credentials on a PostgreSQL database: set them, or pass --simulator to mean it")
    if _line_mode_used(config):
        raise UsageError(
            "no LINE credentials, but this database was used in LINE mode: set them, or pass --simulator to mean it"
        )


def _line_mode_used(config: Config) -> bool:
    """Whether the mark of a LINE-mode process is in this (SQLite) database; False for a new file."""
    from sqlalchemy import inspect, select

    from models.server import ServerKey

    url = normalise_url(config.database_url)
    database = make_url(url).database
    if not database or database == ":memory:" or not Path(database).exists():
        return False
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(ServerKey.__tablename__):
            return False
        with engine.connect() as connection:
            return connection.scalar(select(ServerKey.name).where(ServerKey.name == LINE_MODE_MARK)) is not None
    finally:
        engine.dispose()


def mark_line_mode(runtime: Runtime) -> None:
    """LINE mode leaves its mark on the database, so that a later start without credentials refuses it."""
    from models.base import upsert
    from models.server import ServerKey

    if runtime.config.simulator:
        return
    with runtime.sessions.begin() as session:
        upsert(session, ServerKey, ("name",), name=LINE_MODE_MARK, value="1", created_at=runtime.clock.now())


def said_at_start(runtime: Runtime) -> None:
    log.info("secret key: %s", runtime.secret_key.source)
    warn_if_readable_by_others(runtime.config)


def warn_if_readable_by_others(config: Config) -> None:
    """A database file created before Kasane made its files private (or copied in) says so at start."""
    from bot.store.backup import sqlite_path
    from bot.store.db import inbox_path

    for path in (sqlite_path(config.database_url), inbox_path(config.database_url)):
        try:
            mode = path.stat().st_mode if path is not None else 0
        except OSError:
            continue
        if mode & 0o077:
            log.warning("%s is readable by other users (mode %o): chmod 600 it (kasane doctor)", path, mode & 0o777)


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    help_worker = "web only: a separate `kasane worker` handles events and sends (same as [worker] embedded = false)"
    parser.add_argument("--no-worker", action="store_true", help=help_worker)
    parser.add_argument("--no-scheduler", action="store_true", help="do not run scheduled jobs in this server's worker")
    help_time = "simulator: start the clock at ISO-8601 (default: now) and enable its clock control"
    parser.add_argument("--simulate-time", nargs="?", const="now", metavar="ISO-8601", help=help_time)
    add_simulator_flag(parser)


def add_simulator_flag(parser: argparse.ArgumentParser) -> None:
    help_simulator = "simulator mode on PostgreSQL or on a database once used in LINE mode (refused without it)"
    parser.add_argument("--simulator", action="store_true", help=help_simulator)


@command("serve", help="run the webhook server, with a worker process beside it", configure=_configure_serve)
def serve(args: argparse.Namespace, config: Config) -> int:
    from waitress import create_server

    from bot.scheduler import start_scheduler
    from bot.worker_process import ChildProcess

    # At once: a SIGTERM while starting (systemd stopping a slow start) must stop it in order too.
    stopping = StopOnSignal().install()
    check_mode(config, args.simulator)
    if args.host:
        config.values["server"]["host"] = args.host
    if args.port:
        config.values["server"]["port"] = args.port
    clock = None
    if config.simulator:
        from bot.simulator.clock import simulated_clock
        from bot.simulator.mode import fake_line_url

        log.info("simulator mode: no LINE credentials; the built-in fake LINE platform is at %s", fake_line_url(config))
        clock = simulated_clock(args.simulate_time, config) if args.simulate_time is not None else None
    elif args.simulate_time is not None:
        raise UsageError("--simulate-time works only in simulator mode (without LINE credentials)")
    metrics.prepare(config)  # before any process counts anything, and before the fork
    prepare_database_apart(config)
    embedded = config.get("worker", "embedded") and not args.no_worker
    threads = embedded and worker_in_threads(config, clock is not None)
    child = None
    if embedded and not threads:
        # Forked now, before this process has any thread or database connection.
        child = ChildProcess("worker", lambda parent: run_worker(args, config, parent), worker_argv(args))
        child.start()
    app = _web_app(config, clock)
    runtime = app.extensions["kasane"]
    mark_line_mode(runtime)
    said_at_start(runtime)
    start_metrics_listener(runtime)
    host, port = config.get("server", "host"), config.get("server", "port")
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=config.get("server", "threads"),
            # waitress drops X-Forwarded-* unless told otherwise; with trusted proxies configured,
            # Werkzeug's ProxyFix (bot/web/https.py) believes exactly that many of them instead.
            clear_untrusted_proxy_headers=not config.get("server", "trusted_proxies"),
        )
    except OSError as exc:
        if child is not None:
            child.stop()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    remember_where_listening(runtime, host, server)
    if threads:
        runtime.start_worker()
        if config.get("scheduler", "enabled") and not args.no_scheduler:
            start_scheduler(runtime)
    if child is not None:
        child.watch()
    stopping.on_stop = runtime.stop.set
    log.info("Kasane is listening on http://%s:%s (webhook: /callback, health: /healthz)", host, port)
    if config.simulator:
        log.info("simulator: open http://%s:%s/simulator in a browser", host, port)
    stopping.serve(server)
    if child is not None:
        child.stop()
    runtime.shutdown()
    log.info("stopped")
    # What is left is freed by the exit itself: a last collection over everything loaded took
    # 1.5-2 s of CPU (measured), a stop timeout's worth under systemd on a busy machine.
    gc.freeze()
    return 0


def remember_where_listening(runtime: Runtime, host: str, server: Any) -> None:
    """Kept in the database for `kasane login-link` (the port this server was started with)."""
    from models.server import remember_address

    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    port = getattr(server, "effective_port", None) or runtime.config.get("server", "port")
    try:
        with runtime.sessions.begin() as session:
            remember_address(session, f"http://{host}:{port}", runtime.clock.now())
    except SQLAlchemyError as exc:  # a convenience for the CLI: never a reason not to serve
        log.warning("could not record the listening address (%s)", exc.__class__.__name__)


def start_metrics_listener(runtime: Runtime) -> None:
    from bot.web.metrics import start_listener

    start_listener(runtime)


def _web_app(config: Config, clock: object | None):  # type: ignore[no-untyped-def]
    if config.simulator:
        from bot.simulator.clock import CLOCK_ENABLED
        from bot.simulator.mode import simulator_app

        app = simulator_app(config, clock)  # type: ignore[arg-type]
        app.config[CLOCK_ENABLED] = clock is not None
        return app
    from bot.app import create_app
    from bot.runtime import build_runtime

    return create_app(build_runtime(config))


def worker_argv(args: argparse.Namespace, role: str | None = None) -> list[str]:
    """A fresh ``kasane worker`` with these settings (to replace a child process that died)."""
    argv = [sys.executable, "-m", "bot"]
    if args.config:
        argv += ["--config", args.config]
    if args.verbose:
        argv.append("-v")
    argv.append("worker")
    if args.no_scheduler:
        argv.append("--no-scheduler")
    if role:
        argv += ["--role", role]
    return argv


def run_worker(args: argparse.Namespace, config: Config, parent: int | None = None, role: str = "handle") -> int:
    """Until SIGTERM (or the parent's end): ``handle`` the inbox and run scheduled jobs, with a
    sender process beside it; or only ``send`` the outbox (that sender process)."""
    from bot.pipeline.outbox import OUTBOX_CHANNEL
    from bot.runtime import build_runtime
    from bot.scheduler import start_scheduler
    from bot.store.inbox_writer import INBOX_CHANNEL
    from bot.store.wakeup import database_wakeup
    from bot.worker_process import ChildProcess, die_with_parent, lower_priority

    stop_early = threading.Event()  # a SIGTERM while starting: stop as soon as there is something to stop
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_early.set())
    lower_priority(config.get("worker", "nice"))
    sender = None
    if role == "handle":  # forked before this process has threads or connections
        sender = ChildProcess("sender", lambda me: run_worker(args, config, me, "send"), worker_argv(args, "send"))
        sender.start()
    runtime = build_runtime(config, channel=channel_of(config))
    if parent is not None:
        die_with_parent(parent, runtime.stop.set)
    else:
        mark_line_mode(runtime)
        said_at_start(runtime)
    stopped = wait_for_signal(runtime.stop.set)
    if stop_early.is_set():
        log.info("stopping (signal received while starting)")
        runtime.stop.set()
    if role == "send":
        runtime.start_sender(database_wakeup(runtime.engine, OUTBOX_CHANNEL))
        log.info("sender %s: sending the outbox", runtime.sender.name)
    else:
        runtime.start_inbox(database_wakeup(runtime.inbox.inbox, INBOX_CHANNEL))
        if config.get("scheduler", "enabled") and not args.no_scheduler:
            start_scheduler(runtime)
        if sender is not None:
            sender.watch()
        log.info("worker: handling webhook events, running scheduled jobs")
    while not runtime.stop.is_set():
        stopped.wait(1.0)
    if sender is not None:
        sender.stop()
    runtime.shutdown()
    log.info("%s stopped", "sender" if role == "send" else "worker")
    gc.freeze()  # see serve(): no last collection over everything loaded at exit
    return 0


def _configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-scheduler", action="store_true")
    # A replacement for a sender process that died (its worker starts it).
    parser.add_argument("--role", choices=["handle", "send"], default="handle", help=argparse.SUPPRESS)
    # Set by `kasane serve` when it starts a replacement worker: stop when that server is gone.
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    add_simulator_flag(parser)


@command(
    "worker",
    help="handle webhook events and run scheduled jobs, with a sender process (no web server)",
    configure=_configure_worker,
)
def worker(args: argparse.Namespace, config: Config) -> int:
    directory = metrics.prepare(config)
    if directory is not None and args.parent is None and not config.get("metrics", "directory"):
        log.warning("metrics: set [metrics] directory, shared with the web process, for /metrics to count this worker")
    if args.parent is None:
        check_mode(config, args.simulator)
        prepare_database_apart(config)
    return run_worker(args, config, parent=args.parent, role=args.role)
