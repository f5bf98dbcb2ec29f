"""Logs an operator can search: text or JSON lines, levels per logger, and the event each line is about.

``[log] format = "json"`` writes one JSON object per line (python-json-logger). Every line written
while the worker handles an event carries that event's ``webhookEventId`` (``event_id``) and,
once the handler knows them, the network's id and the thread's number (``network_id``,
``thread_number``): never the text, which only the sealed inbox and the masked summary hold.
In text format they follow the message in brackets.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Quiet by default, each for a reason; [log] levels overrides any of them.
DEFAULT_LEVELS = {
    "alembic": "WARNING",
    "apscheduler": "WARNING",
    # waitress warns "Task queue depth is N" for every queued request under a burst.
    "waitress.queue": "ERROR",
}
# Not "thread": a LogRecord already has that attribute (the thread id).
FIELDS = ("event_id", "network_id", "thread_number")

# What the current event is about, for the lines logged while it is handled (one per thread).
_about: ContextVar[dict[str, Any] | None] = ContextVar("kasane_log_about", default=None)


@contextlib.contextmanager
def event_context(event_id: str) -> Iterator[None]:
    token = _about.set({"event_id": event_id})
    try:
        yield
    finally:
        _about.reset(token)


def note(*, network_id: int | None = None, thread: int | None = None) -> None:
    """Add the network or thread the current event turned out to be about (no event: nothing)."""
    about = _about.get()
    if about is None:
        return
    if network_id is not None:
        about["network_id"] = network_id
    if thread is not None:
        about["thread_number"] = thread


class EventFields(logging.Filter):
    """Puts the current event's id, network and thread on each record (as attributes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        about = _about.get()
        if about:
            for name, value in about.items():
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        parts = [f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None) is not None]
        return f"{line} [{' '.join(parts)}]" if parts else line


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "{levelname}{name}{message}{process}",
            style="{",
            timestamp=True,
            rename_fields={"levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    return TextFormatter(TEXT_FORMAT)


def configure(config: Any, verbose: bool = False) -> None:
    """Apply ``[log]`` to the handlers ``logging.basicConfig`` installed (``kasane`` calls it at start)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else config.get("log", "level"))
    chosen = formatter(config.get("log", "format"))
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not any(isinstance(f, EventFields) for f in handler.filters):
            handler.setFormatter(chosen)
            handler.addFilter(EventFields())
    levels = {**DEFAULT_LEVELS, **config.get("log", "levels")}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(str(level).upper())


def check_levels(levels: dict[str, Any]) -> str | None:
    """The first entry of ``[log] levels`` that is not a level name, for a one-line error."""
    for name, level in levels.items():
        if not isinstance(level, str) or level.upper() not in logging.getLevelNamesMapping():
            return f"[log] levels: {name} = {level!r} is not a level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
    return None
