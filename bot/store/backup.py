"""Backups that restore: ``kasane backup``, ``kasane restore`` and the daily backup job.

SQLite: SQLite's online backup API copies a consistent snapshot while Kasane keeps serving
(readers never block its writers in WAL mode). Two files are copied, the inbox first: an event
acknowledged before the backup began is then either still waiting in the inbox's copy or, if the
worker handled and removed it meanwhile, already recorded in the main database's later copy. Both
go into one gzip'd tar with a manifest. PostgreSQL: ``pg_dump`` in its custom format (one
snapshot, compressed), when PostgreSQL's client tools are installed.

Every file is created private (0600) and appears whole (written aside, then renamed). A restore
goes only into an empty database: it never merges into, or overwrites, live data.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import inbox_path, is_sqlite, make_engine, normalise_url
from models.operations import finish_backup, start_backup

log = logging.getLogger(__name__)

MAIN, INBOX, MANIFEST = "kasane.db", "kasane-inbox.db", "manifest.json"
PG_MAGIC = b"PGDMP"
DAILY_PREFIX = "kasane-daily-"


class BackupError(Exception):
    """Worded for one line to the operator."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    kind: str  # "sqlite" | "postgresql"


# --- where ------------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(normalise_url(url))
    if not is_sqlite(url) or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def backup_directory(url: str, configured: str) -> Path:
    """``[backup] directory``; relative to the SQLite database's folder (PostgreSQL: the working directory)."""
    directory = Path(configured)
    main = sqlite_path(url)
    if not directory.is_absolute() and main is not None:
        directory = main.parent / directory
    return directory


def default_name(url: str, now: datetime, prefix: str = "kasane-") -> str:
    suffix = ".tar.gz" if is_sqlite(url) else ".dump"
    return f"{prefix}{now.strftime('%Y%m%d-%H%M%S')}{suffix}"


# --- backing up ---------------------------------------------------------------------------------


def back_up(url: str, output: Path, *, revision: str = "") -> Backup:
    """Write a backup of the database at ``url`` to ``output`` (0600, complete or absent)."""
    output = output.resolve()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output")
    if is_sqlite(url):
        kind = "sqlite"
        _sqlite_backup(url, output, revision)
    else:
        kind = "postgresql"
        _postgres_backup(url, output)
    return Backup(output, output.stat().st_size, kind)


def _private_file(directory: Path, suffix: str) -> Path:
    descriptor, name = tempfile.mkstemp(dir=directory, prefix=".kasane-backup-", suffix=suffix)  # 0600
    os.close(descriptor)
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    """One read transaction over the whole file: a consistent snapshot while others write."""
    origin = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy)  # all pages in one step: the snapshot cannot change under it
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
        origin.close()


def _sqlite_backup(url: str, output: Path, revision: str) -> None:
    main = sqlite_path(url)
    if main is None or not main.exists():
        raise BackupError(f"no SQLite database at {url}")
    inbox = inbox_path(url)
    work = Path(tempfile.mkdtemp(dir=output.parent, prefix=".kasane-backup-"))  # 0700
    archive = _private_file(output.parent, ".tar.gz")
    try:
        members = []
        if inbox is not None and inbox.exists():
            _sqlite_copy(inbox, work / INBOX)  # first: see the module's docstring
            members.append(INBOX)
        _sqlite_copy(main, work / MAIN)
        members.append(MAIN)
        manifest = {"kind": "sqlite", "files": members, "revision": revision}
        with tarfile.open(archive, "w:gz") as tar:
            data = json.dumps(manifest).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name in members:
                tar.add(work / name, arcname=name)
        os.replace(archive, output)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL for PostgreSQL's own tools, and the environment that carries its password (not argv)."""
    parsed: URL = make_url(normalise_url(url))
    environment = dict(os.environ)
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def require_tools(url: str) -> None:
    """Refuse before anything else when the tools a backup of ``url`` needs are missing."""
    if not is_sqlite(url):
        _tool("pg_dump")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools (Debian: apt install postgresql-client)"
        )
    return found


def _postgres_backup(url: str, output: Path) -> None:
    pg_dump = _tool("pg_dump")
    target, environment = libpq(url)
    partial = _private_file(output.parent, ".dump")  # pg_dump truncates it and keeps its mode
    try:
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}", f"--dbname={target}"],
            env=environment,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# --- restoring ----------------------------------------------------------------------------------


