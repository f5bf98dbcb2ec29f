"""Application factory and the runtime that ties the database, the sender and LINE together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.pipeline.inbox import InboxProcessor
from bot.pipeline.line_client import LineGateway
from bot.pipeline.registry import Registry, registry
from bot.pipeline.sender import Sender
from bot.pipeline.webhook import SessionsExceptWebhook, WebhookDoor, blueprint
from bot.store.db import make_engine, make_inbox_engine, make_session_factory
from bot.store.sealing import Sealer
from bot.store.wakeup import LocalWakeup

log = logging.getLogger(__name__)

# Simulator mode talks to the built-in fake LINE platform with these stand-in credentials.
SIMULATOR_SECRET = "kasane-simulator-channel-secret"
SIMULATOR_TOKEN = "kasane-simulator-access-token"
FAKE_LINE_PREFIX = "/_line"


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    registry: Registry
    door: WebhookDoor  # /callback: records events
    inbox: InboxProcessor  # the worker: handles them
    sender: Sender  # the worker: sends the outbox
    fake_line: Any = None  # bot.fakeline.FakeLinePlatform in simulator mode
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    scheduler: Any = None

    @property
    def channel_secret(self) -> str:
        return self.config.channel_secret or SIMULATOR_SECRET

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
        self._thread("inbox", self._run_inbox, wakeup)

    def start_sender(self, wakeup: LocalWakeup | None = None) -> None:
        """Send the outbox in threads; ``wakeup`` as for ``start_inbox`` (default: this process's inbox)."""
        if wakeup is not None:
            self.sender.wakeup = wakeup
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

    def start_scheduler(self) -> None:
        from bot.scheduler import build_scheduler

        self.scheduler = build_scheduler(self)
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self.sender.wake()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        for thread in self.threads:
            thread.join(timeout=5)

    def close(self) -> None:
        """Release connections (tests build many runtimes on one database)."""
        self.shutdown()
        self.sender.gateway.close()
        self.door.writer.close()
        if self.inbox.inbox is not self.engine:
            self.inbox.inbox.dispose()


def line_base_url(config: Config) -> str:
    if not config.simulator:
        return config.get("line", "api_base_url")
    host = config.get("server", "host")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{config.get('server', 'port')}{FAKE_LINE_PREFIX}"


def build_runtime(config: Config, *, clock: Clock | None = None, engine: Engine | None = None) -> Runtime:
    import handlers  # noqa: F401  (handlers register themselves on import)

    clock = clock or Clock()
    engine = engine or make_engine(config.database_url)
    sessions = make_session_factory(engine)
    secret = config.channel_secret or SIMULATOR_SECRET
    token = config.channel_access_token or SIMULATOR_TOKEN
    concurrency = config.get("sender", "concurrency")
    gateway = LineGateway(
        line_base_url(config), token, timeout=config.get("line", "request_timeout"), connections=concurrency
    )
    sender = Sender(
        sessions,
        gateway,
        clock.now,
        max_age=timedelta(hours=config.get("sender", "max_attempts_age_hours")),
        lease=timedelta(seconds=config.get("sender", "lease_seconds")),
        concurrency=concurrency,
    )
    inbox_engine = make_inbox_engine(config.database_url, engine)
    door = WebhookDoor(inbox_engine, secret, clock.now)
    inbox = InboxProcessor(
        sessions,
        inbox_engine,
        registry,
        Sealer(secret),
        clock.now,
        settings=config,
        after_commit=sender.wake,
    )
    runtime = Runtime(config, engine, sessions, clock, registry, door, inbox, sender)
    if config.simulator:
        from bot.fakeline import FakeLinePlatform

        runtime.fake_line = FakeLinePlatform(SIMULATOR_TOKEN, clock=clock.now)
    return runtime


def create_app(config: Config, *, clock: Clock | None = None, engine: Engine | None = None) -> Flask:
    runtime = build_runtime(config, clock=clock, engine=engine)
    app = Flask(__name__)
    app.session_interface = SessionsExceptWebhook()
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.extensions["kasane"] = runtime
    app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz() -> Any:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return jsonify(status="unavailable", database=False), 503
        return jsonify(status="ok", mode="simulator" if config.simulator else "line")

    if runtime.fake_line is not None:
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {FAKE_LINE_PREFIX: runtime.fake_line.app})  # type: ignore[method-assign]
    for register in WEB_FEATURES:
        register(app, runtime)
    return app


def _register_simulator(app: Flask, runtime: Runtime) -> None:
    if runtime.fake_line is not None:
        from bot.simulator import register

        register(app, runtime)


def _register_module(module_name: str):  # type: ignore[no-untyped-def]
    def register(app: Flask, runtime: Runtime) -> None:
        import importlib

        importlib.import_module(module_name).register(app, runtime)

    return register


# Web features beyond the webhook, each registering its own blueprint.
WEB_FEATURES = [_register_simulator, _register_module("bot.web.calendar"), _register_module("bot.web.dashboard")]
