"""One-time sign-in links and the addresses the bot puts in its messages.

A link carries ``<random>.<signature>``: the signature (the server's secret key) turns away
forged or altered links before the database is asked; the database keeps only a hash of
the random part, with its expiry and the moment it was used.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime

from itsdangerous import BadSignature, Signer
from sqlalchemy.orm import Session

from bot.config import Config
from models.dashboard import consume_token, find_usable_token, store_token

SALT = "kasane.dashboard.login"
_random_key: str | None = None
_lock = threading.Lock()
_public_base: str | None = None  # set when the web app is built (see configure)


def secret_key(config: Config) -> str:
    """``[server] secret_key``, or one random key for this process (documented: sessions and
    links then end when the server restarts)."""
    global _random_key
    configured = config.get("server", "secret_key")
    if configured:
        return configured
    with _lock:
        if _random_key is None:
            _random_key = secrets.token_urlsafe(48)
        return _random_key


def base_url(config: Config) -> str:
    public = config.get("server", "public_url").rstrip("/")
    if public:
        return public
    host = config.get("server", "host")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{config.get('server', 'port')}"


def configure(config: Config) -> None:
    """Remember the public address for jobs, which get only ``(session, now)``."""
    global _public_base
    _public_base = base_url(config)


def public_base() -> str | None:
    return _public_base


def _signer(config: Config) -> Signer:
    return Signer(secret_key(config), salt=SALT)


def issue_link(session: Session, config: Config, line_user_id: str, now: datetime, *, via: str = "chat") -> str:
    secret = secrets.token_urlsafe(32)
    store_token(session, line_user_id, secret, now, via=via)
    token = _signer(config).sign(secret).decode()
    return f"{base_url(config)}/dashboard/login/{token}"


def _secret(config: Config, token: str) -> str | None:
    try:
        return _signer(config).unsign(token).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def check_link(session: Session, config: Config, token: str, now: datetime) -> bool:
    """Still usable? (Shown before the sign-in button; does not use the link up.)"""
    secret = _secret(config, token)
    return secret is not None and find_usable_token(session, secret, now) is not None


def redeem_link(session: Session, config: Config, token: str, now: datetime) -> str | None:
    """Use the link up; the LINE user id it was issued to, or None (forged, used or expired)."""
    secret = _secret(config, token)
    return None if secret is None else consume_token(session, secret, now)
