"""A month of a whole network, counted as LINE bills it (issue 17).

    .venv/bin/python -m bench.month_cost                   # M = 30 members, prints counted messages by kind
    .venv/bin/python -m bench.month_cost --members 10 30 60 100 --out bench/results/month_cost.json

The product runs in process against the fake LINE platform the simulator uses (``bot.fakeline``),
with the simulator's clock: every half hour of February 2027 (Japan time) the scheduled jobs run
once, as ``kasane serve --simulate-time`` runs them when its clock is moved on, and the members'
actions arrive as signed webhooks. Deterministic: the same script every run (no randomness).

The month: a group of M members; 12 of them register an organization each (フォーマル and
インフォーマル mixed; at M = 10 ten), 10 of them follow the bot; the network is set up at 08:00
on the 1st.
15 困りごと in the month (organizations' members post them), a third get no answer (5), the
other 10 a 伝手 within a day; outcomes on half of the troubles (7 of the answered, typed by the
poster); the monthly meeting on the 4th Wednesday (24 Feb, 14:00), 8 organizations answer its
attendance from the 7-day card. What LINE counts: a reply 0, a push 1 per recipient (a group:
its M members); the fake platform's own count for February is the total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import create_app
from bot.clock import Clock
from bot.config import load_config
from bot.fakeline import FakeLinePlatform, FakeLineServer, WebhookBuilder, encode_body, sign
from bot.fakeline.ids import new_group_id, new_user_id
from bot.runtime import build_runtime
from bot.store.migrate import upgrade
from models import OutboxMessage

JST = ZoneInfo("Asia/Tokyo")
SECRET = "month-cost-channel-secret"
TOKEN = "month-cost-access-token"
MONTH_START = datetime(2027, 2, 1, 0, 0, tzinfo=JST)
MONTH_END = datetime(2027, 3, 1, 0, 0, tzinfo=JST)
SETUP_AT = datetime(2027, 2, 1, 8, 0, tzinfo=JST)
TICK = timedelta(minutes=30)
ORGANIZATIONS = (
    ("地域包括支援センター", "フォーマル"),
    ("子ども食堂ひまわり", "インフォーマル"),
    ("社会福祉協議会", "フォーマル"),
    ("民生委員協議会", "インフォーマル"),
    ("生活自立支援センター", "フォーマル"),
    ("NPOよりそい", "インフォーマル"),
    ("障害者相談支援センター", "フォーマル"),
    ("ふれあいの会", "インフォーマル"),
    ("こども子育てサポートセンター", "フォーマル"),
    ("自治会連合会", "インフォーマル"),
    ("ケアマネ連絡会", "フォーマル"),
    ("フードバンク", "インフォーマル"),
)
FRIENDS = 10  # of the 12 registrants, the first 10 follow the bot
POSTS = (
    "高齢の方の通院の付き添いを探しています",
    "子ども食堂で配るお米が足りません",
    "ひきこもりがちな息子さんのことで相談したいご家族がいます",
    "一人暮らしの方のゴミ出しを手伝える人はいませんか",
    "ヤングケアラーかもしれない中学生がいます",
    "生活に困っている方の食料支援の伝手を探しています",
    "車いすの方の買い物に付き添える方を探しています",
    "障害のある方が住まいを探しています",
    "ダブルケアで疲れているお母さんの話を聞ける場所はありますか",
    "仕事を探している若者の相談先を知りたいです",
    "認知症の方の見守りをお願いできる方はいますか",
    "引っ越しの片付けを手伝ってほしい高齢の方がいます",
    "不登校の子どもの居場所を探しています",
    "介護保険の申請を手伝える方を探しています",
    "灯油の配達をしてくれるところはありますか",
)
UNANSWERED = {2, 5, 8, 11, 14}  # a third of the 15 get no answer (thread numbers)
OUTCOMES = {1, 3, 6, 7, 9, 10, 12}  # outcomes on half: 7 of the answered threads
MEETING_ANSWERS = 8  # organizations answering the 7-day card
OUTCOME_AFTER = timedelta(days=5)


@dataclass
class Action:
    at: datetime
    what: str
    args: tuple[Any, ...] = ()


@dataclass
class Month:
    members: int
    counted: Counter[str] = field(default_factory=Counter)  # kind -> counted messages
    pushes: Counter[str] = field(default_factory=Counter)  # kind -> push requests
    replies: int = 0
    line_total: int = 0  # the fake platform's own count for the month
    not_pushed: Counter[str] = field(default_factory=Counter)  # "outcome kind reason" -> messages (the ledger)

    def as_json(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "counted_total": self.line_total,
            "counted_by_kind": dict(sorted(self.counted.items())),
            "pushes_by_kind": dict(sorted(self.pushes.items())),
            "free_replies": self.replies,
            "not_pushed": dict(sorted(self.not_pushed.items())),
        }


def kind_of(row: OutboxMessage | None, to: str) -> str:
    """What a push was, from its outbox row (the ledger's kind when there is one)."""
    if row is None:
        return "unknown"
    kind = getattr(row, "kind", None)
    if kind and kind != "other":
        return kind
    key = row.dedupe_key or ""
    if key.startswith("followup:"):
        step = key.split(":")[2]
        return {"nudge": "nudge"}.get(step, "followup_ask" if step.startswith("check") else "accompany")
    if key.startswith("meeting:"):
        return "meeting_" + key.split(":")[3]
    if key.startswith("report:"):
        return "monthly_figures"
    if row.reply_token:
        return "late_reply"  # an answer whose reply token expired before it was sent
    return "notice_user" if to.startswith("U") else "notice_group"


class Network:
    """The network's people and the bot, in process: webhooks in, the outbox drained to the fake LINE."""

    def __init__(self, members: int, workdir: Path) -> None:
        self.clock = Clock(fixed=SETUP_AT)
        self.platform = FakeLinePlatform(TOKEN, clock=self.clock.now, plan=None)  # count all, refuse none
        self.server = FakeLineServer(self.platform).__enter__()
        config = load_config(
            environ={},
            overrides={
                "line": {"channel_secret": SECRET, "channel_access_token": TOKEN, "api_base_url": self.server.url},
                "database": {"url": f"sqlite:///{workdir / 'month.db'}"},
                "server": {"secret_key": "month-cost-session-key"},
                "scheduler": {"enabled": False},
                "networks": {"approval": "automatic"},  # the month starts after the operator's approval
            },
        )
        upgrade(config.database_url)
        self.runtime = build_runtime(config, clock=self.clock)
        self.app = create_app(self.runtime)
        self.client = self.app.test_client()
        self.line = WebhookBuilder(self.platform, clock=self.clock.now)
        self.group = new_group_id()
        self.people = [new_user_id() for _ in range(members)]
        self.platform.add_group(self.group, "ささえあいネット")

    def close(self) -> None:
        self.app.extensions["kasane"].close()
        self.server.__exit__(None, None, None)

    def send(self, *events: dict[str, Any]) -> None:
        body = encode_body(self.line.payload(*events))
        headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body, SECRET)}
        response = self.client.post("/callback", data=body, headers=headers)
        assert response.status_code == 200, response.status_code
        self.deliver()

    def deliver(self) -> None:
        self.runtime.inbox.drain()
        self.runtime.sender.drain()

    def says(self, person: int, text: str) -> None:
        self.send(self.line.text(self.group, self.people[person], text))

    def presses(self, person: int, data: str) -> None:
        self.send(self.line.postback(self.group, self.people[person], data))

    def run_jobs(self) -> None:
        from bot.scheduler import run_job
        from jobs import load_all

        for job in load_all():
            run_job(self.runtime, job)
        self.deliver()


