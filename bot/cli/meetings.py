"""``kasane meeting set|show``: the meeting schedule from the command line (same rules as the chat)."""

from __future__ import annotations

import argparse

from bot.cli.database import open_sessions
from bot.cli.main import UsageError, command
from bot.config import Config
from bot.replies import messages
from models import Network, utcnow
from models.meeting import next_meeting, schedule_of, set_schedule
from models.meeting_rule import MeetingRule, RuleError, parse_rule, split_link, valid_link

RULE_HELP = 'e.g. "毎月第4水曜 14:00", "毎月15日 10:00", "隔月第2火曜 14:00", "毎月最終金曜 18:30"'
RULE_ERRORS = {
    RuleError.UNREADABLE: "cannot read the rule",
    RuleError.NO_TIME: "the rule has no start time",
    RuleError.BAD_TIME: "the start time is not between 0:00 and 23:59",
    RuleError.FIFTH_WEEK: "a 5th weekday is missing in most months; use 最終 (last)",
    RuleError.BAD_DAY: "the day of the month must be 1-28",
    RuleError.SHORT_MONTH_DAY: "days 29-31 are missing in some months; use 1-28 or 最終",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["set", "show"])
    parser.add_argument("--network", type=int, required=True, help="network id (see `kasane role list`)")
    parser.add_argument("--rule", help=f"the recurring rule in Japanese, {RULE_HELP}")
    parser.add_argument("--place", default="", help="where the meeting takes place")
    parser.add_argument("--link", help="online meeting URL")


def _rule(text: str | None) -> MeetingRule:
    if not text:
        raise UsageError("meeting set needs --rule, " + RULE_HELP)
    rule = parse_rule(text)
    if isinstance(rule, RuleError):
        raise UsageError(f"--rule {text!r}: {RULE_ERRORS.get(rule, 'cannot read the rule')}; {RULE_HELP}")
    return rule


@command("meeting", help="set or show a network's monthly meeting", configure=configure)
def meeting(args: argparse.Namespace, config: Config) -> int:
    sessions = open_sessions(config)
    with sessions.begin() as session:
        network = session.get(Network, args.network)
        if network is None:
            raise UsageError(f"no network with id {args.network}")
        if args.action == "set":
            rule = _rule(args.rule)
            place, link_in_place = split_link(args.place)
            link = args.link or link_in_place
            if link and not valid_link(link):
                raise UsageError(f"--link {link!r} is not an http(s) URL of at most 500 characters")
            set_schedule(session, network, rule, place, link, None, utcnow())
        schedule = schedule_of(session, network)
        if schedule is None:
            print(f"network {network.id}: no meeting schedule")
            return 0
        upcoming = next_meeting(session, network, utcnow())
        print(f"network {network.id}: {schedule.rule}")
        print(f"place: {schedule.place or '-'}")
        print(f"link: {schedule.link or '-'}")
        print(f"next: {messages.meeting_when(upcoming.start) if upcoming else '-'}")
    return 0
