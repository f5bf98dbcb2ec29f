"""The coordinators' dashboard at /dashboard: the case log, the monthly report, exports and
the 重なり map, for people who hold a coordinator or organizer role.

Sign-in is by a one-time link the bot sends in a 1:1 chat (``ログイン``); the session is
Flask's signed cookie. Every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register(app: Flask, runtime: Runtime) -> None:
    # Route modules attach their views to the blueprint when imported.
    from bot.web.dashboard import areas, auth, cost, delivery, pages, reports, threads  # noqa: F401
    from bot.web.dashboard.web import bp, csrf

    config = runtime.config
    # The same key in every process (bot/store/keys.py): sessions survive a restart.
    app.secret_key = runtime.secret_key.value
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure only behind HTTPS: a plain-http simulator on 127.0.0.1 must still sign in.
        SESSION_COOKIE_SECURE=config.get("server", "public_url").startswith("https://"),
        # Check CSRF on the dashboard's own forms only: /callback is signed by LINE instead.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session (idle timeout), not an extra hour limit.
        WTF_CSRF_TIME_LIMIT=None,
        # Flask-WTF's HTTPS check wants a Referer, which our no-referrer policy never sends.
        WTF_CSRF_SSL_STRICT=False,
    )
    csrf.init_app(app)
    app.register_blueprint(bp)
