"""Simulator mode, composed: the product's app, plus the built-in fake LINE platform at ``/_line``
and the browser chat simulator at ``/simulator``.

This is the one place where the product meets its test double: ``kasane serve`` without LINE
credentials calls ``simulator_app``; ``bot.app.create_app`` itself never sees the fake.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wsgi import get_host

from bot.app import create_app
from bot.clock import Clock
from bot.config import Config
from bot.fakeline import FakeLinePlatform
from bot.fakeline.billing import FREE_PLAN
from bot.links import listen_url
from bot.runtime import LineChannel, Runtime, build_runtime

log = logging.getLogger("kasane")

# Stand-in credentials between the bot and the built-in fake platform (simulator mode only).
SIMULATOR_SECRET = "kasane-simulator-channel-secret"
SIMULATOR_TOKEN = "kasane-simulator-access-token"
FAKE_LINE_PREFIX = "/_line"
EXTENSION = "kasane.fake_line"


def simulator_channel(config: Config) -> LineChannel:
    """The fake platform mounted on this server's own port."""
    return LineChannel(SIMULATOR_SECRET, SIMULATOR_TOKEN, fake_line_url(config))


def fake_line_url(config: Config) -> str:
    return listen_url(config) + FAKE_LINE_PREFIX


def callback_url(config: Config) -> str:
    """The bot's own /callback, reached the way LINE would reach it: over HTTP on this machine."""
    return listen_url(config) + "/callback"


def simulator_runtime(config: Config, clock: Clock | None = None) -> Runtime:
    return build_runtime(config, clock=clock, channel=simulator_channel(config))


def simulator_app(config: Config, clock: Clock | None = None) -> Flask:
    runtime = simulator_runtime(config, clock)
    app = create_app(runtime)
    key = secrets.token_urlsafe(16)
    # The free plan (200 counted messages a month), as a new LINE Official Account has.
    platform = FakeLinePlatform(SIMULATOR_TOKEN, clock=runtime.clock.now, plan=FREE_PLAN, inspection_key=key)
    log.info("fake LINE inspection key (%s/_fake/deliveries?key=...): %s", FAKE_LINE_PREFIX, key)
    app.extensions[EXTENSION] = platform
    dispatched = DispatcherMiddleware(app.wsgi_app, {FAKE_LINE_PREFIX: platform.app})
    app.wsgi_app = LocalHostsOnly(dispatched, allowed_hosts(config))  # type: ignore[method-assign]
    attach_simulator(app, runtime, platform)
    return app


def allowed_hosts(config: Config) -> list[str]:
    """This machine, and the host the configuration names (its listening address, its public URL)."""
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
    configured = config.get("server", "host")
    if configured and configured not in ("0.0.0.0", "::"):
        hosts.append(configured)
    public = urlsplit(config.get("server", "public_url")).hostname
    if public:
        hosts.append(public)
    return hosts


class LocalHostsOnly:
    """Simulator mode answers only requests addressed to this machine (or the configured host):
    a web page elsewhere cannot reach the simulator through DNS rebinding (issue 18, finding 7).
    Werkzeug checks the Host header (``get_host`` with trusted hosts) before any app sees it."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            get_host(environ, trusted_hosts=self.hosts)
        except SecurityError as refused:
            return refused(environ, start_response)
        return self.app(environ, start_response)


def attach_simulator(app: Flask, runtime: Runtime, platform: FakeLinePlatform) -> None:
    """Mount /simulator on the app."""
    from bot.simulator.line_app import LineApp
    from bot.simulator.state import SimulatorState
    from bot.simulator.views import EXTENSION as SIMULATOR
    from bot.simulator.views import blueprint
    from bot.simulator.webhooks import WebhookSender

    state = SimulatorState(ZoneInfo(runtime.config.timezone))
    line_app = LineApp(runtime, platform, state, WebhookSender(runtime, platform, callback_url(runtime.config)))
    line_app.seed()
    app.extensions[SIMULATOR] = line_app
    app.register_blueprint(blueprint)
