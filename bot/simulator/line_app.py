"""The simulated LINE app: what people do in it becomes webhook events, what LINE accepted becomes chat lines.

Nothing here touches the bot's handlers or database: every action is a signed webhook
POSTed to /callback, and every answer is read back from the fake LINE platform, so a flow
that works here works in LINE.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.fakeline import FakeLinePlatform, new_group_id, new_user_id
from bot.simulator import rendering
from bot.simulator.clock import MAX_STEP
from bot.simulator.state import BOT_NAME, MAX_GROUPS, MAX_PEOPLE, Entry, Group, Person, SimulatorState
from bot.simulator.webhooks import WebhookFailed, WebhookSender

if TYPE_CHECKING:
    from bot.runtime import Runtime

TEXT_LIMIT = 5000  # LINE counts UTF-16 code units
NAME_LIMIT = 20  # LINE display names
GROUP_NAME_LIMIT = 50  # LINE group names
_PICKER_FORMATS = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "time": re.compile(r"^\d{2}:\d{2}$"),
    "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$"),
}
DEMO_GROUP = "久留米ささえあいネット"
DEMO_PEOPLE = ("田中ゆかり", "佐藤健", "鈴木まさこ")


class SimulatorError(Exception):
    """A user-facing refusal (Japanese), answered as JSON with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clean_name(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SimulatorError(f"{what}を入力してください。")
    name = " ".join(value.split())
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise SimulatorError(f"{what}に使えない文字が含まれています。")
    if len(name) > limit:
        raise SimulatorError(f"{what}は{limit}文字までです。")
    return name


class LineApp:
    def __init__(
        self, runtime: Runtime, platform: FakeLinePlatform, state: SimulatorState, webhooks: WebhookSender
    ) -> None:
        self.runtime = runtime
        self.platform = platform
        self.state = state
        self.webhooks = webhooks

    def seed(self) -> None:
        """A group of three people, without the bot yet: inviting it is the first thing to show."""
        people = [self.add_person(name) for name in DEMO_PEOPLE]
        self.state.add_group(Group(new_group_id(), DEMO_GROUP, [p.id for p in people]))

    def now(self) -> datetime:
        return self.runtime.clock.now()

    # --- lookups that refuse politely -----------------------------------------------
    def person(self, person_id: Any) -> Person:
        person = self.state.people.get(person_id) if isinstance(person_id, str) else None
        if person is None:
            raise SimulatorError("その人はシミュレーターにいません。")
        return person

    def group(self, group_id: Any) -> Group:
        group = self.state.groups.get(group_id) if isinstance(group_id, str) else None
        if group is None:
            raise SimulatorError("そのグループはありません。")
        return group

    def chat_for(self, chat_id: Any, person: Person) -> str:
        """Where ``person`` may talk to the bot: a group with the bot and them in it, or their own 1:1 chat."""
        if chat_id == person.id:
            if not person.friend:
                raise SimulatorError("先にボットを友だち追加してください。")
            return person.id
        group = self.group(chat_id)
        if person.id not in group.members:
            raise SimulatorError(f"{person.name}さんはこのグループのメンバーではありません。")
        if not group.bot_in:
            raise SimulatorError("このグループにはまだボットがいません。先にボットを招待してください。")
        return group.id

    # --- the cast ---------------------------------------------------------------------
    def add_person(self, name: Any, group_id: Any = None) -> Person:
        name = clean_name(name, NAME_LIMIT, "表示名")
        group = self.group(group_id) if group_id else None
        with self.state.lock:
            if len(self.state.people) >= MAX_PEOPLE:
                raise SimulatorError(f"シミュレーターの人数は{MAX_PEOPLE}人までです。")
            if any(p.name == name for p in self.state.people.values()):
                raise SimulatorError("同じ表示名の人がすでにいます。")
            person = self.state.add_person(Person(new_user_id(), name))
        if group is not None:
            self.add_member(group.id, person.id)
        return person

    def create_group(self, name: Any, member_ids: Any, invite_bot: bool = True) -> Group:
        name = clean_name(name, GROUP_NAME_LIMIT, "グループ名")
        if not isinstance(member_ids, list) or not member_ids:
            raise SimulatorError("メンバーを1人以上選んでください。")
        members = list(dict.fromkeys(self.person(person_id).id for person_id in member_ids))
        with self.state.lock:
            if len(self.state.groups) >= MAX_GROUPS:
                raise SimulatorError(f"シミュレーターのグループは{MAX_GROUPS}個までです。")
            group = self.state.add_group(Group(new_group_id(), name, members))
        if invite_bot:
            self.invite_bot(group.id)
        return group

    def invite_bot(self, group_id: Any) -> None:
        group = self.group(group_id)
        with self.state.lock:  # checked and set together: two tabs pressing at once invite the bot once
            if group.bot_in:
                raise SimulatorError("ボットはすでにこのグループにいます。")
            group.bot_in = True
            members = [(m, self.state.people[m].name) for m in group.members]
            self._log(group.id, "system", self.now(), note=f"{BOT_NAME}がグループに参加しました")
        # LINE's world before the event, so that the bot's group-summary and profile calls find the group.
        self.platform.add_group(group.id, group.name)
        for user_id, name in members:
            self.platform.add_member(group.id, user_id, name)
        self._send(group.id, self.webhooks.builder.join(group.id))

    def add_member(self, group_id: Any, person_id: Any) -> None:
        group, person = self.group(group_id), self.person(person_id)
        with self.state.lock:
            if person.id in group.members:
                raise SimulatorError(f"{person.name}さんはすでにメンバーです。")
            group.members.append(person.id)
            self._log(group.id, "system", self.now(), note=f"{person.name}さんがグループに参加しました")
        if group.bot_in:
            self.platform.add_member(group.id, person.id, person.name)
            self._send(group.id, self.webhooks.builder.member_joined(group.id, [person.id]))

    def follow(self, person_id: Any) -> None:
        person = self.person(person_id)
        with self.state.lock:
            if person.friend:
                raise SimulatorError(f"{person.name}さんはすでにボットを友だち追加しています。")
            person.friend = True
            self._log(person.id, "system", self.now(), note=f"{BOT_NAME}を友だち追加しました")
        self.platform.add_friend(person.id, person.name)
        self._send(person.id, self.webhooks.builder.follow(person.id))

    # --- talking ---------------------------------------------------------------------------
    def say(self, chat_id: Any, person_id: Any, text: Any, quote: Any = None) -> Entry:
        person = self.person(person_id)
        chat = self.chat_for(chat_id, person)
        if not isinstance(text, str) or not text.strip():
            raise SimulatorError("メッセージを入力してください。")
        if utf16_len(text) > TEXT_LIMIT:
            raise SimulatorError(f"メッセージは{TEXT_LIMIT:,}文字までです。")
        quoted = self._quotable(chat, quote) if quote else None
        event = self.webhooks.builder.text(
            chat, person.id, text, quoted_message_id=quoted, mentionees=self._mentionees(chat, text) or None
        )
        message = {"type": "text", "text": text}
        entry = self._log(
            chat,
            "user",
            self.now(),
            sender=person.id,
            message=message,
            message_id=event["message"]["id"],
            quoted_id=quoted,
        )
        self._send(chat, event, entry=entry)
        return entry

    def press(self, chat_id: Any, person_id: Any, seq: Any, number: Any, params: Any = None) -> dict[str, Any]:
        """Press a button or quick reply of one of the bot's messages; returns what the page should do."""
        person = self.person(person_id)
        chat = self.chat_for(chat_id, person)
        entry = self.state.entry(chat, seq) if isinstance(seq, int) else None
        actions = rendering.actions_of(entry.message) if entry is not None and entry.kind == "bot" else []
        if not isinstance(number, int) or not 0 <= number < len(actions):
            raise SimulatorError("そのボタンは見つかりません。")
        action = actions[number]
        kind = action.get("type")
        if kind == "message":
            self.say(chat, person.id, action.get("text", ""))
            return {}
        if kind == "uri":
            uri = str(action.get("uri", ""))
            if not uri.startswith(("https://", "http://")):
                raise SimulatorError("このリンクはシミュレーターでは開けません（LINEアプリで開くリンクです）。")
            return {"open": uri}
        if kind == "postback":
            self._postback(chat, person, action)
            return {}
        if kind == "datetimepicker":
            self._postback(chat, person, action, self._picked(action, params))
            return {}
        raise SimulatorError("このボタンはシミュレーターでは使えません。")

    def unsend(self, chat_id: Any, person_id: Any, message_id: Any) -> None:
        person = self.person(person_id)
        chat = self.chat_for(chat_id, person)
        with self.state.lock:
            entry = self.state.by_message_id(chat, message_id) if isinstance(message_id, str) else None
            if entry is None or entry.unsent or entry.kind != "user":
                raise SimulatorError("取り消せるメッセージが見つかりません。")
            if entry.sender != person.id:
                raise SimulatorError("送信を取り消せるのは自分のメッセージだけです。")
            self.state.touch(entry, unsent=True)
        try:
            self._send(chat, self.webhooks.builder.unsend(chat, person.id, message_id))
        except SimulatorError:
            self.state.touch(entry, unsent=False)  # the bot never heard of it: the message stays
            raise

    def note(self, chat_id: str, text: str) -> None:
        self._log(chat_id, "system", self.now(), note=text)

    # --- what LINE accepted ------------------------------------------------------------
    def sync(self) -> None:
        with self.state.lock:  # one poller at a time, so no delivery is shown twice
            self.state.absorb(self.platform.deliveries_after(self.state.delivery_cursor))

    # --- pieces -----------------------------------------------------------------------------
    def _log(self, chat: str, kind: str, at: datetime, **fields: Any) -> Entry:
        """A new chat line, after whatever LINE already delivered, so the log keeps LINE's order."""
        with self.state.lock:
            self.sync()
            return self.state.add_entry(chat, kind, at, **fields)

    def _send(self, chat: str, event: dict[str, Any], entry: Entry | None = None) -> None:
        try:
            self.webhooks.send(event)
        except WebhookFailed:
            if entry is not None:
                self.state.touch(entry, failed=True)
            raise SimulatorError("ボットが受け取れませんでした（webhook の送信に失敗）。", 502) from None

    def _postback(
        self, chat: str, person: Person, action: dict[str, Any], params: dict[str, str] | None = None
    ) -> None:
        display = action.get("displayText") or action.get("text")
        if display and action.get("type") == "postback":
            # LINE shows displayText in the chat as the person's message; the bot only gets the postback.
            self._log(chat, "user", self.now(), sender=person.id, message={"type": "text", "text": display})
        self._send(chat, self.webhooks.builder.postback(chat, person.id, str(action.get("data", "")), params))

    def _picked(self, action: dict[str, Any], params: Any) -> dict[str, str]:
        mode = action.get("mode") if action.get("mode") in _PICKER_FORMATS else "datetime"
        value = params.get(mode) if isinstance(params, dict) else None
        if not isinstance(value, str) or not _PICKER_FORMATS[mode].match(value):
            raise SimulatorError("日付・時刻を選んでください。")
        return {mode: value}

    def _quotable(self, chat: str, message_id: Any) -> str:
        entry = self.state.by_message_id(chat, message_id) if isinstance(message_id, str) else None
        if entry is None or entry.unsent:
            raise SimulatorError("引用するメッセージが見つかりません。")
        return message_id

    def _mentionees(self, chat: str, text: str) -> list[dict[str, Any]]:
        """``@表示名`` of a group member becomes a mention, as LINE's app does when you pick a name."""
        with self.state.lock:
            group = self.state.groups.get(chat)
            if group is None:
                return []
            names = {self.state.people[m].name: m for m in group.members}
        found: list[dict[str, Any]] = []
        names[BOT_NAME] = self.platform.bot_user_id
        for name, user_id in sorted(names.items(), key=lambda pair: -len(pair[0])):
            for match in re.finditer(re.escape("@" + name), text):
                if any(m["_start"] < match.end() and match.start() < m["_end"] for m in found):
                    continue  # inside a longer name already mentioned
                found.append({"_start": match.start(), "_end": match.end(), "type": "user", "userId": user_id})
        found.sort(key=lambda m: m["_start"])
        return [
            {
                "index": utf16_len(text[: m["_start"]]),
                "length": utf16_len(text[m["_start"] : m["_end"]]),
                "type": "user",
                "userId": m["userId"],
            }
            for m in found
        ]


def parse_step(value: Any, unit: Any) -> timedelta:
    """The clock control's step: a positive whole number of hours or days."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SimulatorError("進める時間は1以上の整数で指定してください。")
    if unit not in ("hours", "days"):
        raise SimulatorError("単位は hours か days です。")
    step = timedelta(hours=value) if unit == "hours" else timedelta(days=value)
    if step > MAX_STEP:
        raise SimulatorError(f"一度に進められるのは{MAX_STEP.days}日までです。")
    return step
