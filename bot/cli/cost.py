"""``kasane cost --month YYYY-MM``: counted messages of a month, as LINE bills them."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from models.cost import month_cost
from models.ledger import month_of


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", help="YYYY-MM (Japan time; default: this month)")


@command(
    "cost",
    help="counted messages of a month: by kind and network, the plan, what was not pushed and why",
    configure=_configure,
)
def cost(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    month = args.month or month_of(now)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise UsageError(f"--month: {month!r} is not a month such as 2027-02")
    with open_sessions(config)() as session:
        report = month_cost(session, month, now)
    line = f"; LINE's count {report.line_usage}" if report.line_usage is not None else ""
    print(f"{month}: {report.spent} counted messages (Kasane's ledger {report.counted}{line})")
    if report.allowance:
        print(f"plan: {report.allowance} a month, {report.left} left")
    if report.projection is not None:
        print(f"projection to the month's end: {report.projection}")
    print("by kind:")
    for kind, counted, pushes in report.by_kind:
        print(f"  {kind}\t{counted}\t({pushes} pushes)")
    print("by network:")
    for name, counted in report.by_network:
        print(f"  {name}\t{counted}")
    print("not pushed:")
    for outcome, kind, reason, n in report.not_pushed:
        print(f"  {outcome}\t{kind}\t{n}\t{reason}")
    return 0
