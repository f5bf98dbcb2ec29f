"""``kasane role grant|revoke|list``: who coordinates or organizes a network."""

from __future__ import annotations

import argparse
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from models import Friend, Member, Network, Role
from models.dashboard import end_all_sessions
from models.meeting import revoke_feeds
from models.membership import grant_role


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["grant", "revoke", "list"])
    parser.add_argument("--network", type=int, required=True, help="network id (see `kasane role list`)")
    parser.add_argument("--user", help="LINE user id (U...)")
    parser.add_argument("--role", choices=["member", "coordinator", "organizer"])
    parser.add_argument(
        "--force", action="store_true", help="grant to a user id Kasane has not seen (not in the group, not a friend)"
    )


# A LINE user id: "U" and 32 hexadecimal digits. The README's "Uxxxxxxxx" is a placeholder.
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


def known_user(session: Session, network: Network, user: str) -> bool:
    """Seen by Kasane: a member of the network (wrote or pressed in its group) or a friend of the bot."""
    member = select(Member.id).where(Member.network_id == network.id, Member.line_user_id == user)
    return session.scalar(member) is not None or session.get(Friend, user) is not None


@command("role", help="grant, revoke or list roles in a network", configure=_configure)
def role(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
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
            if not args.force and not LINE_USER_ID.fullmatch(args.user):
                raise UsageError(f"{args.user!r} is not a LINE user id (U and 32 hex digits); --force to grant anyway")
            if not args.force and not known_user(session, network, args.user):
                raise UsageError(
                    f"{args.user} has not written in network {network.id}'s group nor followed the bot; "
                    "check the id (kasane role list) or --force to grant anyway"
                )
            grant_role(session, network, args.user, Role(args.role))
            if args.role != Role.ORGANIZER:
                revoke_feeds(session, network.id, args.user)  # no organizer: no calendar URL
            print(f"{args.user}: {args.role} in network {network.id}")
        else:
            member = session.scalar(
                select(Member).where(Member.network_id == network.id, Member.line_user_id == args.user)
            )
            if member is None:
                raise UsageError(f"{args.user} is not known in network {network.id}")
            member.role = Role.MEMBER
            end_all_sessions(session, args.user)  # signed in elsewhere: signed out now
            revoke_feeds(session, network.id, args.user)  # their calendar URL stops too
            print(f"{args.user}: member in network {network.id}; signed out of the dashboard")
    return 0
