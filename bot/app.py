"""The product's web application: the webhook, the health check, the calendar feed and the dashboard.

``create_app`` gets a composed ``Runtime`` and knows nothing of how it was composed: simulator
mode adds the fake LINE platform and the chat simulator from outside (``bot/simulator/mode.py``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from bot.pipeline.webhook import SessionsExceptWebhook, blueprint
from bot.runtime import Runtime
from bot.web import calendar, dashboard, health, https, metrics


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.session_interface = SessionsExceptWebhook()
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.extensions["kasane"] = runtime
    app.register_blueprint(blueprint)
    mode = "simulator" if runtime.config.simulator else "line"

    @app.get("/healthz")
    def healthz() -> Any:
        if request.args.get("deep"):
            healthy, found = health.deep(runtime)
            return jsonify(status="ok" if healthy else "unavailable", mode=mode, **found), (200 if healthy else 503)
        if not health.database_answers(runtime):
            return jsonify(status="unavailable", database=False), 503
        return jsonify(status="ok", mode=mode)

    https.register(app, runtime.config)
    metrics.register(app, runtime)
    calendar.register(app, runtime)
    dashboard.register(app, runtime)
    return app
