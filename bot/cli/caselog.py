"""``kasane login-link``, ``export``, ``report`` and ``retention``: the case log from a terminal.

Bad input (an unknown network, a month that is not YYYY-MM) is one line and exit status 2.
Long work (exports, retention) reports progress on stderr, so stdout stays clean for pipes.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.cli.database import open_links, open_sessions
from bot.cli.main import UsageError, command
from bot.clock import Clock
from bot.config import Config
from bot.web.dashboard import caselog, exports, report_files
from models import Network
from models.dashboard import coordinated_networks
from models.report import Period, date_period, fiscal_year_period, month_period, parse_month


def _progress(label: str, total: int | None = None) -> Any:
    def report(done: int) -> None:
        of = f"/{total:,}" if total else ""
        print(f"{label}: {done:,}{of}", file=sys.stderr, flush=True)

    return report


def _month(text: str) -> tuple[int, int]:
    parsed = parse_month(text)
    if parsed is None:
        raise UsageError(f"--month must be YYYY-MM (e.g. 2026-10), got {text!r}")
    return parsed


def _network(session: Any, text: str) -> Network:
    network = session.get(Network, int(text)) if text.isdigit() else None
    if network is None:
        raise UsageError(f"no network with id {text!r} (see `kasane role list`)")
    return network


def _case_log_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, help="network id")
    parser.add_argument("--month", required=True, help="YYYY-MM (threads posted in that month)")


def _export_args(parser: argparse.ArgumentParser) -> None:
    _case_log_args(parser)
    parser.add_argument("--format", default="xlsx", help="csv or xlsx (default xlsx)")
    parser.add_argument("--output", help="file to write (default: kasane-case-log-<network>-<month>.<format>)")


def _login_link_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="LINE user id (U...)")


def _retention_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="only show what would be erased")


@command("login-link", help="print a one-time dashboard sign-in link for a coordinator", configure=_login_link_args)
def login_link(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    # Signed with the server's own key: configured, or the one the server generated and kept.
    links = open_links(config, sessions)
    with sessions.begin() as session:
        if not coordinated_networks(session, args.user):
            raise UsageError(f"{args.user} is not a coordinator or organizer of any network")
        link = links.issue_sign_in(session, args.user, Clock().now(), via="cli")
    print(link)
    return 0


@command("export", help="export a month of the case log as CSV or Excel", configure=_export_args)
def export(args: argparse.Namespace, config: Config) -> int:
    year, month = _month(args.month)
    if args.format not in ("csv", "xlsx"):
        raise UsageError(f"--format must be csv or xlsx, got {args.format!r}")
    sessions = open_sessions(config)
    with sessions() as session:
        network = _network(session, args.network)
        filters = caselog.ThreadFilter(month=f"{year:04d}-{month:02d}")
        where = filters.conditions(network)
        total = caselog.count_rows(session, where)
        output = Path(args.output or f"kasane-case-log-{network.id}-{filters.month}.{args.format}")
        print(f"exporting {total:,} threads of network {network.id} ({filters.month}) to {output}", file=sys.stderr)
        rows = caselog.export_rows(session, network, where)
        progress = _progress("rows", total)
        try:
            with output.open("wb") as out:
                if args.format == "csv":
                    written = exports.write_csv(caselog.EXPORT_COLUMNS, rows, out, progress)
                else:
                    sheet = exports.Sheet("困りごと一覧", caselog.EXPORT_COLUMNS, rows)
                    written = exports.write_xlsx([sheet], out, progress)
        except OSError as exc:
            raise UsageError(f"cannot write {output} ({exc.strerror or exc})") from None
    print(f"wrote {written:,} threads to {output}", file=sys.stderr)
    return 0


def _report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, help="network id")
    parser.add_argument("--month", help="YYYY-MM: that month's 月報")
    parser.add_argument("--from", dest="first", help="YYYY-MM-DD: first day of a longer period (with --to)")
    parser.add_argument("--to", dest="last", help="YYYY-MM-DD: last day of the period (inclusive)")
    parser.add_argument("--format", default="text", help="text, xlsx or pdf (default text)")
    parser.add_argument("--output", help="file to write (default: kasane-report-<network>-<period>.<format>)")


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} must be YYYY-MM-DD (e.g. 2026-04-01), got {text!r}") from None


def _report_period(args: argparse.Namespace, tz: str) -> tuple[Period, str]:
    if args.month and (args.first or args.last):
        raise UsageError("give either --month or --from and --to, not both")
    if args.month:
        return month_period(*_month(args.month), tz), "month"
    if not (args.first and args.last):
        raise UsageError("give --month YYYY-MM, or --from YYYY-MM-DD and --to YYYY-MM-DD")
    first, last = _day(args.first, "--from"), _day(args.last, "--to")
    if first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if (first.month, first.day, last.month, last.day) == (4, 1, 3, 31) and last.year == first.year + 1:
        return fiscal_year_period(first.year, tz), "fiscal"
    return date_period(first, last, tz), "range"


@command("report", help="a network's report (月報, 年度 or any period) as text, Excel or PDF", configure=_report_args)
def report(args: argparse.Namespace, config: Config) -> int:
    if args.format not in ("text", "xlsx", "pdf"):
        raise UsageError(f"--format must be text, xlsx or pdf, got {args.format!r}")
    sessions = open_sessions(config)
    with sessions() as session:
        network = _network(session, args.network)
        period, kind = _report_period(args, network.timezone or "Asia/Tokyo")
        doc = report_files.build(
            session, network, period, kind, Clock().now(), config.day("report", "final_report_due")
        )
    if args.format == "text":
        for line in report_files.text_lines(doc):
            print(line)
        return 0
    data = report_files.xlsx_bytes(doc) if args.format == "xlsx" else report_files.pdf_bytes(doc)
    output = Path(args.output or f"{doc.file_stem}.{args.format}")
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {output} ({exc.strerror or exc})") from None
    print(f"wrote {doc.title} {doc.period_text} to {output}", file=sys.stderr)
    return 0


@command("retention", help="erase the text of threads past the 5-year retention", configure=_retention_args)
def retention(args: argparse.Namespace, config: Config) -> int:
    from jobs.retention import count_expired, cutoff, erase_network

    now = Clock().now()
    contract = config.contract()  # [report] contract_end keeps its period's records longer
    sessions = open_sessions(config)
    total = 0
    with sessions() as session:
        for network in session.scalars(select(Network).order_by(Network.id)).all():
            count = count_expired(session, network, now, contract)
            limit = cutoff(now, network.timezone or "Asia/Tokyo").date().isoformat()
            print(f"network {network.id}: {count:,} threads closed before {limit} to erase")
            if count and not args.dry_run:
                progress = _progress(f"network {network.id}", count)
                erase_network(session, network, now, commit=True, progress=progress, contract=contract)
            total += count
        session.commit()
    print(f"{'would erase' if args.dry_run else 'erased'} {total:,} threads in all")
    return 0
