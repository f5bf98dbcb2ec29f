"""``kasane outbox``: messages that are waiting, or that LINE refused."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from bot.cli.database import open_sessions
from bot.cli.main import command
from bot.config import Config
from models import OutboxMessage, OutboxStatus


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="include sent messages")
    parser.add_argument("--limit", type=int, default=50)


@command("outbox", help="list failed and pending outgoing messages", configure=_configure)
def outbox(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
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
