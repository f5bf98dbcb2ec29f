"""``kasane network list``, ``approve`` and ``settings``: find networks (and groups waiting for
approval), approve one naming its organizer, tune their follow-ups."""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, fields
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from bot.pipeline import outbox
from bot.replies import compose, messages
from models import Member, Network, Thread, ThreadState
from models.approval import approve, find_network, waiting
from models.settings import NetworkSettings, network_settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "settings", "approve"])
    parser.add_argument(
        "target", nargs="?", metavar="GROUP_OR_ID", help="approve: the group id the bot showed, or a network id"
    )
    parser.add_argument("--organizer", metavar="LINE_USER_ID", help="approve: the organizer's LINE user id (U…)")
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


USER_ID = re.compile(r"U[0-9a-f]{32}")


def approve_network(session: Session, args: argparse.Namespace) -> None:
    """``kasane network approve <groupId or network id> --organizer <LINE user id>``."""
    if not args.target or not args.organizer:
        raise UsageError("usage: kasane network approve <groupId or network id> --organizer <LINE user id>")
    if not USER_ID.fullmatch(args.organizer):
        raise UsageError("--organizer must be a LINE user id: U followed by 32 hex digits")
    net = find_network(session, args.target)
    if net is None:
        raise UsageError(f"no network or waiting group {args.target!r} (see `kasane network list`)")
    if not net.active:
        raise UsageError(f"network {net.id}: the bot has left its group; add the bot to the group again first")
    now = datetime.now(UTC)
    if approve(session, net, now, by="cli", organizer=args.organizer):
        outbox.enqueue(session, net.group_id, [compose.text(messages.APPROVED_GREETING)], now=now, network_id=net.id)
        print(f"network {net.id} approved; organizer set")
    else:
        print(f"network {net.id} was approved already; organizer set")


@command(
    "network",
    help="list networks and groups waiting for approval, approve one, show or change settings",
    configure=configure,
)
def network(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions.begin() as session:
        if args.action == "approve":
            approve_network(session, args)
            return 0
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
                if net.approved:
                    print(f"{net.id}\t{'yes' if net.active else 'no'}\t{member_count}\t{open_count}\t{net.name}")
            groups = waiting(session)
            if groups:
                print("\nwaiting for approval (kasane network approve <group id> --organizer <LINE user id>):")
                print("id\tgroup id\tjoined (UTC)\tname")
                for net in groups:
                    print(f"{net.id}\t{net.group_id}\t{net.created_at:%Y-%m-%d %H:%M}\t{net.name}")
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
