"""What the simulated LINE app remembers: people, groups and each chat's log, in memory.

The bot's own records live in its database; this is only what a LINE user would see on
their phone (who is in which group, what was said, which message ids to quote or unsend).
It is rebuilt empty at every start.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from bot.fakeline import Delivery

BOT_NAME = "重ね（Kasane）"
# Bounds that keep a long workshop's memory small.
MAX_PEOPLE = 100
MAX_GROUPS = 30
MAX_LOG = 2000


@dataclass
class Person:
    id: str
    name: str
    friend: bool = False  # follows the bot (has a 1:1 chat with it)


@dataclass
class Group:
    id: str
    name: str
    members: list[str] = field(default_factory=list)
    bot_in: bool = False


@dataclass
class Entry:
    """One line of a chat: a person's message, the bot's message, or a note such as "joined"."""

    seq: int
    chat: str
    kind: str  # "user" | "bot" | "system"
    at: datetime
    sender: str | None = None  # the user id of a "user" entry
    message: dict[str, Any] | None = None  # LINE message JSON ("user" and "bot")
    message_id: str | None = None  # LINE's message id: what quotes and unsend refer to
    quoted_id: str | None = None
    note: str = ""  # the text of a "system" entry
    unsent: bool = False
    failed: bool = False  # the bot's webhook did not accept it
    new_day: bool = False  # first entry of its (local) day in this chat: show a date line
    rev: int = 0  # the state version at which this entry last changed


class SimulatorState:
    """Thread-safe: the page polls while actions and the sender run in other threads."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.groups: dict[str, Group] = {}
        self.logs: dict[str, list[Entry]] = {}
        self.version = 0
        self._seq = itertools.count(1)
        self._delivery_cursor = -1  # the fake platform's last delivery index already shown

    # --- the cast -------------------------------------------------------------
    def add_person(self, person: Person) -> Person:
        with self.lock:
            self.people[person.id] = person
            self.version += 1
            return person

    def add_group(self, group: Group) -> Group:
        with self.lock:
            self.groups[group.id] = group
            self.version += 1
            return group

    def names(self) -> dict[str, str]:
        with self.lock:
            return {person.id: person.name for person in self.people.values()}

    # --- chat logs -------------------------------------------------------------
    def add_entry(self, chat: str, kind: str, at: datetime, **fields: Any) -> Entry:
        with self.lock:
            log = self.logs.setdefault(chat, [])
            self.version += 1
            previous_day = log[-1].at.astimezone(self.tz).date() if log else None
            entry = Entry(next(self._seq), chat, kind, at, rev=self.version, **fields)
            entry.new_day = entry.at.astimezone(self.tz).date() != previous_day
            log.append(entry)
            del log[:-MAX_LOG]
            return entry

    def touch(self, entry: Entry, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                setattr(entry, name, value)
            self.version += 1
            entry.rev = self.version

    def log(self, chat: str) -> list[Entry]:
        with self.lock:
            return list(self.logs.get(chat, []))

    def last_seqs(self) -> dict[str, int]:
        """Each chat's latest entry number: the page marks chats with something new."""
        with self.lock:
            return {chat: log[-1].seq for chat, log in self.logs.items() if log}

    def entries_since(self, chat: str, since: int) -> list[Entry]:
        with self.lock:
            return [entry for entry in self.logs.get(chat, []) if entry.rev > since]

    def entry(self, chat: str, seq: int) -> Entry | None:
        with self.lock:
            return next((e for e in self.logs.get(chat, []) if e.seq == seq), None)

    def by_message_id(self, chat: str, message_id: str) -> Entry | None:
        with self.lock:
            return next((e for e in self.logs.get(chat, []) if e.message_id == message_id), None)

    # --- what the bot sent ------------------------------------------------------------
    def absorb(self, deliveries: list[Delivery]) -> None:
        """Add what the fake LINE platform accepted (replies and pushes) to the chats' logs."""
        with self.lock:
            for delivery in deliveries:
                if delivery.index <= self._delivery_cursor:
                    continue  # another poller got here first
                for i, message in enumerate(delivery.messages):
                    sent = delivery.sent_messages[i] if i < len(delivery.sent_messages) else {}
                    self.add_entry(delivery.to, "bot", delivery.at, message=message, message_id=sent.get("id"))
                self._delivery_cursor = delivery.index

    @property
    def delivery_cursor(self) -> int:
        with self.lock:
            return self._delivery_cursor
