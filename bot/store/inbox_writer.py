"""The webhook door's one write, on a database connection of its own.

Recording webhook events is the only work between LINE's POST and our 200, so it is done with
the least machinery: the INSERT is compiled once by SQLAlchemy (with the columns' own type
conversions) and run on a DBAPI connection that the door keeps, without a pool check-out,
events and a Connection object per batch. Measured under a burst on 2 cores: about 20 % more
webhooks acknowledged per second than through ``engine.begin()``.

On PostgreSQL a batch is one statement, run in autocommit, so one round trip to the server:
the rows go as one array per column (``unnest``), and the statement itself notifies the worker
when it inserted anything. ``executemany`` instead runs psycopg's pipeline protocol, then a
NOTIFY, then a COMMIT: a third of the web process's CPU under a burst went there.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, String
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.writer_lock import WriterLockedConnection
from models import InboxEvent

log = logging.getLogger(__name__)

# The worker listens on this channel (PostgreSQL) to start handling without polling.
INBOX_CHANNEL = "kasane_inbox"


class InboxWriteFailed(Exception):
    """The database refused or lost the write: nothing of the batch was recorded."""


class InboxWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.postgres = dialect.name == "postgresql"
        self.names: list[str] | None = None
        if self.postgres:
            self.sql = _postgres_batch(dialect)
        else:
            # A redelivery that arrives while the first copy still waits is not stored twice.
            keys = [column.name for column in InboxEvent.__table__.columns if column.name != "seq"]
            statement = sqlite_insert(InboxEvent.__table__).on_conflict_do_nothing(index_elements=["event_key"])
            compiled = statement.compile(dialect=dialect, column_keys=keys)
            self.sql = str(compiled)
            self.names = list(compiled.positiontup or []) if compiled.positional else None
        self.convert = {
            column.name: processor
            for column in InboxEvent.__table__.columns
            if (processor := column.type.bind_processor(dialect)) is not None
        }
        self.errors: tuple[type[BaseException], ...] = (engine.dialect.loaded_dbapi.Error,)
        self._connection: Any = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert the rows in one transaction (one fsync); raise InboxWriteFailed if it did not commit."""
        params = [self._params(row) for row in rows]
        try:
            connection = self._connect()
            cursor = connection.cursor()
            if self.postgres:  # autocommit: the statement is the transaction
                cursor.execute(self.sql, {name: [row[name] for row in params] for name in params[0]})
                return
            if isinstance(connection.dbapi_connection, WriterLockedConnection):
                connection.dbapi_connection.begin_immediate()  # bot/store/writer_lock.py
            else:
                cursor.execute("BEGIN IMMEDIATE")  # take SQLite's write lock now, waiting on busy_timeout
            cursor.executemany(self.sql, params)
            connection.commit()
        except self.errors as exc:
            self._discard()
            raise InboxWriteFailed(exc.__class__.__name__) from None

    def _params(self, row: dict[str, Any]) -> Any:
        converted = {name: self.convert[name](value) if name in self.convert else value for name, value in row.items()}
        if self.names is not None:
            return tuple(converted[name] for name in self.names)
        return converted

    def _connect(self) -> Any:
        if self._connection is None:
            connection = self.engine.raw_connection()
            if self.postgres:
                # Never handed back to the pool: nobody else may get a connection in autocommit.
                connection.detach()
                connection.dbapi_connection.autocommit = True
            self._connection = connection
        return self._connection

    def _discard(self) -> None:
        """After any error the connection may be dead or mid-transaction: start afresh next time."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.invalidate()
        except Exception:  # already broken: nothing more to release
            log.debug("inbox writer: connection discarded")

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _postgres_batch(dialect: Any) -> str:
    """One INSERT of a batch, in arrival order, that notifies the worker if it inserted a row
    (a redelivery that arrives while the first copy still waits is not stored twice)."""
    columns = [column for column in InboxEvent.__table__.columns if column.name != "seq"]
    names = ", ".join(column.name for column in columns)
    # Text arrays without their length: an over-long value must fail the INSERT, not be cut by the cast.
    types = ["TEXT" if isinstance(column.type, String) else column.type.compile(dialect=dialect) for column in columns]
    arrays = ", ".join(f"%({column.name})s::{type_}[]" for column, type_ in zip(columns, types, strict=True))
    return (
        f"WITH new AS (INSERT INTO {InboxEvent.__tablename__} ({names})"
        f" SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS batch({names}, position) ORDER BY position"
        " ON CONFLICT (event_key) DO NOTHING RETURNING 1)"
        f" SELECT pg_notify('{INBOX_CHANNEL}', '') WHERE EXISTS (SELECT FROM new)"
    )
