"""A LINE world for tests: people, groups and the bot, driven through signed webhooks.

Tests read like the chat::

    kasane.joins(group)
    reply = alice.says(group, "団体登録 子ども食堂ひまわり")
    assert "登録しました" in reply.text

Every action is a webhook event signed as LINE signs it, posted to ``/callback``; the
bot's answers are what the fake LINE platform accepted after the outbox was drained.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.fakeline import (
    Delivery,
    FakeLinePlatform,
    WebhookBuilder,
    encode_body,
    new_group_id,
    new_user_id,
    sign,
)


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something true, and return that; fail after ``timeout`` seconds.

    The way to wait for another thread or process: a generous deadline that a healthy run never
    comes near, instead of a sleep that hopes the other side was quick enough.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or check}")
        time.sleep(0.01)


class RunningSender:
    """A sender running as production runs it: ``Sender.run_forever`` in a thread of its own
    (its rounds record what finished and claim what is due in one transaction), until ``stop``.

    ``settle()`` waits until it has nothing left to do *now*: no row in flight and no row it could
    claim. Rows waiting for their backoff stay pending; tests move the clock to them.
    """

    def __init__(self, sender: Any, poll_interval: float = 0.02) -> None:
        self.sender = sender
        self.poll_interval = poll_interval
        self.stopped = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"sender:{sender.name}")

    def _run(self) -> None:
        try:
            self.sender.run_forever(self.stopped, self.poll_interval)
        except BaseException as exc:  # noqa: BLE001 (a test's "process dies" ends the loop; settle reports it)
            self.failure = exc

    def __enter__(self) -> RunningSender:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        self.sender.wake()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the sender did not stop"

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is in flight and nothing pending can be claimed at the clock's time."""
        self.sender.wake()
        eventually(lambda: self.failure is not None or not busy(self.sender), timeout, "the sender settles")
        if self.failure is not None:
            raise self.failure


class Killed(BaseException):
    """The process dies here (SIGKILL): nothing after this point runs, no clean-up."""


def sends_then_dies(runtime: Any) -> None:
    """A sender runs production's loop and dies in the round that would record what LINE answered:
    LINE has the message (or used the reply token), the database still says pending, leased."""
    from bot.pipeline.sender import Sender

    class DiesBeforeRecording(Sender):
        def _round(self, done, free):  # type: ignore[no-untyped-def]
            if done:
                raise Killed()
            return super()._round(done, free)

    doomed = DiesBeforeRecording(runtime.sessions, runtime.sender.gateway, runtime.clock.now, name="doomed")
    with RunningSender(doomed) as running:
        try:
            running.settle()
        except Killed:
            return
    raise AssertionError("the doomed sender never had anything to send")


def busy(sender: Any) -> bool:
    """Something claimable now as the sender's own claim sees it (``claimable_in``), or something of
    this sender's in flight (leased by it, lease running). A dead sender's running lease is neither.

    Asked in that order on purpose: the two reads are two snapshots, and a row moves from claimable
    to leased (the sender's claim commits) to settled. Asking "leased?" first can miss a row that
    the claim takes between the two reads; asked this way round, a row is seen in one state or the next.
    """
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from bot.pipeline.delivery_state import claimable_in
    from models import OutboxMessage

    now = sender.now()
    o = OutboxMessage
    mine = select(func.count()).where(o.status == "pending", o.locked_by == sender.name, o.locked_until > now)
    try:
        with sender.sessions() as session:
            return bool(claimable_in(session, now, 1, lock=False)) or bool(session.scalar(mine))
    except OperationalError:  # the database is away (a fault test's cut): the sender cannot be settled yet
        return True


def stored(engine: Any) -> str:
    """Every row of every table the bot can write, in a stable order, as one string.

    That is the database's tables and, on SQLite, the inbox file beside it (``bot.store.db.inbox_path``),
    where the webhook writes: "nothing stored" compared on this sees the webhook's writes too.
    """
    from sqlalchemy import create_engine, inspect, text

    from bot.store.db import inbox_path

    engines = [("", engine)]
    path = inbox_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        engines.append(("inbox file ", create_engine(f"sqlite:///{path}") if path.exists() else None))
    out = []
    for label, source in engines:
        if source is None:
            out.append(f"{label}: absent")
            continue
        with source.connect() as connection:
            for table in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                out.append(f"{label}{table}: {sorted(repr(tuple(r)) for r in rows)}")
        if source is not engine:
            source.dispose()
    return "\n".join(out)


def outcomes(engine: Any) -> dict[str, str]:
    """How the worker handled each event it recorded: webhookEventId → outcome (models.EventOutcome)."""
    from sqlalchemy import text

    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT event_key, outcome FROM webhook_events")).all())


def render(message: dict[str, Any], names: dict[str, str]) -> str:
    """What a person would read: text, textV2 with @names, or a Flex card's texts and buttons."""
    kind = message.get("type")
    if kind == "text":
        return message["text"]
    if kind == "textV2":
        subs = message.get("substitution", {})

        def name(match: re.Match[str]) -> str:
            sub = subs.get(match.group(1), {})
            user = (sub.get("mentionee") or {}).get("userId", "")
            return "@" + names.get(user, user)

        body = re.sub(r"(?<!\{)\{([0-9a-zA-Z_]{1,20})\}(?!\})", name, message["text"])
        return body.replace("{{", "{").replace("}}", "}")
    if kind == "flex":
        return "\n".join(_flex_texts(message["contents"]))
    return f"<{kind}>"


