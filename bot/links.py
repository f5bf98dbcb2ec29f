"""The addresses the bot puts in its messages, built once per process from the configuration.

Every process that can write a link has one ``Links``: the web process (sign-in pages, the
calendar feed), the worker (``ログイン`` and ``カレンダー`` in the 1:1 chat, the monthly figures'
dashboard button) and ``kasane login-link``. It is built at the composition root and handed to
handlers through their context and to jobs through their arguments, so no link depends on
whether this process happened to build the web app.

A sign-in link carries ``<random>.<signature>``: the signature (the server's secret key) turns
away forged or altered links before the database is asked; the database keeps only a hash of
the random part, with its expiry and the moment it was used. Every process must therefore sign
with the same key: see ``bot/store/keys.py``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, Signer
from sqlalchemy.orm import Session

from models.dashboard import consume_token, find_usable_token, store_token

SIGN_IN_SALT = "kasane.dashboard.login"


def base_url(config: Any) -> str:
    """``[server] public_url`` when set (behind a proxy), else the address Kasane listens on."""
    return config.get("server", "public_url").rstrip("/") or listen_url(config)


def listen_url(config: Any) -> str:
    """The address this server listens on, as a client on the same machine reaches it."""
    host = config.get("server", "host")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{config.get('server', 'port')}"


@dataclass(frozen=True)
class Links:
    base: str  # no trailing slash
    secret_key: str

    @classmethod
    def from_config(cls, config: Any, secret_key: str) -> Links:
        return cls(base_url(config), secret_key)

    # --- plain addresses ------------------------------------------------------------------
    def calendar(self, token: str) -> str:
        return f"{self.base}/calendar/{token}.ics"

    def monthly_report(self, network_id: int, year: int, month: int) -> str:
        return f"{self.base}/dashboard/n/{network_id}/report?month={year:04d}-{month:02d}"

    # --- one-time sign-in links -------------------------------------------------------------
    def issue_sign_in(self, session: Session, line_user_id: str, now: datetime, *, via: str = "chat") -> str:
        secret = secrets.token_urlsafe(32)
        store_token(session, line_user_id, secret, now, via=via)
        return f"{self.base}/dashboard/login/{self._signer().sign(secret).decode()}"

    def check_sign_in(self, session: Session, token: str, now: datetime) -> bool:
        """Still usable? (Shown before the sign-in button; does not use the link up.)"""
        secret = self._unsigned(token)
        return secret is not None and find_usable_token(session, secret, now) is not None

    def redeem_sign_in(self, session: Session, token: str, now: datetime) -> str | None:
        """Use the link up; the LINE user id it was issued to, or None (forged, used or expired)."""
        secret = self._unsigned(token)
        return None if secret is None else consume_token(session, secret, now)

    def _signer(self) -> Signer:
        return Signer(self.secret_key, salt=SIGN_IN_SALT)

    def _unsigned(self, token: str) -> str | None:
        try:
            return self._signer().unsign(token).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
