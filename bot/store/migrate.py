"""``kasane db upgrade``: Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from bot.store.db import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions(url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def is_up_to_date(engine: Engine, url: str) -> bool:
    return current_revisions(engine) == head_revisions(url)


def upgrade_sql(url: str) -> None:
    """Print the SQL that brings the database from where it is to the head (Alembic's offline mode),
    for a DBA to read and apply; from an empty database when it does not answer."""
    import sys

    from sqlalchemy.exc import OperationalError

    from bot.store.db import make_engine

    engine = make_engine(url)
    try:
        current = sorted(current_revisions(engine))
    except OperationalError:
        print("-- the database did not answer: the SQL from an empty database", file=sys.stderr)
        current = []
    finally:
        engine.dispose()
    if len(current) > 1:
        raise ValueError(f"the database has several heads ({', '.join(current)}); run kasane db upgrade")
    heads = head_revisions(url)
    if current and set(current) == heads:
        print("-- the database is up to date: nothing to apply")
        return
    target = f"{current[0]}:heads" if current else "heads"
    command.upgrade(alembic_config(url), target, sql=True)
