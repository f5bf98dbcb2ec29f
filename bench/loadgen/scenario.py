"""The networks and the event mix: what a mutual-aid network's group chats send to the webhook.

Events are built by bot.fakeline's WebhookBuilder (LINE's shapes, encoding and signature), with
reply tokens issued by the fake LINE platform process, so that the bot's replies are accepted and
can be matched to the event that caused them.
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from bot.fakeline import WebhookBuilder, encode_body, new_group_id, new_user_id, sign
from bot.fakeline.ids import new_message_id, new_quote_token

JST = timezone(timedelta(hours=9))

# kind -> share of the events; "reply" kinds should get an answer from a bot that understands them.
DEFAULT_MIX: dict[str, float] = {
    "post": 0.10,  # 困りごと 内容
    "connect_text": 0.12,  # #12 伝手 内容
    "offer_text": 0.07,  # #12 手伝えます 内容
    "connect_postback": 0.05,  # a=t.connect&n=12 (the card's button)
    "offer_postback": 0.04,  # a=t.offer&n=12
    "watch_postback": 0.04,  # a=t.watch&n=12
    "list": 0.10,  # 一覧
    "show": 0.07,  # #12
    "quote": 0.09,  # a quote-reply to a post: a comment on its thread
    "attend": 0.09,  # a=meeting.rsvp&d=...&r=yes (the meeting reminder's buttons)
    "close": 0.05,  # #12 解決 (the organizer)
    "chatter": 0.08,  # plain talk; the answer after a 伝手/手伝えます button
    "redelivery": 0.05,  # an earlier event again, isRedelivery true: must change nothing
    "bad_signature": 0.05,  # must be refused with 400
}
REPLY_KINDS = frozenset(DEFAULT_MIX) - {"chatter", "redelivery", "bad_signature"}

POSTS = (
    "高齢の方の通院の付き添いを探しています 東町",
    "子ども食堂で配るお米が足りません 西町",
    "ひきこもりがちな息子さんのことで相談したいご家族がいます",
    "一人暮らしの方のゴミ出しを手伝える人はいませんか 南町",
    "ヤングケアラーかもしれない中学生がいます。連絡は090-1234-5678まで",
    "生活に困っている方の食料支援の伝手を探しています",
    "車いすの方の買い物に付き添える方を探しています 北町",
    "障害のある方が住まいを探しています（北町三丁目五番）",
    "ダブルケアで疲れているお母さんの話を聞ける場所はありますか",
    "仕事を探している若者の相談先を知りたいです",
)
ANSWERS = (
    "社協の移送サービスがあります",
    "うちの団体で来週なら手伝えます",
    "地域包括の担当者を紹介できます",
    "フードバンクにつなげます",
    "民生委員さんに声をかけてみます",
)
COMMENTS = ("その後どうなりましたか", "来週の会議で話しましょう", "ご本人の希望を確認できました")
CHATTER = ("ありがとうございます", "了解です", "よろしくお願いします", "承知しました")
ORGS = (
    ("地域包括支援センター", "フォーマル"),
    ("社会福祉協議会", "フォーマル"),
    ("子ども食堂ひまわり", "インフォーマル"),
    ("民生委員協議会", "インフォーマル"),
    ("NPOよりそい", "インフォーマル"),
    ("生活自立支援センター", "フォーマル"),
    ("ふれあいの会", "インフォーマル"),
    ("障害者相談支援センター", "フォーマル"),
)
AREAS = "東町 西町 南町 北町"
MEETING_RULE = "毎月第4水曜 14:00 公民館"
THREAD_KINDS = frozenset(
    {"connect_text", "offer_text", "connect_postback", "offer_postback", "watch_postback", "show", "quote", "close"}
)
KEEP_OPEN = 4
RECENT_THREADS = 12  # answers go to a network's recent open threads, as in a real group
THREAD_NUMBER = re.compile(r"#(\d{1,9})")


@dataclass
class Person:
    id: str
    name: str
    org: str
    kind: str
    friend: bool


@dataclass
class Network:
    group_id: str
    name: str
    people: list[Person]
    threads: list[int] = field(default_factory=list)  # open thread numbers, oldest first
    post_ids: dict[int, str] = field(default_factory=dict)  # thread number -> the post's message id

    @property
    def organizer(self) -> Person:
        return self.people[0]  # the first to register becomes the organizer


@dataclass
class Request:
    """One webhook POST, ready to send."""

    kind: str
    body: bytes
    headers: dict[str, str]
    expect: int = 200
    reply_token: str | None = None  # when a reply is expected
    chat: str = ""
    post_message_id: str | None = None  # a 困りごと post: learn its thread number from the reply
    network: Network | None = None


class TokenSource:
    """What WebhookBuilder asks of a platform, answered with tokens the fake platform issued."""

    def __init__(self, take_reply_token: Any, bot_user_id: str) -> None:
        self.take_reply_token = take_reply_token
        self.bot_user_id = bot_user_id

    @staticmethod
    def clock() -> datetime:
        return datetime.now(UTC)

    def issue_reply_token(self, chat_id: str) -> str:
        return self.take_reply_token(chat_id)

    def issue_quote_token(self, chat_id: str) -> str:
        return new_quote_token()  # the bot never checks an incoming quote token

    def redeliver_reply_token(self, token: str) -> None:
        pass  # the event was acknowledged the first time: the bot must not reply again


def next_meeting_day(now: datetime, rule_hour: int = 14) -> date:
    """The next 4th Wednesday (MEETING_RULE) whose 14:00 JST is still ahead."""
    local = now.astimezone(JST)
    year, month = local.year, local.month
    for _ in range(3):
        first = date(year, month, 1)
        wednesday = first + timedelta(days=(2 - first.weekday()) % 7 + 21)
        if datetime(wednesday.year, wednesday.month, wednesday.day, rule_hour, tzinfo=JST) > local:
            return wednesday
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("unreachable")


def make_networks(count: int, members: int, rng: random.Random) -> list[Network]:
    networks = []
    for n in range(count):
        people = []
        for m in range(members):
            org, kind = ORGS[(n + m) % len(ORGS)]
            people.append(Person(new_user_id(), f"職員{n}-{m}", f"{org}{n}", kind, friend=m % 3 == 1))
        networks.append(Network(new_group_id(), f"ささえあいネット{n}", people))
    return networks


class Scenario:
    """Builds the setup events and then the load's event mix."""

    def __init__(
        self,
        networks: list[Network],
        secret: str,
        tokens: TokenSource,
        *,
        seed: int = 1,
        mix: dict[str, float] | None = None,
        line: WebhookBuilder | None = None,
    ) -> None:
        self.networks = networks
        self.secret = secret
        self.line = line or WebhookBuilder(tokens, destination=tokens.bot_user_id)  # type: ignore[arg-type]
        self.rng = random.Random(seed)
        mix = mix or DEFAULT_MIX
        self.kinds = list(mix)
        self.weights = [mix[k] for k in self.kinds]
        self.recent: deque[dict[str, Any]] = deque(maxlen=256)  # events that may be redelivered
        self.meeting_day = next_meeting_day(datetime.now(UTC)).isoformat()

    # --- the world -------------------------------------------------------------------------
    def world(self) -> dict[str, Any]:
        """The fake platform's world: groups, their members, and who follows the bot."""
        return {
            "groups": [
                {"id": n.group_id, "name": n.name, "members": [{"id": p.id, "name": p.name} for p in n.people]}
                for n in self.networks
            ],
            "friends": [{"id": p.id, "name": p.name} for n in self.networks for p in n.people if p.friend],
        }

    def setup_plan(self, network: Network, seed_threads: int) -> list[tuple[str, str, Any]]:
        """(kind, chat, build) steps that make a network whose events do real work."""
        steps: list[tuple[str, str, Any]] = []
        for person in network.people:
            if person.friend:
                steps.append(("follow", person.id, lambda p=person: self.line.follow(p.id)))
        gid = network.group_id
        steps.append(("join", gid, lambda: self.line.join(gid)))
        ids = [p.id for p in network.people]
        for start in range(0, len(ids), 5):  # the bot welcomes at most five people per event
            steps.append(
                ("member_joined", gid, lambda chunk=ids[start : start + 5]: self.line.member_joined(gid, chunk))
            )
        for person in network.people:
            text = f"団体登録 {person.org} {person.kind}"
            steps.append(("register", gid, lambda p=person, t=text: self.line.text(gid, p.id, t)))
        organizer = network.organizer
        steps.append(("areas", gid, lambda: self.line.text(gid, organizer.id, f"地区登録 {AREAS}")))
        steps.append(("meeting", gid, lambda: self.line.text(gid, organizer.id, f"会議設定 {MEETING_RULE}")))
        for i in range(seed_threads):
            steps.append(("post", gid, lambda i=i: self._post_event(network, network.people[i % len(network.people)])))
        return steps

    def request(self, kind: str, event: dict[str, Any], network: Network | None = None) -> Request:
        body = encode_body(self.line.payload(event))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "X-Line-Signature": sign(body, self.secret),
        }
        message = event.get("message") or {}
        return Request(
            kind,
            body,
            headers,
            reply_token=event.get("replyToken"),
            chat=_chat_of(event),
            post_message_id=message.get("id") if kind == "post" else None,
            network=network,
        )

    # --- the load ----------------------------------------------------------------------------
    def plan(self) -> tuple[str, Network]:
        """The next event's kind and network (then make sure of a reply token for its chat)."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        network = self.rng.choice(self.networks)
        if kind == "redelivery" and not self.recent:
            kind = "chatter"
        if kind == "close" and len(network.threads) <= KEEP_OPEN:
            kind = "show"  # keep a few threads open to answer
        if kind in THREAD_KINDS and not network.threads:
            kind = "list"
        return kind, network

    def build(self, kind: str, network: Network) -> Request:
        if kind == "redelivery":
            again = self.line.redelivery(self.rng.choice(self.recent))
            request = self.request(kind, again, network)
            request.reply_token = None  # the bot must not act twice
            return request
        event = self.event(kind, network)
        if kind == "bad_signature":
            request = self.request(kind, event, network)
            request.headers["X-Line-Signature"] = sign(request.body, self.secret + "-wrong")
            request.expect, request.reply_token = 400, None
            return request
        self.recent.append(event)
        request = self.request(kind, event, network)
        if kind not in REPLY_KINDS:
            request.reply_token = None
        return request

    def learned(self, network: Network, post_message_id: str, summary: str) -> None:
        """The bot's card for a post names its thread number: answers may now go to it."""
        match = THREAD_NUMBER.search(summary)
        if match is None:
            return
        number = int(match.group(1))
        if number not in network.post_ids:
            network.post_ids[number] = post_message_id
            network.threads.append(number)

    def assume_numbers(self, network: Network, message_ids: list[str]) -> None:
        """A bot that does not number threads (the floor, the SDK pattern): number posts in order."""
        for message_id in message_ids:
            if message_id not in network.post_ids.values():
                number = max(network.post_ids, default=0) + 1
                network.post_ids[number] = message_id
                network.threads.append(number)

    # --- events --------------------------------------------------------------------------------
    def _thread(self, network: Network) -> int:
        return self.rng.choice(network.threads[-RECENT_THREADS:])

    def _post_event(self, network: Network, person: Person) -> dict[str, Any]:
        text = "困りごと " + self.rng.choice(POSTS)
        return self.line.text(network.group_id, person.id, text, message_id=new_message_id())

    def event(self, kind: str, network: Network) -> dict[str, Any]:
        gid, rng = network.group_id, self.rng
        person = rng.choice(network.people)
        if kind == "post":
            return self._post_event(network, person)
        if kind == "connect_text":
            return self.line.text(gid, person.id, f"#{self._thread(network)} 伝手 {rng.choice(ANSWERS)}")
        if kind == "offer_text":
            return self.line.text(gid, person.id, f"#{self._thread(network)} 手伝えます {rng.choice(ANSWERS)}")
        if kind in ("connect_postback", "offer_postback", "watch_postback"):
            action = {"connect_postback": "t.connect", "offer_postback": "t.offer", "watch_postback": "t.watch"}[kind]
            return self.line.postback(gid, person.id, f"a={action}&n={self._thread(network)}")
        if kind == "list":
            return self.line.text(gid, person.id, "一覧")
        if kind == "show":
            return self.line.text(gid, person.id, f"#{self._thread(network)}")
        if kind == "quote":
            number = self._thread(network)
            quoted = network.post_ids.get(number)
            return self.line.text(gid, person.id, rng.choice(COMMENTS), quoted_message_id=quoted)
        if kind == "attend":
            answer = rng.choice(("yes", "yes", "no", "maybe"))
            return self.line.postback(gid, person.id, f"a=meeting.rsvp&d={self.meeting_day}&r={answer}")
        if kind == "close":
            number = self._thread(network)
            network.threads.remove(number)
            return self.line.text(gid, network.organizer.id, f"#{number} 解決")
        return self.line.text(gid, person.id, rng.choice(CHATTER))  # chatter, bad_signature


def _chat_of(event: dict[str, Any]) -> str:
    source = event.get("source") or {}
    return source.get("groupId") or source.get("roomId") or source.get("userId") or ""
