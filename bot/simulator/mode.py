"""Simulator mode, composed: the product's app, plus the built-in fake LINE platform at ``/_line``
and the browser chat simulator at ``/simulator``.

This is the one place where the product meets its test double: ``kasane serve`` without LINE
credentials calls ``simulator_app``; ``bot.app.create_app`` itself never sees the fake.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bot.app import create_app
from bot.clock import Clock
from bot.config import Config
from bot.fakeline import FakeLinePlatform
from bot.fakeline.billing import FREE_PLAN
from bot.links import listen_url
from bot.runtime import LineChannel, Runtime, build_runtime

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
    # The free plan (200 counted messages a month), as a new LINE Official Account has.
    platform = FakeLinePlatform(SIMULATOR_TOKEN, clock=runtime.clock.now, plan=FREE_PLAN)
    app.extensions[EXTENSION] = platform
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {FAKE_LINE_PREFIX: platform.app})  # type: ignore[method-assign]
    attach_simulator(app, runtime, platform)
    return app


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
