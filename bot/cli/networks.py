"""``kasane network list`` and ``kasane network settings``: find networks, tune their follow-ups."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields

from sqlalchemy import func, select

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from models import Member, Network, Thread, ThreadState
from models.settings import NetworkSettings, network_settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "settings"])
    parser.add_argument("--network", type=int, help="network id (for settings)")
    parser.add_argument(
        "--set", dest="values", action="append", default=[], metavar="KEY=VALUE", help="e.g. --set nudge_days=5"
    )


def parse_values(pairs: list[str]) -> dict[str, object]:
    types = {f.name: f.type for f in fields(NetworkSettings)}
    changes: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in types:
            raise UsageError(f"unknown setting {key!r}; known: {', '.join(types)}")
        if types[key] in (bool, "bool"):
            if raw.lower() not in ("true", "false"):
                raise UsageError(f"{key} must be true or false, got {raw!r}")
            changes[key] = raw.lower() == "true"
        elif types[key] in (int, "int"):
            if not raw.isdigit() or int(raw) < 1:
                raise UsageError(f"{key} must be a positive whole number, got {raw!r}")
            changes[key] = int(raw)
        else:
            try:
                from datetime import time

                time.fromisoformat(raw)
            except ValueError:
                raise UsageError(f"{key} must be a time like 09:00, got {raw!r}") from None
            changes[key] = raw
    return changes


@command("network", help="list networks, show or change a network's settings", configure=configure)
def network(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions.begin() as session:
        if args.action == "list":
            open_threads = (
                select(func.count(Thread.id))
                .where(Thread.network_id == Network.id, Thread.state == ThreadState.OPEN)
                .scalar_subquery()
            )
            members = select(func.count(Member.id)).where(Member.network_id == Network.id).scalar_subquery()
            print("id\tactive\tmembers\topen threads\tname")
            for row in session.execute(select(Network, members, open_threads).order_by(Network.id)):
                net, member_count, open_count = row
                print(f"{net.id}\t{'yes' if net.active else 'no'}\t{member_count}\t{open_count}\t{net.name}")
            return 0
        if args.network is None:
            raise UsageError("network settings needs --network ID")
        net = session.get(Network, args.network)
        if net is None:
            raise UsageError(f"no network with id {args.network}")
        changes = parse_values(args.values)
        if changes:
            net.settings = {**(net.settings or {}), **changes}
        for key, value in asdict(network_settings(net)).items():
            print(f"{key} = {value}")
    return 0
