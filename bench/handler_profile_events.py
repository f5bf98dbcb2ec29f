"""The events ``bench/handler_profile.py`` feeds to the bot: networks, their setup, then the load's mix.

The mix, texts and organizations are ``bench/loadgen/scenario.py``'s; the steps are built here
without reply tokens from a fake platform process, one event at a time.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench.loadgen.scenario import (
    ANSWERS,
    AREAS,
    CHATTER,
    COMMENTS,
    DEFAULT_MIX,
    MEETING_RULE,
    POSTS,
    THREAD_KINDS,
    Network,
    Person,
)
from bot.fakeline import WebhookBuilder
from bot.fakeline.ids import new_message_id

Event = dict[str, Any]

# The load benchmark's own mix and texts, so the handling measured here is what the load pays.
# Bad signatures are left out: they are refused before any event is handled.
MIX: dict[str, float] = {kind: share for kind, share in DEFAULT_MIX.items() if kind != "bad_signature"}
KEEP_OPEN = 4  # a network keeps a few open threads to answer
RECENT_THREADS = 12  # answers go to a network's recent open threads, as in a real group


@dataclass
class Step:
    kind: str
    event: Event
    network: Network
    post_message_id: str | None = None  # a 困りごと: learn its number once handled


class EventMix:
    """Setup steps per network, then a seeded stream of load events."""

    def __init__(self, line: WebhookBuilder, networks: list[Network], meeting_day: date, seed: int = 1) -> None:
        self.line = line
        self.networks = networks
        self.meeting_day = meeting_day.isoformat()
        self.rng = random.Random(seed)
        self.kinds, self.weights = list(MIX), list(MIX.values())
        self.recent: deque[Event] = deque(maxlen=256)  # events that may be redelivered

    def setup(self, network: Network, seed_threads: int) -> list[Callable[[], Step]]:
        """Steps that make a network whose load events do real work (as the load benchmark's setup)."""
        gid, line = network.group_id, self.line
        steps: list[Callable[[], Step]] = [
            lambda p=p: Step("follow", line.follow(p.id), network) for p in network.people if p.friend
        ]
        steps.append(lambda: Step("join", line.join(gid), network))
        ids = [p.id for p in network.people]
        for start in range(0, len(ids), 5):  # the bot welcomes at most five people per event
            steps.append(
                lambda chunk=ids[start : start + 5]: Step("member_joined", line.member_joined(gid, chunk), network)
            )
        for p in network.people:
            steps.append(lambda p=p: Step("register", line.text(gid, p.id, f"団体登録 {p.org} {p.kind}"), network))
        organizer = network.organizer.id
        steps.append(lambda: Step("areas", line.text(gid, organizer, f"地区登録 {AREAS}"), network))
        steps.append(lambda: Step("meeting", line.text(gid, organizer, f"会議設定 {MEETING_RULE}"), network))
        for i in range(seed_threads):
            steps.append(lambda i=i: self._post(network, network.people[i % len(network.people)]))
        return steps

    def next(self) -> Step:
        kind, network = self._plan()
        if kind == "redelivery":
            return Step(kind, self.line.redelivery(self.rng.choice(self.recent)), network)
        step = self._build(kind, network)
        self.recent.append(step.event)
        return step

    def learned(self, network: Network, number: int, message_id: str) -> None:
        if number not in network.post_ids:
            network.post_ids[number] = message_id
            network.threads.append(number)

    def _plan(self) -> tuple[str, Network]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        network = self.rng.choice(self.networks)
        if kind == "redelivery" and not self.recent:
            kind = "chatter"
        if kind == "close" and len(network.threads) <= KEEP_OPEN:
            kind = "show"
        if kind in THREAD_KINDS and not network.threads:
            kind = "list"
        return kind, network

    def _post(self, network: Network, person: Person) -> Step:
        message_id = new_message_id()
        text = "困りごと " + self.rng.choice(POSTS)
        return Step(
            "post", self.line.text(network.group_id, person.id, text, message_id=message_id), network, message_id
        )

    def _thread(self, network: Network) -> int:
        return self.rng.choice(network.threads[-RECENT_THREADS:])

    def _build(self, kind: str, network: Network) -> Step:
        gid, rng, line = network.group_id, self.rng, self.line
        person = rng.choice(network.people)
        if kind == "post":
            return self._post(network, person)
        if kind in ("connect_text", "offer_text"):
            verb = "伝手" if kind == "connect_text" else "手伝えます"
            return Step(
                kind, line.text(gid, person.id, f"#{self._thread(network)} {verb} {rng.choice(ANSWERS)}"), network
            )
        if kind.endswith("_postback"):
            action = {"connect_postback": "t.connect", "offer_postback": "t.offer", "watch_postback": "t.watch"}[kind]
            return Step(kind, line.postback(gid, person.id, f"a={action}&n={self._thread(network)}"), network)
        if kind == "list":
            return Step(kind, line.text(gid, person.id, "一覧"), network)
        if kind == "show":
            return Step(kind, line.text(gid, person.id, f"#{self._thread(network)}"), network)
        if kind == "quote":
            quoted = network.post_ids.get(self._thread(network))
            return Step(kind, line.text(gid, person.id, rng.choice(COMMENTS), quoted_message_id=quoted), network)
        if kind == "attend":
            answer = rng.choice(("yes", "yes", "no", "maybe"))
            return Step(kind, line.postback(gid, person.id, f"a=meeting.rsvp&d={self.meeting_day}&r={answer}"), network)
        if kind == "close":
            number = self._thread(network)
            network.threads.remove(number)
            return Step(kind, line.text(gid, network.organizer.id, f"#{number} 解決"), network)
        return Step(kind, line.text(gid, person.id, rng.choice(CHATTER)), network)
