"""Subcommands of ``kasane`` (registered on ``bot.cli.main.COMMANDS``)."""

from __future__ import annotations

import argparse
import logging
import sys

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.cli.main import UsageError, command, wait_for_signal
from bot.config import Config
from bot.store.db import is_sqlite, make_engine, make_session_factory, normalise_url
from models import Member, Network, OutboxMessage, OutboxStatus, Role
from models.membership import grant_role

log = logging.getLogger("kasane")


def prepare_database(config: Config) -> None:
    """SQLite (the embedded default) is migrated on start; PostgreSQL must be migrated explicitly,
    so that several web processes never race to run migrations."""
    from bot.store.migrate import is_up_to_date, upgrade

    url = config.database_url
    try:
        if is_sqlite(normalise_url(url)):
            upgrade(url)
            return
        engine = make_engine(url)
        up_to_date = is_up_to_date(engine, url)
        engine.dispose()
    except OperationalError as exc:
        raise UsageError(f"cannot open the database ({exc.orig.__class__.__name__}); check [database] url") from None
    if not up_to_date:
        raise UsageError("the database schema is not current: run `kasane db upgrade` first")


def prepare_database_apart(config: Config) -> None:
    """``prepare_database`` for a long-lived process: Alembic is loaded only in a child that exits."""
    from bot.worker_process import in_forked_child

    in_forked_child(lambda: prepare_database(config), UsageError)


def worker_in_threads(config: Config, simulated: bool) -> bool:
    """The simulator's clock lives in the web process, and an in-memory database cannot be shared:
    then the worker runs as threads of ``kasane serve`` instead of processes of its own."""
    return simulated or config.simulator or ":memory:" in config.database_url


@command("serve")
def serve(args: argparse.Namespace, config: Config) -> int:
    from waitress import create_server

    from bot.app import create_app, line_base_url
    from bot.simulator.clock import CLOCK_ENABLED, simulated_clock
    from bot.worker_process import ChildProcess

    if args.host:
        config.values["server"]["host"] = args.host
    if args.port:
        config.values["server"]["port"] = args.port
    if config.simulator:
        log.info(
            "simulator mode: no LINE credentials, using the built-in fake LINE platform at %s", line_base_url(config)
        )
    clock = simulated_clock(args.simulate_time, config) if args.simulate_time is not None else None
    prepare_database_apart(config)
    embedded = config.get("worker", "embedded") and not args.no_worker
    threads = embedded and worker_in_threads(config, clock is not None)
    child = None
    if embedded and not threads:
        # Forked now, before this process has any thread or database connection.
        child = ChildProcess("worker", lambda parent: run_worker(args, config, parent), worker_argv(args))
        child.start()
    app = create_app(config, clock=clock)
    app.config[CLOCK_ENABLED] = clock is not None
    runtime = app.extensions["kasane"]
    host, port = config.get("server", "host"), config.get("server", "port")
    try:
        server = create_server(app, host=host, port=port, threads=config.get("server", "threads"))
    except OSError as exc:
        if child is not None:
            child.stop()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    if threads:
        runtime.start_worker()
        if config.get("scheduler", "enabled") and not args.no_scheduler:
            runtime.start_scheduler()
    if child is not None:
        child.watch()
    wait_for_signal(lambda: (runtime.shutdown(), server.close()))
    log.info("Kasane is listening on http://%s:%s (webhook: /callback, health: /healthz)", host, port)
    if config.simulator:
        log.info("simulator: open http://%s:%s/simulator in a browser", host, port)
    try:
        server.run()
    except (OSError, ValueError):
        pass  # closed by the signal handler
    if child is not None:
        child.stop()
    runtime.shutdown()
    return 0


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
    from bot.app import build_runtime
    from bot.pipeline.outbox import OUTBOX_CHANNEL
    from bot.store.inbox_writer import INBOX_CHANNEL
    from bot.store.wakeup import database_wakeup
    from bot.worker_process import ChildProcess, die_with_parent, lower_priority

    lower_priority(config.get("worker", "nice"))
    sender = None
    if role == "handle":  # forked before this process has threads or connections
        sender = ChildProcess("sender", lambda me: run_worker(args, config, me, "send"), worker_argv(args, "send"))
        sender.start()
    runtime = build_runtime(config)
    if parent is not None:
        die_with_parent(parent, runtime.stop.set)
    stopped = wait_for_signal(runtime.stop.set)
    if role == "send":
        runtime.start_sender(database_wakeup(runtime.engine, OUTBOX_CHANNEL))
        log.info("sender %s: sending the outbox", runtime.sender.name)
    else:
        runtime.start_inbox(database_wakeup(runtime.inbox.inbox, INBOX_CHANNEL))
        if config.get("scheduler", "enabled") and not args.no_scheduler:
            runtime.start_scheduler()
        if sender is not None:
            sender.watch()
        log.info("worker: handling webhook events, running scheduled jobs")
    while not runtime.stop.is_set():
        stopped.wait(1.0)
    if sender is not None:
        sender.stop()
    runtime.shutdown()
    return 0


