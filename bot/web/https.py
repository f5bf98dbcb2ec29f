"""Behind an HTTPS reverse proxy (Caddy, deploy/Caddyfile): believe it, and say so to browsers.

LINE calls webhooks over HTTPS only, so Kasane sits behind a proxy that ends TLS and forwards
plain HTTP on 127.0.0.1. ``[server] trusted_proxies`` is how many proxies stand in front: their
``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (Werkzeug's ProxyFix), and no more,
since anyone can send those headers. A request that arrived over HTTPS then gets HSTS, and the
session cookie is marked Secure (bot/pipeline/webhook.py ``SessionsExceptWebhook``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

HSTS = "max-age=31536000"  # one year; no includeSubDomains: other hosts of the domain are not ours


def register(app: Flask, config: Any) -> None:
    proxies = config.get("server", "trusted_proxies")
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    @app.after_request
    def strict_transport(response: Response) -> Response:
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
