"""The server's secret key (session cookies, sign-in links), the same in every process.

A configured ``[server] secret_key`` (or ``KASANE_SECRET_KEY``) always wins. Without one, a
strong key is generated once and kept, so that the web process, the worker, ``kasane worker``
and ``kasane login-link`` all sign and check with the same key and sessions survive a restart:
- SQLite: a file beside the database (``kasane-secret.key``), mode 0600, created atomically so
  that two processes starting together agree on one key; a copy of the database file alone
  (a backup, a support dump) does not carry it;
- PostgreSQL: a row in ``server_keys``, inserted once (``ON CONFLICT DO NOTHING``), because web
  processes may run on several hosts that share only the database.
An in-memory SQLite database (tests) gets a key for this process only.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from bot.config import ConfigError
from bot.store.db import is_sqlite, normalise_url
from models.base import INSERTS
from models.server import ServerKey

log = logging.getLogger(__name__)

KEY_NAME = "secret_key"


@dataclass(frozen=True)
class SecretKey:
    value: str
    source: str  # for the start-up line; never the key itself

    def __repr__(self) -> str:  # never print the key, even in a traceback's locals
        return f"SecretKey(source={self.source!r})"


def key_path(url: str) -> Path | None:
    """``kasane.db`` → ``kasane-secret.key`` beside it; None for PostgreSQL or an in-memory database."""
    url = normalise_url(url)
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    main = Path(database)
    return main.with_name(f"{main.stem}-secret.key")


def secret_key(configured: str, url: str, engine: Engine) -> SecretKey:
    if configured:
        return SecretKey(configured, "[server] secret_key")
    if not is_sqlite(normalise_url(url)):
        return SecretKey(_kept_in_database(engine), "generated, kept in the database (server_keys)")
    path = key_path(url)
    if path is None:
        return SecretKey(secrets.token_urlsafe(48), "generated for this process only (in-memory database)")
    return SecretKey(_kept_in_file(path), f"generated, kept in {path}")


def _kept_in_file(path: Path) -> str:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    # Written whole to a private temporary file, then linked into place: link() fails if another
    # process got there first, and nobody ever reads a half-written key.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48))
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process kept its key first: use that one
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ConfigError(f"{path}: the kept secret key is damaged; remove the file to make a new one")
    return value


def _kept_in_database(engine: Engine) -> str:
    insert = INSERTS[engine.dialect.name](ServerKey).on_conflict_do_nothing(index_elements=["name"])
    with engine.begin() as connection:
        connection.execute(
            insert, {"name": KEY_NAME, "value": secrets.token_urlsafe(48), "created_at": datetime.now(UTC)}
        )
        return str(connection.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME)))
