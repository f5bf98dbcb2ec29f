"""Declarative base and the column types every model shares."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in Python, naive UTC in the database.

    SQLite has no time zones; storing naive UTC everywhere makes both databases
    compare and index timestamps the same way.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}  # the two databases Kasane runs on


def upsert(session: Session, model: type[Base], keys: tuple[str, ...], **values: Any) -> None:
    """Insert a row, or update the one with the same ``keys`` (their unique constraint), in one statement.

    Read-then-write takes two or three statements and a savepoint to survive a concurrent twin;
    ``INSERT … ON CONFLICT DO UPDATE`` is atomic on both databases. Objects of ``model`` already
    loaded in the session are not refreshed.
    """
    statement = _upsert_statement(session.get_bind().dialect.name, model, keys, tuple(values))
    session.execute(statement, values)


@cache
def _upsert_statement(dialect: str, model: type[Base], keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    # Built once per shape: constructing it costs more CPU than running it.
    statement = INSERTS[dialect](model)
    changes = {name: statement.excluded[name] for name in columns if name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