@command("worker")
def worker(args: argparse.Namespace, config: Config) -> int:
    if args.parent is None:
        prepare_database_apart(config)
    return run_worker(args, config, parent=args.parent, role=args.role)


@command("db")
def db(args: argparse.Namespace, config: Config) -> int:
    from bot.store.migrate import current_revisions, head_revisions, upgrade

    try:
        if args.action == "upgrade":
            upgrade(config.database_url)
            print("database is up to date")
        else:
            engine = make_engine(config.database_url)
            current = ", ".join(sorted(current_revisions(engine))) or "(empty)"
            print(f"current: {current}  head: {', '.join(sorted(head_revisions(config.database_url)))}")
    except OperationalError as exc:
        raise UsageError(f"cannot open the database ({exc.orig.__class__.__name__}); check [database] url") from None
    return 0


def _sessions(config: Config):  # type: ignore[no-untyped-def]
    prepare_database(config)
    return make_session_factory(make_engine(config.database_url))


@command("role")
def role(args: argparse.Namespace, config: Config) -> int:
    sessions = _sessions(config)
    with sessions.begin() as session:
        network = session.get(Network, args.network)
        if network is None:
            raise UsageError(f"no network with id {args.network}")
        if args.action == "list":
            members = session.scalars(select(Member).where(Member.network_id == network.id).order_by(Member.id))
            for member in members:
                org = member.organization.name if member.organization else "-"
                print(f"{member.line_user_id}\t{member.role}\t{org}\t{member.display_name}")
            return 0
        if not args.user:
            raise UsageError(f"role {args.action} needs --user LINE_USER_ID")
        if args.action == "grant":
            if not args.role:
                raise UsageError("role grant needs --role member|coordinator|organizer")
            grant_role(session, network, args.user, Role(args.role))
            print(f"{args.user}: {args.role} in network {network.id}")
        else:
            member = session.scalar(
                select(Member).where(Member.network_id == network.id, Member.line_user_id == args.user)
            )
            if member is None:
                raise UsageError(f"{args.user} is not known in network {network.id}")
            member.role = Role.MEMBER
            print(f"{args.user}: member in network {network.id}")
    return 0


@command("outbox")
def outbox(args: argparse.Namespace, config: Config) -> int:
    sessions = _sessions(config)
    statuses = [OutboxStatus.FAILED, OutboxStatus.PENDING] + ([OutboxStatus.SENT] if args.all else [])
    with sessions() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(statuses))
            .order_by(OutboxMessage.id.desc())
            .limit(args.limit)
        ).all()
    if not rows:
        print("outbox: nothing failed or pending")
        return 0
    print("id\tstatus\tattempts\tchat\tcreated (UTC)\tlast error")
    for row in rows:
        created = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{row.id}\t{row.status}\t{row.attempts}\t{row.chat_id}\t{created}\t{row.last_error or ''}")
    return 0