def _flex_texts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "text" and "text" in node:
            out.append(node["text"])
        if node.get("type") == "button":
            out.append(f"[{node['action'].get('label', '')}]")
        for value in node.values():
            if isinstance(value, dict | list):
                out.extend(_flex_texts(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_flex_texts(item))
    return out


def _buttons(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "button":
            found.append(node["action"])
        for value in node.values():
            if isinstance(value, dict | list):
                found.extend(_buttons(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_buttons(item))
    return found


@dataclass
class Answer:
    """What the bot sent in answer to one action (possibly to several chats)."""

    deliveries: list[Delivery]
    names: dict[str, str]
    status: int = 200

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [m for d in self.deliveries for m in d.messages]

    def to(self, chat: Any) -> Answer:
        chat_id = getattr(chat, "id", chat)
        return Answer([d for d in self.deliveries if d.to == chat_id], self.names, self.status)

    @property
    def texts(self) -> list[str]:
        return [render(m, self.names) for m in self.messages]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        actions = _buttons([m.get("contents") for m in self.messages if m.get("type") == "flex"])
        for message in self.messages:
            actions += [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]
        return actions

    def button(self, label: str) -> dict[str, Any]:
        for action in self.buttons:
            if action.get("label") == label:
                return action
        raise AssertionError(f"no button {label!r} in {[a.get('label') for a in self.buttons]}")

    def __bool__(self) -> bool:
        return bool(self.deliveries)


@dataclass
class Person:
    world: World
    id: str
    name: str

    def says(self, chat: Group | None, text: str, **kwargs: Any) -> Answer:
        """Send a text in a group, or 1:1 to the bot when ``chat`` is None."""
        chat_id = chat.id if chat else self.id
        user = self.id if chat else None
        event = self.world.line.text(chat_id, user if chat else self.id, text, **kwargs)
        return self.world.send(event)

    def presses(self, chat: Group | None, action: dict[str, Any]) -> Answer:
        """Press a button or quick reply the bot sent (its postback action)."""
        chat_id = chat.id if chat else self.id
        if action.get("type") == "message":  # LINE sends the button's text as the presser's message
            return self.says(chat, action["text"])
        if action.get("type") != "postback":
            raise AssertionError(f"not a postback or message action: {action}")
        return self.world.send(self.world.line.postback(chat_id, self.id, action["data"]))

    def follows_bot(self) -> Answer:
        self.world.platform.add_friend(self.id, self.name)
        return self.world.send(self.world.line.follow(self.id))


@dataclass
class Group:
    world: World
    id: str
    name: str
    members: list[Person] = field(default_factory=list)

    def add(self, *people: Person) -> Answer:
        for person in people:
            self.world.platform.add_member(self.id, person.id, person.name)
            self.members.append(person)
        return self.world.send(self.world.line.member_joined(self.id, [p.id for p in people]))


class World:
    def __init__(self, client: Any, runtime: Any, platform: FakeLinePlatform, secret: str) -> None:
        self.client = client
        self.runtime = runtime
        self.platform = platform
        self.secret = secret
        self.line = WebhookBuilder(platform, clock=runtime.clock.now)
        self.names: dict[str, str] = {}
        self._seen = 0
        self.running_sender: RunningSender | None = None  # set: deliver() waits for it instead of draining

    # --- cast -------------------------------------------------------------------
    def person(self, name: str) -> Person:
        person = Person(self, new_user_id(), name)
        self.names[person.id] = name
        return person

    def group(self, name: str = "久留米ささえあいネット") -> Group:
        group = Group(self, new_group_id(), name)
        self.platform.add_group(group.id, name)
        return group

    def invite_bot(self, group: Group) -> Answer:
        return self.send(self.line.join(group.id))

    # --- plumbing -------------------------------------------------------------------
    def post(self, body: bytes, signature: str | None = "sign") -> Any:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = sign(body, self.secret)
        if signature is not None:
            headers["X-Line-Signature"] = signature
        return self.client.post("/callback", data=body, headers=headers)

    def send(self, *events: dict[str, Any]) -> Answer:
        response = self.post(encode_body(self.line.payload(*events)))
        answer = self.deliver()
        answer.status = response.status_code
        return answer

    def send_outbox(self) -> None:
        """Send what is due: by the running sender when there is one (production's loop), else row by row."""
        if self.running_sender is not None:
            self.running_sender.settle()
        else:
            self.runtime.sender.drain()

    def deliver(self) -> Answer:
        """Let the worker handle what the webhook recorded and send until nothing is due; return what
        LINE accepted since last time."""
        self.runtime.inbox.drain()
        self.send_outbox()
        deliveries = self.platform.deliveries()
        new, self._seen = deliveries[self._seen :], len(deliveries)
        return Answer(new, self.names)
