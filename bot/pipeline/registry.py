"""The one place handlers register: by event type, by chat command, by postback action.

``bot/`` dispatches through this registry and knows no handler by name; adding a
command means adding a decorated function in ``handlers/``.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from bot.pipeline.context import Context

Handler = Callable[..., None]
Gate = Callable[[Any], bool]


def normalise_command_text(text: str) -> str:
    """NFKC so that full-width ＃１２ and half-width #12 are the same command."""
    return unicodedata.normalize("NFKC", text).strip()


@dataclass(order=True)
class TextRoute:
    priority: int
    order: int
    pattern: re.Pattern[str] = field(compare=False)
    handler: Handler = field(compare=False)
    where: str = field(compare=False, default="any")  # "any" | "group" | "user"


@dataclass(frozen=True)
class CommandWord:
    """A word that starts a command, as typed (``alias``) and as the bot writes it (``word``).

    The typo suggester (``bot/pipeline/suggest.py``) reads these: a command registered with
    ``on_command`` is covered without further edits.
    """

    word: str  # the command's first keyword: what a suggestion writes
    alias: str  # this keyword
    takes_args: bool  # "困りごと 内容" does, "一覧" alone does not
    where: str = "any"
    executes: bool = True  # False: a reading (いちらん), which only ever gets 「もしかして…？」


NO_ARGS = r"(?P<args>)"


@dataclass
class Registry:
    events: dict[str, list[Handler]] = field(default_factory=dict)
    texts: list[TextRoute] = field(default_factory=list)
    postbacks: dict[str, Handler] = field(default_factory=dict)
    fallbacks: list[tuple[int, Handler]] = field(default_factory=list)
    help_entries: list[tuple[int, str, str]] = field(default_factory=list)
    help_topics: dict[str, str] = field(default_factory=dict)  # usage -> topic of ヘルプ's card
    words: list[CommandWord] = field(default_factory=list)
    thread_verbs: dict[str, str] = field(default_factory=dict)  # "#12 <verb>": alias -> the verb as written
    # Asked before any handler: an event a gate refuses reaches no handler at all (a group that
    # is not an approved network gets nothing: handlers/membership.py).
    gates: list[Gate] = field(default_factory=list)

    def gate(self, fn: Gate) -> Gate:
        self.gates.append(fn)
        return fn

    def admits(self, ctx: Any) -> bool:
        return all(check(ctx) for check in self.gates)

    def describe(self, usage: str, what: str, *, order: int = 50, topic: str | None = None) -> None:
        """Add a line to ``ヘルプ``: only commands that exist are listed (``topic``: which of its card's buttons)."""
        self.help_entries.append((order, usage, what))
        self.help_entries.sort(key=lambda entry: entry[0])
        if topic:
            self.help_topics[usage] = topic

    def command_words(self, *keywords: str, takes_args: bool, where: str = "any", reading: bool = False) -> None:
        """Words that start a command, for suggestions: those of a command matched by a pattern of its
        own (``on_text``), or with ``reading`` a command's reading in kana, suggested but never run."""
        word = normalise_command_text(keywords[0])
        for alias in keywords[1:] if reading else keywords:
            self.words.append(CommandWord(word, normalise_command_text(alias), takes_args, where, not reading))

    def verbs(self, aliases: dict[str, str]) -> None:
        """Verbs after a thread number (``#12 解決``): alias -> the verb a suggestion writes."""
        self.thread_verbs.update(aliases)

    # --- decorators -------------------------------------------------------
    def on_event(self, event_type: str) -> Callable[[Handler], Handler]:
        """Handle an event type as LINE names it: "join", "memberJoined", "unsend" ..."""

        def register(fn: Handler) -> Handler:
            self.events.setdefault(event_type, []).append(fn)
            return fn

        return register

    def on_command(
        self, *keywords: str, args: str = r"(?P<args>.*)", priority: int = 50, where: str = "any"
    ) -> Callable[[Handler], Handler]:
        """A text command starting with one of ``keywords``; named groups become kwargs."""
        alternatives = "|".join(re.escape(normalise_command_text(k)) for k in keywords)
        self.command_words(*keywords, takes_args=args != NO_ARGS, where=where)
        return self.on_text(rf"(?:{alternatives})(?:\s+|$){args}", priority=priority, where=where)

    def on_text(self, pattern: str, *, priority: int = 50, where: str = "any") -> Callable[[Handler], Handler]:
        """A text message matching ``pattern`` (after NFKC), lower priority number first."""
        compiled = re.compile(pattern, re.DOTALL | re.IGNORECASE)

        def register(fn: Handler) -> Handler:
            self.texts.append(TextRoute(priority, len(self.texts), compiled, fn, where))
            self.texts.sort()
            return fn

        return register

    def on_postback(self, action: str) -> Callable[[Handler], Handler]:
        """A postback whose data is ``a=<action>&k=v...``; the other pairs become kwargs."""

        def register(fn: Handler) -> Handler:
            if action in self.postbacks:
                raise ValueError(f"postback action {action!r} registered twice")
            self.postbacks[action] = fn
            return fn

        return register

    def on_any_text(self, *, priority: int = 90) -> Callable[[Handler], Handler]:
        """Text no command matched (a pending answer, a hint): return True when handled."""

        def register(fn: Handler) -> Handler:
            self.fallbacks.append((priority, fn))
            self.fallbacks.sort(key=lambda pair: pair[0])
            return fn

        return register

    # --- dispatch -----------------------------------------------------------
    def dispatch_event(self, ctx: Context) -> bool:
        handlers = self.events.get(ctx.event_type, [])
        for handler in handlers:
            handler(ctx)
        return bool(handlers)

    def dispatch_text(self, ctx: Context, text: str) -> bool:
        normalised = normalise_command_text(text)
        for route in self.texts:
            if route.where == "group" and not ctx.in_group:
                continue
            if route.where == "user" and ctx.in_group:
                continue
            match = route.pattern.fullmatch(normalised)
            if match:
                route.handler(ctx, **{k: (v or "").strip() for k, v in match.groupdict().items()})
                return True
        return any(fn(ctx, normalised) for _, fn in self.fallbacks)

    def dispatch_postback(self, ctx: Context, data: str) -> bool:
        params: dict[str, Any] = dict(parse_qsl(data, keep_blank_values=True))
        handler = self.postbacks.get(params.pop("a", ""))
        if handler is None:
            return False
        # Postback data comes back from LINE as we sent it, but an old card may carry keys
        # a newer handler no longer takes: pass only what the handler declares.
        accepted = _parameters(handler)
        handler(ctx, **{k: v for k, v in params.items() if k in accepted})
        return True


@cache
def _parameters(handler: Handler) -> frozenset[str]:
    return frozenset(inspect.signature(handler).parameters)


registry = Registry()
on_event = registry.on_event
gate = registry.gate
on_command = registry.on_command
on_text = registry.on_text
on_postback = registry.on_postback
on_any_text = registry.on_any_text
describe = registry.describe
command_words = registry.command_words
