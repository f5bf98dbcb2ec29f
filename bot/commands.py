"""Subcommands of ``kasane`` (registered on ``bot.cli.COMMANDS``)."""

from __future__ import annotations

import argparse
import logging

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.cli import UsageError, command, wait_for_signal
from bot.config import Config
from bot.db import is_sqlite, make_engine, make_session_factory, normalise_url
from models import Member, Network, OutboxMessage, OutboxStatus, Role
from models.membership import grant_role

log = logging.getLogger("kasane")


def prepare_database(config: Config) -> None:
    """SQLite (the embedded default) is migrated on start; PostgreSQL must be migrated explicitly,
    so that several web processes never race to run migrations."""
    from bot.migrate import is_up_to_date, upgrade

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


@command("serve")
def serve(args: argparse.Namespace, config: Config) -> int:
    from waitress import create_server

    from bot.app import create_app, line_base_url
    from bot.simulator.clock import CLOCK_ENABLED, simulated_clock

    if args.host:
        config.values["server"]["host"] = args.host
    if args.port:
        config.values["server"]["port"] = args.port
    if config.simulator:
        log.info(
            "simulator mode: no LINE credentials, using the built-in fake LINE platform at %s", line_base_url(config)
        )
    clock = simulated_clock(args.simulate_time, config) if args.simulate_time is not None else None
    prepare_database(config)
    app = create_app(config, clock=clock)
    app.config[CLOCK_ENABLED] = clock is not None
    runtime = app.extensions["kasane"]
    host, port = config.get("server", "host"), config.get("server", "port")
    try:
        server = create_server(app, host=host, port=port, threads=config.get("server", "threads"))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    if config.get("sender", "in_process") and not args.no_sender:
        runtime.start_sender()
    if config.get("scheduler", "enabled") and not args.no_scheduler:
        runtime.start_scheduler()
    wait_for_signal(lambda: (runtime.shutdown(), server.close()))
    log.info("Kasane is listening on http://%s:%s (webhook: /callback, health: /healthz)", host, port)
    if config.simulator:
        log.info("simulator: open http://%s:%s/simulator in a browser", host, port)
    try:
        server.run()
    except (OSError, ValueError):
        pass  # closed by the signal handler
    runtime.shutdown()
    return 0


@command("worker")
def worker(args: argparse.Namespace, config: Config) -> int:
    from bot.app import build_runtime

    prepare_database(config)
    runtime = build_runtime(config)
    if config.get("scheduler", "enabled") and not args.no_scheduler:
        runtime.start_scheduler()
    wait_for_signal(runtime.shutdown)
    log.info("worker %s: sending the outbox", runtime.sender.name)
    runtime.sender.run_forever(runtime.stop, config.get("sender", "poll_interval"))
    runtime.shutdown()
    return 0


@command("db")
def db(args: argparse.Namespace, config: Config) -> int:
    from bot.migrate import current_revisions, head_revisions, upgrade

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