def backup_kind(path: Path) -> str:
    with path.open("rb") as file:
        head = file.read(5)
    if head == PG_MAGIC:
        return "postgresql"
    if head[:2] == b"\x1f\x8b":
        return "sqlite"
    raise BackupError(f"{path} is not a Kasane backup (neither a gzip'd SQLite backup nor a pg_dump custom file)")


def restore(path: Path, url: str) -> str:
    """Restore ``path`` into the empty database at ``url``; the kind restored."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    kind = backup_kind(path)
    if kind == "sqlite" and not is_sqlite(url):
        raise BackupError("this is a backup of a SQLite database: set [database] url to a SQLite file to restore it")
    if kind == "postgresql" and is_sqlite(url):
        raise BackupError("this is a pg_dump of PostgreSQL: set [database] url to an empty PostgreSQL database")
    if kind == "sqlite":
        _sqlite_restore(path, url)
    else:
        _postgres_restore(path, url)
    return kind


def _has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    connection = sqlite3.connect(path)
    try:
        return bool(connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    except sqlite3.DatabaseError:
        return True  # not a database we may overwrite
    finally:
        connection.close()


def _sqlite_restore(path: Path, url: str) -> None:
    main = sqlite_path(url)
    if main is None:
        raise BackupError("restore needs a SQLite file in [database] url, not an in-memory database")
    inbox = inbox_path(url)
    for existing in (main, inbox):
        if existing is not None and _has_tables(existing):
            raise BackupError(f"{existing} is not empty: restore only into a new database (move it away first)")
    main.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=main.parent, prefix=".kasane-restore-"))
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = tar.getnames()
            if MANIFEST not in names or MAIN not in names:
                raise BackupError(f"{path} is not a Kasane backup (no {MANIFEST} or {MAIN} in it)")
            for name in (MAIN, INBOX):
                if name in names:
                    tar.extract(name, work, filter="data")
        for name, target in ((INBOX, inbox), (MAIN, main)):
            if target is None or not (work / name).exists():
                continue
            (work / name).chmod(0o600)
            for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
                leftover.unlink(missing_ok=True)  # of the empty file being replaced
            os.replace(work / name, target)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{path} cannot be read as a backup ({exc.__class__.__name__}: {exc})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _postgres_restore(path: Path, url: str) -> None:
    pg_restore = _tool("pg_restore")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            )
    finally:
        engine.dispose()
    if tables:
        raise BackupError("the database is not empty: restore only into a new, empty PostgreSQL database")
    target, environment = libpq(url)
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--no-password"]
    done = subprocess.run(
        [pg_restore, *options, f"--dbname={target}", str(path)],
        env=environment,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {_last_line(done.stderr)}")


# --- keeping a few --------------------------------------------------------------------------------


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove the daily backups beyond the ``keep`` newest (by name: they carry their time)."""
    daily = sorted(p for p in directory.glob(f"{DAILY_PREFIX}*") if p.is_file())
    removed = daily[:-keep] if keep else daily
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


# --- recorded runs ---------------------------------------------------------------------------------


def schema_revision(engine: Engine) -> str:
    """The database's migration revision (read directly: loading Alembic costs 9 MB in the worker)."""
    with engine.connect() as connection:
        return ",".join(sorted(connection.scalars(text("SELECT version_num FROM alembic_version"))))


def recorded_backup(
    sessions: sessionmaker[Session], url: str, output: Path, now: Callable[[], datetime], *, slot: str | None = None
) -> Backup | None:
    """``back_up``, with the run kept in ``backup_runs`` (for doctor and /metrics); None when
    another process has already taken ``slot`` (the day's scheduled backup)."""
    try:
        with sessions.begin() as session:
            run_id = start_backup(session, now(), slot)
    except IntegrityError:
        return None  # a twin inserted the same slot at the same moment
    if run_id is None:
        return None
    try:
        made = back_up(url, output, revision=schema_revision(sessions.kw["bind"]))
    except Exception as exc:
        message = str(exc) if isinstance(exc, BackupError) else f"{exc.__class__.__name__}: {exc}"
        with sessions.begin() as session:
            finish_backup(session, run_id, now(), ok=False, path=str(output), size=None, message=message)
        raise
    with sessions.begin() as session:
        finish_backup(session, run_id, now(), ok=True, path=str(made.path), size=made.size, message="ok")
    return made
