"""``kasane doctor``: can this installation work? One line per check, ✔ or ✘ with what to do.

It asks LINE itself (bot info, the webhook endpoint registered there, LINE's own test call to it,
the message plan), then looks at this machine (public_url, the kept secret key, the database,
file modes, the worker's and sender's heartbeats, the last backup). It changes nothing, and never
prints a secret. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli.main import command
from bot.config import Config
from bot.links import base_url

WEBHOOK_PATH = "/callback"
BACKUP_MAX_AGE = timedelta(hours=26)  # a daily backup, with room for a slow night
CHANNEL_SECRET = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""

    def lines(self) -> list[str]:
        head = f"{'✔' if self.ok else '✘'} {self.what}"
        return [head] if self.ok or not self.fix else [head, f"    → {self.fix}"]


class Doctor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.public_url = config.get("server", "public_url").rstrip("/")
        self._gateway: Any = None
        self._engine: Any = None

    # --- plumbing -------------------------------------------------------------------------------
    @property
    def gateway(self) -> Any:
        if self._gateway is None:
            from bot.pipeline.line_client import LineGateway

            config = self.config
            # LINE's webhook test waits up to 2 s for Kasane before it answers: allow for it.
            timeout = max(10.0, config.get("line", "request_timeout"))
            self._gateway = LineGateway(config.get("line", "api_base_url"), config.channel_access_token, timeout)
        return self._gateway

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from bot.store.db import make_engine

            self._engine = make_engine(self.config.database_url)
        return self._engine

    def close(self) -> None:
        if self._gateway is not None:
            self._gateway.close()
        if self._engine is not None:
            self._engine.dispose()

    @property
    def webhook_url(self) -> str:
        return (self.public_url or base_url(self.config)) + WEBHOOK_PATH

    # --- the checks, in the order they are shown ----------------------------------------------------
    def checks(self) -> Iterator[Check]:
        yield self.configuration()
        if self.config.simulator:
            return  # nothing at LINE to ask
        for check in (self.credentials, self.public_url_https, self.webhook_endpoint, self.webhook_reachable):
            yield from check()
        yield from self.message_plan()
        yield self.secret_key()
        database = self.database()
        yield database
        yield self.file_modes()
        if database.ok:
            yield from self.heartbeats()
            yield self.backups()

    def configuration(self) -> Check:
        config = self.config
        source = config.source
        if config.simulator:
            return Check(
                False,
                f"configuration ({source}): no LINE credentials, so this is simulator mode",
                "set [line] channel_secret and channel_access_token (or KASANE_LINE_CHANNEL_SECRET and "
                "KASANE_LINE_CHANNEL_ACCESS_TOKEN) from the LINE Developers console",
            )
        if not config.channel_secret or not config.channel_access_token:
            missing = "channel_secret" if not config.channel_secret else "channel_access_token"
            return Check(False, f"configuration ({source}): [line] {missing} is missing", f"set [line] {missing}")
        if not CHANNEL_SECRET.fullmatch(config.channel_secret):
            return Check(
                False,
                f"configuration ({source}): [line] channel_secret is not 32 hexadecimal characters",
                "copy the channel secret again from LINE Developers console → your channel → Basic settings",
            )
        return Check(True, f"configuration ({source}): LINE mode; channel secret and access token are set")

    def credentials(self) -> Iterator[Check]:
        result = self.gateway.bot_info()
        if result.status == 401:
            yield Check(
                False,
                "LINE refused the channel access token (401)",
                "issue a long-lived channel access token (LINE Developers console → Messaging API) and set "
                "[line] channel_access_token",
            )
            return
        if result.data is None:
            yield Check(False, f"LINE's bot info could not be read ({_answer(result)})", "check [line] api_base_url")
            return
        info = result.data
        yield Check(True, f"LINE credentials are valid: bot 「{info.display_name}」 ({info.basic_id})")
        if info.chat_mode != "bot":
            yield Check(
                False,
                f"the account's chat is on (chatMode {info.chat_mode}): LINE then answers beside Kasane",
                "LINE Official Account Manager → 設定 → 応答設定: チャット off, Webhook on, "
                "応答メッセージ off, あいさつメッセージ off",
            )
        else:
            yield Check(True, "chat mode is bot (応答設定: チャット off)")

    def public_url_https(self) -> Iterator[Check]:
        if not self.public_url:
            yield Check(
                False,
                f"[server] public_url is empty: links would point at {base_url(self.config)}",
                'set [server] public_url = "https://<your host>" (the address LINE and browsers use)',
            )
        elif not self.public_url.startswith("https://"):
            https = "LINE calls webhooks over HTTPS only: serve Kasane behind HTTPS (deploy/Caddyfile)"
            yield Check(False, f"[server] public_url {self.public_url} is not https", https)
        else:
            yield Check(True, f"public_url is {self.public_url}")

    def webhook_endpoint(self) -> Iterator[Check]:
        result = self.gateway.webhook_endpoint()
        if result.status == 404 or (result.data is None and 400 <= result.status < 500):
            yield Check(False, "no webhook URL is set at LINE", f"set the Webhook URL to {self.webhook_url}")
            return
        if result.data is None:
            yield Check(False, f"LINE's webhook settings could not be read ({_answer(result)})")
            return
        endpoint, active = str(result.data.endpoint), bool(result.data.active)
        if endpoint.rstrip("/") != self.webhook_url:
            yield Check(
                False,
                f"LINE sends webhooks to {endpoint}, not to {self.webhook_url}",
                f"LINE Developers console → Messaging API → Webhook URL: {self.webhook_url}",
            )
        elif not active:
            yield Check(
                False,
                f"the webhook {endpoint} is registered but not used",
                "LINE Developers console → Messaging API → turn on “Use webhook”",
            )
        else:
            yield Check(True, f"LINE sends webhooks to {endpoint} (in use)")

    def webhook_reachable(self) -> Iterator[Check]:
        result = self.gateway.test_webhook(self.webhook_url)
        data = result.data
        if data is None:
            yield Check(False, f"LINE's webhook test could not run ({_answer(result)})")
        elif data.success:
            yield Check(True, f"LINE reached {self.webhook_url} ({data.status_code})")
        else:
            yield Check(
                False,
                f"LINE could not reach {self.webhook_url}: {data.status_code} {data.reason} ({data.detail})",
                "is Kasane running behind HTTPS with a certificate LINE trusts? (deploy/Caddyfile; "
                "a 400 means the channel secret does not match)",
            )

    def message_plan(self) -> Iterator[Check]:
        quota, used = self.gateway.message_quota(), self.gateway.message_quota_consumption()
        if quota.data is None or used.data is None:
            failed = quota if quota.data is None else used
            yield Check(False, f"the message plan could not be read ({_answer(failed)})")
            return
        count = int(used.data.total_usage)
        if quota.data.type != "limited" or quota.data.value is None:
            yield Check(True, f"message plan: no monthly limit; {count} counted this month")
            return
        limit = int(quota.data.value)
        if count >= limit:
            yield Check(
                False,
                f"message plan: {count} of {limit} counted messages used this month; pushes fail until it ends",
                "LINE Official Account Manager → 利用と請求 → choose a larger plan (replies stay free)",
            )
        else:
            yield Check(True, f"message plan: {count} of {limit} counted messages used this month")

    def secret_key(self) -> Check:
        from bot.store.keys import key_path

        if self.config.get("server", "secret_key"):
            return Check(True, "secret key: [server] secret_key is set")
        path = key_path(self.config.database_url)
        if path is not None:
            if path.exists():
                return Check(True, f"secret key: kept in {path}")
            return Check(False, f"secret key: not generated yet ({path})", "start `kasane serve` once: it keeps one")
        try:
            from sqlalchemy import select

            from models import ServerKey

            with self.engine.connect() as connection:
                kept = connection.scalar(select(ServerKey.name).where(ServerKey.name == "secret_key"))
        except Exception:
            kept = None
        if kept:
            return Check(True, "secret key: kept in the database (server_keys)")
        return Check(False, "secret key: not generated yet", "start `kasane serve` once: it keeps one")

    def database(self) -> Check:
        from sqlalchemy.exc import SQLAlchemyError

        from bot.store.migrate import current_revisions, head_revisions

        try:
            current = current_revisions(self.engine)
        except SQLAlchemyError as exc:
            return Check(
                False, f"the database does not answer ({exc.__class__.__name__})", "check [database] url"
            )
        head = head_revisions(self.config.database_url)
        if current != head:
            shown = ", ".join(sorted(current)) or "empty"
            return Check(False, f"the database is at {shown}, not {', '.join(sorted(head))}", "kasane db upgrade")
        return Check(True, f"the database answers and is migrated ({', '.join(sorted(head))})")

    def file_modes(self) -> Check:
        shared = [f"{path} ({stat.filemode(mode)})" for path, mode in self._private_files() if mode & 0o077]
        if shared:
            return Check(
                False,
                "readable by other users: " + ", ".join(shared),
                "chmod 600 the files and 700 the folders (they hold case records and secrets)",
            )
        return Check(True, "configuration, database, key and backup files are private")

    def _private_files(self) -> Iterator[tuple[Path, int]]:
        from bot.store.backup import backup_directory, sqlite_path
        from bot.store.db import inbox_path
        from bot.store.keys import key_path

        url = self.config.database_url
        candidates: list[Path] = []
        if self.config.source != "(defaults)":
            candidates.append(Path(self.config.source))
        for path in (sqlite_path(url), inbox_path(url)):
            if path is not None:
                candidates += [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        if (key := key_path(url)) is not None:
            candidates.append(key)
        backups = backup_directory(url, self.config.get("backup", "directory"))
        if backups.is_dir():
            candidates.append(backups)
            candidates += sorted(p for p in backups.iterdir() if p.is_file())
        for path in candidates:
            try:
                yield path, os.stat(path).st_mode
            except FileNotFoundError:
                continue

    def heartbeats(self) -> Iterator[Check]:
        from sqlalchemy.orm import Session

        from models.operations import last_beats

        with Session(self.engine) as session:
            beats = last_beats(session)
        limit = self.config.get("health", "heartbeat_timeout")
        now = datetime.now(UTC)
        for role in ("worker", "sender"):
            at = beats.get(role)
            age = None if at is None else (now - at).total_seconds()
            if age is not None and age <= limit:
                yield Check(True, f"the {role} is alive (heartbeat {age:.0f} s ago)")
            else:
                seen = "never" if age is None else f"{age:.0f} s ago"
                yield Check(
                    False,
                    f"the {role} is not running (last heartbeat {seen})",
                    "start Kasane (systemctl start kasane, or kasane worker beside kasane serve --no-worker)",
                )

    def backups(self) -> Check:
        from sqlalchemy.orm import Session

        from models.operations import last_finished_backup

        with Session(self.engine) as session:
            last = last_finished_backup(session)
        enabled = self.config.get("backup", "enabled")
        turn_on = "set [backup] enabled = true (a daily backup), or run kasane backup from cron"
        if last is None:
            return Check(False, "no backup has been made", turn_on)
        age = datetime.now(UTC) - last.finished_at
        when = f"{last.finished_at.astimezone():%Y-%m-%d %H:%M}"
        if not last.ok:
            return Check(False, f"the last backup failed ({when}): {last.message}", "fix that, then kasane backup")
        if age > BACKUP_MAX_AGE:
            return Check(False, f"the last backup is {age.days} day(s) old ({when}, {last.path})", turn_on)
        kind = "daily backup" if enabled else "backup"
        return Check(True, f"last {kind}: {when}, {last.path} ({last.size_bytes:,} bytes)")


def _answer(result: Any) -> str:
    return f"{result.status} {result.message}".strip() if result.status else result.message or "no answer"


def run(config: Config, out: Callable[[str], None] = print) -> int:
    doctor = Doctor(config)
    passed = failed = 0
    try:
        for check in doctor.checks():
            for line in check.lines():
                out(line)
            passed, failed = passed + check.ok, failed + (not check.ok)
    finally:
        doctor.close()
    out(f"{passed + failed} checks, " + (f"{failed} failed" if failed else "all passed"))
    return 0 if failed == 0 else 1


@command("doctor", help="check that this installation can work: LINE channel, HTTPS, database, processes, backups")
def doctor(args: argparse.Namespace, config: Config) -> int:
    return run(config)
