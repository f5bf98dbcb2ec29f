"""What every Kasane process builds from its configuration: the database, the clock, the links,
the webhook door, the inbox processor and the sender.

The web process, the worker, the sender and the simulator each compose a ``Runtime`` at their
start (``bot/cli/``, ``bot/simulator/mode.py``); the pipeline's parts get what they need from it
and never reach back for globals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Config, ConfigError
from bot.links import Links
from bot.pipeline.inbox import InboxProcessor
from bot.pipeline.line_client import LineGateway
from bot.pipeline.registry import Registry, registry
from bot.pipeline.sender import Sender
from bot.pipeline.webhook import WebhookDoor
from bot.store.db import make_engine, make_inbox_engine, make_session_factory
from bot.store.heartbeat import Heartbeat
from bot.store.keys import SecretKey, secret_key
from bot.store.sealing import Sealer
from bot.store.wakeup import LocalWakeup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineChannel:
    """The Messaging API channel a runtime talks to: its secret, its token and where LINE is."""

    secret: str
    access_token: str
    api_base_url: str

    def __repr__(self) -> str:  # never the credentials, even in a traceback
        return f"LineChannel(api_base_url={self.api_base_url!r})"


def line_channel(config: Config) -> LineChannel:
    return LineChannel(config.channel_secret, config.channel_access_token, config.get("line", "api_base_url"))


@dataclass
class Runtime:
    config: Config
    channel: LineChannel
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    registry: Registry
    secret_key: SecretKey
    links: Links
    door: WebhookDoor  # /callback: records events
    inbox: InboxProcessor  # the worker: handles them
    sender: Sender  # the worker: sends the outbox
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    on_shutdown: list[Callable[[], Any]] = field(default_factory=list)  # the scheduler's stop, ...

    @property
    def channel_secret(self) -> str:
        return self.channel.secret

    def start_worker(self) -> None:
        """Handle the inbox and send the outbox in threads of this one process (simulator, tests)."""
        self.start_inbox()
        self.start_sender()

    def start_inbox(self, wakeup: LocalWakeup | None = None) -> None:
        """Handle webhook events in a thread. ``wakeup``: how new ones are noticed; by default this
        process's own door says so, a worker process of its own passes a watch on the database."""
        if wakeup is None:
            wakeup = LocalWakeup()
            self.door.after_commit = wakeup.set
        self.inbox.on_round = Heartbeat(self.sessions, "worker").maybe_beat
        self._thread("inbox", self._run_inbox, wakeup)

    def start_sender(self, wakeup: LocalWakeup | None = None) -> None:
        """Send the outbox in threads; ``wakeup`` as for ``start_inbox`` (default: this process's inbox)."""
        if wakeup is not None:
            self.sender.wakeup = wakeup
        self.sender.on_round = Heartbeat(self.sessions, "sender").maybe_beat
        self._thread("sender", self._run_sender)

    def _run_inbox(self, wakeup: LocalWakeup) -> None:
        try:
            self.inbox.run_forever(self.stop, wakeup, self.config.get("worker", "poll_interval"))
        finally:
            wakeup.close()

    def _run_sender(self) -> None:
        try:
            self.sender.run_forever(self.stop, self.config.get("sender", "poll_interval"))
        finally:
            self.sender.wakeup.close()

    def _thread(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        thread.start()
        self.threads.append(thread)

    def shutdown(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self.sender.wake()
        for stop in self.on_shutdown:
            stop()
        for thread in self.threads:
            thread.join(timeout=5)

    def close(self) -> None:
        """Release connections (tests build many runtimes on one database)."""
        self.shutdown()
        self.sender.gateway.close()
        self.door.writer.close()
        if self.inbox.inbox is not self.engine:
            self.inbox.inbox.dispose()


def build_runtime(
    config: Config,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    channel: LineChannel | None = None,
) -> Runtime:
    """``channel``: the LINE channel from the configuration unless the composition gives another
    (simulator mode gives the built-in fake platform's)."""
    import handlers  # noqa: F401  (handlers register themselves on import)

    channel = channel or line_channel(config)
    if not channel.secret or not channel.access_token:
        # An empty secret would make every signature computable by anyone.
        raise ConfigError("[line] channel_secret and channel_access_token must both be set (or neither: simulator)")
    clock = clock or Clock()
    engine = engine or make_engine(config.database_url)
    sessions = make_session_factory(engine)
    key = secret_key(config.get("server", "secret_key"), config.database_url, engine)
    links = Links.from_config(config, key.value)
    concurrency = config.get("sender", "concurrency")
    timeout = config.get("line", "request_timeout")
    gateway = LineGateway(channel.api_base_url, channel.access_token, timeout=timeout, connections=concurrency)
    sender = Sender(
        sessions,
        gateway,
        clock.now,
        max_age=timedelta(hours=config.get("sender", "max_attempts_age_hours")),
        lease=timedelta(seconds=config.get("sender", "lease_seconds")),
        concurrency=concurrency,
    )
    inbox_engine = make_inbox_engine(config.database_url, engine)
    door = WebhookDoor(inbox_engine, channel.secret, clock.now)
    inbox = InboxProcessor(
        sessions,
        inbox_engine,
        registry,
        Sealer(channel.secret),
        clock.now,
        settings=config,
        links=links,
        after_commit=sender.wake,
    )
    return Runtime(config, channel, engine, sessions, clock, registry, key, links, door, inbox, sender)
