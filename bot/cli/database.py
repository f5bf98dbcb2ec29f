"""``kasane db``, and the database every other subcommand opens: checked (or migrated) first."""

from __future__ import annotations

import argparse

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.cli.main import UsageError, command
from bot.config import Config
from bot.links import Links
from bot.store.db import is_sqlite, make_engine, make_session_factory, normalise_url
from bot.store.keys import secret_key
from models.server import remembered_address


def prepare_database(config: Config) -> None:
    """SQLite (the embedded default) is migrated on start; PostgreSQL must be migrated explicitly,
    so that several web processes never race to run migrations."""
    from bot.store.migrate import is_up_to_date, upgrade

    url = config.database_url
    try:
        if is_sqlite(normalise_url(url)):
            upgrade(url)
            return
        engine = make_engine(url)
        up_to_date = is_up_to_date(engine, url)
        engine.dispose()
    except OperationalError as exc:
        raise UsageError(f"cannot open the database ({exc.orig.__class__.__name__}); check [database] url") from None
    if not up_to_date:
        raise UsageError("the database schema is not current: run `kasane db upgrade` first")


def prepare_database_apart(config: Config) -> None:
    """``prepare_database`` for a long-lived process: Alembic is loaded only in a child that exits."""
    from bot.worker_process import in_forked_child

    in_forked_child(lambda: prepare_database(config), UsageError)


def open_sessions(config: Config) -> sessionmaker[Session]:
    """The database of a one-off subcommand, checked (SQLite: migrated) first."""
    prepare_database(config)
    return make_session_factory(make_engine(config.database_url))


def open_links(config: Config, sessions: sessionmaker[Session]) -> Links:
    """The links the server writes, signed with the server's own key (kept or configured)."""
    key = secret_key(config.get("server", "secret_key"), config.database_url, sessions.kw["bind"])
    links = Links.from_config(config, key.value)
    if config.get("server", "public_url"):
        return links
    # No public address configured: where `kasane serve` said it listens (its --port), else the config.
    with sessions() as session:
        listening = remembered_address(session)
    return Links(listening, key.value) if listening else links


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["upgrade", "current"])
    parser.add_argument(
        "--sql", action="store_true", help="upgrade: print the SQL for a DBA instead of running it (PostgreSQL)"
    )


@command("db", help="database migrations", configure=_configure)
def db(args: argparse.Namespace, config: Config) -> int:
    from bot.store.migrate import current_revisions, head_revisions, upgrade, upgrade_sql

    if args.sql and args.action != "upgrade":
        raise UsageError("--sql goes with `kasane db upgrade`")
    try:
        if args.sql:
            if is_sqlite(normalise_url(config.database_url)):
                raise UsageError("--sql is for PostgreSQL (a DBA applies it); kasane serve migrates SQLite itself")
            upgrade_sql(config.database_url)
        elif args.action == "upgrade":
            upgrade(config.database_url)
            print("database is up to date")
        else:
            engine = make_engine(config.database_url)
            current = ", ".join(sorted(current_revisions(engine))) or "(empty)"
            print(f"current: {current}  head: {', '.join(sorted(head_revisions(config.database_url)))}")
    except OperationalError as exc:
        raise UsageError(f"cannot open the database ({exc.orig.__class__.__name__}); check [database] url") from None
    return 0