def script(members: int) -> list[Action]:
    """The month's actions, in time order (the setup first)."""
    actions = [Action(SETUP_AT, "setup")]
    for index, post in enumerate(POSTS):
        number = index + 1
        day = 1 + (index * 26) // len(POSTS)  # spread over 1..26 February
        posted = datetime(2027, 2, day, 10 + index % 6, 15, tzinfo=JST)
        poster = index % min(len(ORGANIZATIONS), members)
        actions.append(Action(posted, "post", (poster, post)))
        if number not in UNANSWERED:
            helper = (poster + 1 + index % 5) % min(len(ORGANIZATIONS), members)
            actions.append(Action(posted + timedelta(hours=5), "connect", (helper, number)))
            if number in OUTCOMES:
                actions.append(Action(posted + OUTCOME_AFTER, "outcome", (poster, number)))
    # The attendance answers come in on the day after the 7-day card (17 Feb 14:00).
    for org in range(MEETING_ANSWERS):
        actions.append(Action(datetime(2027, 2, 18, 12, 0, tzinfo=JST) + timedelta(minutes=7 * org), "attend", (org,)))
    return sorted(actions, key=lambda a: a.at)


def play(members: int = 30) -> Month:
    with tempfile.TemporaryDirectory(prefix="kasane-month-") as tmp:
        net = Network(members, Path(tmp))
        try:
            _play(net)
            return _count(net, members)
        finally:
            net.close()


