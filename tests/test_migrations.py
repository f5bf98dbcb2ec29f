"""Upgrades without fear: a database at the previous release's head (revision 0006), with rows in
every table, upgraded to today's head keeps every row and every value; ``kasane db upgrade --sql``
prints the SQL for a DBA.

The rows are made from the schema itself (reflected at 0006), so a table added before that head is
covered without this test being edited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conftest import USING_POSTGRES, require_postgres
from sqlalchemy import Engine, MetaData, Table, create_engine, func, insert, select, text, types
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import models
from bot.cli.main import main
from bot.store.db import make_engine
from bot.store.migrate import head_revisions, upgrade

PREVIOUS_RELEASE = "0006"
ROWS = 2


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if not USING_POSTGRES:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = make_url(require_postgres())
    name = f"{url.database}_migrate"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def made_up(table: Table, n: int, made: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Row ``n`` of ``table``: a value of each column's type, distinct per row, foreign keys pointing
    at row ``n`` of the table they reference."""
    row: dict[str, Any] = {}
    for column in table.columns:
        foreign = next(iter(column.foreign_keys), None)
        if foreign is not None and foreign.column.table.name != table.name:
            row[column.name] = made[foreign.column.table.name][n][foreign.column.name]
            continue
        if foreign is not None:  # a row pointing at its own table: the first has none
            row[column.name] = None
            continue
        kind = column.type
        if isinstance(kind, types.Boolean):
            row[column.name] = n % 2 == 0
        elif isinstance(kind, types.DateTime):
            row[column.name] = datetime(2026, 10, 1, 9, 30) + timedelta(days=n, minutes=len(column.name))
        elif isinstance(kind, types.Date):
            row[column.name] = date(2026, 10, 1) + timedelta(days=n)
        elif isinstance(kind, types.Integer):
            row[column.name] = n + 1
        elif isinstance(kind, types.Float | types.Numeric):
            row[column.name] = n + 0.5
        elif isinstance(kind, types.JSON):
            row[column.name] = {"kept": [n, "値"]}
        elif isinstance(kind, types.LargeBinary):
            row[column.name] = bytes([n, 0, 255]) + column.name.encode()
        elif isinstance(kind, types.String):
            value = f"{column.name[:3]}{n}値"
            length = getattr(kind, "length", None)
            row[column.name] = value[:length] if length else value
        else:
            raise AssertionError(f"{table.name}.{column.name}: no made-up value for {kind!r}")
    return row


def comparable(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)  # JSON read back as text by a reflected SQLite column
        except ValueError:
            return value
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def rows_of(engine: Engine, table: Table) -> list[dict[str, Any]]:
    key = list(table.primary_key.columns) or list(table.columns)
    with engine.connect() as connection:
        return [
            {name: comparable(value) for name, value in row._mapping.items()}
            for row in connection.execute(select(table).order_by(*key))
        ]


# Columns a migration turns into something else on purpose, and how to find them afterwards.
TRANSFORMED = {
    # 0014: a calendar URL's secret is kept only as a hash (issue 18, finding 6).
    ("calendar_feeds", "token"): ("token_hash", lambda token: hashlib.sha256(token.encode()).hexdigest()),
}


def test_a_database_of_the_previous_release_upgrades_with_every_row_kept(empty_database_url: str):
    upgrade(empty_database_url, PREVIOUS_RELEASE)
    engine = make_engine(empty_database_url)
    try:
        old = MetaData()
        old.reflect(engine)
        tables = [t for t in old.sorted_tables if t.name != "alembic_version"]
        assert len(tables) >= 20
        made: dict[str, list[dict[str, Any]]] = {}
        with engine.begin() as connection:
            for table in tables:
                made[table.name] = [made_up(table, n, made) for n in range(ROWS)]
                connection.execute(insert(table), made[table.name])
        before = {table.name: rows_of(engine, table) for table in tables}
        assert all(len(rows) == ROWS for rows in before.values())

        upgrade(empty_database_url)

        with engine.connect() as connection:
            assert set(connection.scalars(text("SELECT version_num FROM alembic_version"))) == head_revisions(
                empty_database_url
            )
        new = MetaData()
        new.reflect(engine)
        for table in tables:
            old_names = list(before[table.name][0])
            kept = [
                {
                    name: row[TRANSFORMED[table.name, name][0]] if (table.name, name) in TRANSFORMED else row[name]
                    for name in old_names
                }
                for row in rows_of(engine, new.tables[table.name])
            ]
            expected = [
                {
                    name: TRANSFORMED[table.name, name][1](value) if (table.name, name) in TRANSFORMED else value
                    for name, value in row.items()
                }
                for row in before[table.name]
            ]
            assert kept == expected, table.name
        # The application reads them through its own models too.
        with Session(engine) as session:
            for mapper in models.Base.registry.mappers:
                name = mapper.local_table.name
                if name in before:
                    assert session.scalar(select(func.count()).select_from(mapper.local_table)) == ROWS, name
    finally:
        engine.dispose()


def test_db_upgrade_sql_prints_what_a_dba_applies(empty_database_url: str, tmp_path, capsys):
    config = tmp_path / "kasane.toml"
    config.write_text(f'[database]\nurl = "{empty_database_url}"\n', encoding="utf-8")
    if not USING_POSTGRES:
        assert main(["--config", str(config), "db", "upgrade", "--sql"]) == 2
        assert "--sql is for PostgreSQL" in capsys.readouterr().err
        return
    upgrade(empty_database_url, "0007")
    assert main(["--config", str(config), "db", "upgrade", "--sql"]) == 0
    sql = capsys.readouterr().out
    assert "CREATE TABLE heartbeats" in sql and "CREATE TABLE server_keys" not in sql
    assert sql.rstrip().endswith("COMMIT;")
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:  # printed, not run
            assert list(connection.scalars(text("SELECT version_num FROM alembic_version"))) == ["0007"]
        with engine.begin() as connection:  # and what was printed applies as it stands
            connection.exec_driver_sql(sql.replace("BEGIN;", "").replace("COMMIT;", ""))
    finally:
        engine.dispose()
    assert main(["--config", str(config), "db", "upgrade", "--sql"]) == 0
    assert capsys.readouterr().out.strip() == "-- the database is up to date: nothing to apply"
