"""The browser chat simulator (simulator mode only): try Kasane in a LINE-like group without LINE.

Every action on the page becomes a signed webhook POSTed to the bot's own /callback, and
every answer is what the built-in fake LINE platform accepted: if it works here, it works in LINE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from flask import Flask

    from bot.app import Runtime


def register(app: Flask, runtime: Runtime) -> None:
    """Mount /simulator on the app (simulator mode only)."""
    from bot.simulator.line_app import LineApp
    from bot.simulator.state import SimulatorState
    from bot.simulator.views import EXTENSION, blueprint
    from bot.simulator.webhooks import WebhookSender

    state = SimulatorState(ZoneInfo(runtime.config.timezone))
    line_app = LineApp(runtime, state, WebhookSender(runtime))
    line_app.seed()
    app.extensions[EXTENSION] = line_app
    app.register_blueprint(blueprint)
