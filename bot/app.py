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
from bot.db import make_engine, make_session_factory
from bot.line_client import LineGateway
from bot.registry import Registry, registry
from bot.sender import Sender
from bot.webhook import WebhookProcessor, blueprint

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
    webhook: WebhookProcessor
    sender: Sender
    fake_line: Any = None  # bot.fakeline.FakeLinePlatform in simulator mode
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    scheduler: Any = None

    @property
    def channel_secret(self) -> str:
        return self.config.channel_secret or SIMULATOR_SECRET

    def start_sender(self) -> None:
        poll = self.config.get("sender", "poll_interval")
        thread = threading.Thread(target=self.sender.run_forever, args=(self.stop, poll), daemon=True, name="sender")
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
    gateway = LineGateway(line_base_url(config), token, timeout=config.get("line", "request_timeout"))
    sender = Sender(
        sessions,
        gateway,
        clock.now,
        max_age=timedelta(hours=config.get("sender", "max_attempts_age_hours")),
        lease=timedelta(seconds=config.get("sender", "lease_seconds")),
    )
    processor = WebhookProcessor(sessions, registry, secret, clock.now, settings=config, after_commit=sender.wake)
    runtime = Runtime(config, engine, sessions, clock, registry, processor, sender)
    if config.simulator:
        from bot.fakeline import FakeLinePlatform

        runtime.fake_line = FakeLinePlatform(SIMULATOR_TOKEN, clock=clock.now)
    return runtime


def create_app(config: Config, *, clock: Clock | None = None, engine: Engine | None = None) -> Flask:
    runtime = build_runtime(config, clock=clock, engine=engine)
    app = Flask(__name__)
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
WEB_FEATURES = [_register_simulator, _register_module("bot.calendar_feed"), _register_module("bot.dashboard")]