def _play(net: Network) -> None:
    meeting_card_data: list[str] = []
    ticks = _ticks()
    for action in script(len(net.people)):
        while ticks and ticks[0] <= action.at:
            net.clock.set(ticks.pop(0))
            net.run_jobs()
        net.clock.set(action.at)
        if action.what == "setup":
            _setup(net)
        elif action.what == "post":
            poster, text = action.args
            net.says(poster, f"困りごと {text}")
        elif action.what == "connect":
            helper, number = action.args
            net.says(helper, f"#{number} 伝手 うちで相談にのれます")
        elif action.what == "outcome":
            poster, number = action.args
            net.says(poster, f"#{number} 解決")
        elif action.what == "attend":
            (org,) = action.args
            if not meeting_card_data:
                meeting_card_data.extend(_rsvp_yes(net))
            net.presses(org, meeting_card_data[0])
    for tick in ticks:
        net.clock.set(tick)
        net.run_jobs()


def _ticks() -> list[datetime]:
    out, at = [], SETUP_AT + TICK
    while at < MONTH_END:
        out.append(at)
        at += TICK
    return out


def _setup(net: Network) -> None:
    net.send(net.line.join(net.group))
    for user in net.people:
        net.platform.add_member(net.group, user, f"member{len(net.platform.world.chat(net.group).members)}")
    net.send(net.line.member_joined(net.group, list(net.people)))
    for index, (name, kind) in enumerate(ORGANIZATIONS[: len(net.people)]):  # M = 10: ten organizations
        net.says(index, f"団体登録 {name} {kind}")
    for index in range(FRIENDS):
        net.platform.add_friend(net.people[index], f"member{index}")
        net.send(net.line.follow(net.people[index]))
    net.says(0, "会議設定 毎月第4水曜 14:00 中央公民館")


def _rsvp_yes(net: Network) -> list[str]:
    """The 出席 button's postback data on the 7-day card, as the group saw it."""
    for delivery in net.platform.deliveries(net.group):
        for message in delivery.messages:
            for data in _postbacks(message):
                if "meeting.rsvp" in data and "r=yes" in data:
                    return [data]
    raise AssertionError("no 7-day card with an attendance button was delivered")


def _postbacks(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "postback" and "data" in node:
            found.append(node["data"])
        for value in node.values():
            found += _postbacks(value)
    elif isinstance(node, list):
        for value in node:
            found += _postbacks(value)
    return found


def _count(net: Network, members: int) -> Month:
    month = Month(members)
    with net.runtime.sessions() as session:
        rows = {row.retry_key: row for row in session.scalars(select(OutboxMessage))}
    for delivery in net.platform.deliveries() + net.platform.undelivered:
        if not (MONTH_START <= delivery.at < MONTH_END):
            continue
        if delivery.via == "reply":
            month.replies += 1
            continue
        chat = net.platform.world.chats.get(delivery.to)
        cost = len(chat.members) if chat is not None else int(delivery.to in net.platform.world.friends)
        kind = kind_of(rows.get(delivery.retry_key or ""), delivery.to)
        month.counted[kind] += cost
        month.pushes[kind] += 1
    month.line_total = net.platform.billing.counted["2027-02"]
    try:
        from models.ledger import LedgerEntry
    except ImportError:  # before the ledger existed
        return month
    with net.runtime.sessions() as session:
        for entry in session.scalars(select(LedgerEntry).where(LedgerEntry.outcome != "sent")):
            month.not_pushed[f"{entry.outcome} {entry.kind} {(entry.reason or '').split(':')[0]}".strip()] += 1
    return month


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[30])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results = []
    for members in args.members:
        month = play(members)
        results.append(month.as_json())
        print(f"M = {members}: {month.line_total} counted messages in February ({month.replies} free replies)")
        for kind, count in sorted(month.counted.items(), key=lambda item: -item[1]):
            print(f"  {kind:20s} {count:5d}  ({month.pushes[kind]} pushes)")
        for what, n in sorted(month.not_pushed.items()):
            print(f"  not pushed: {what} x{n}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"month": "2027-02", "results": results}, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
