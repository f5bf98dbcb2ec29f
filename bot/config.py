"""Configuration: a TOML file, then the environment, then defaults.

Every key is declared once in ``SCHEMA`` so that an unknown key or a wrong type is
reported with the file and the key, instead of surfacing later as a confusing error.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.contract import Contract

# section -> key -> (type, default)
SCHEMA: dict[str, dict[str, tuple[type, Any]]] = {
    "line": {
        "channel_secret": (str, ""),
        "channel_access_token": (str, ""),
        "api_base_url": (str, "https://api.line.me"),
        "request_timeout": (float, 5.0),
    },
    "database": {
        "url": (str, "sqlite:///kasane.db"),
    },
    "server": {
        "host": (str, "127.0.0.1"),
        "port": (int, 8000),
        "threads": (int, 16),
        "public_url": (str, ""),
        "secret_key": (str, ""),
        # Reverse proxies in front whose X-Forwarded-For/-Proto are believed (Caddy alone: 1).
        "trusted_proxies": (int, 0),
    },
    "scheduler": {
        "enabled": (bool, True),
        "timezone": (str, "Asia/Tokyo"),
    },
    "worker": {
        "embedded": (bool, True),
        "nice": (int, 10),
        "poll_interval": (float, 1.0),
    },
    "sender": {
        "concurrency": (int, 16),
        "poll_interval": (float, 1.0),
        "max_attempts_age_hours": (float, 23.0),
        "lease_seconds": (float, 30.0),
    },
    "log": {
        "format": (str, "text"),
        "level": (str, "INFO"),
        "levels": (dict, {}),  # logger name -> level, e.g. {"bot.pipeline.sender" = "DEBUG"}
    },
    "metrics": {
        "address": (str, ""),  # host:port of a listener serving only /metrics
        "token": (str, ""),  # bearer token for /metrics on the main port
        "directory": (str, ""),  # prometheus-client's multiprocess files; empty: a private temporary one
    },
    "health": {
        "heartbeat_timeout": (float, 60.0),
        "max_waiting_age": (float, 120.0),
    },
    "networks": {
        # "operator": a group the bot joins waits for `kasane network approve` (or an organizer's
        # approval on the dashboard); "automatic": approved at once (simulator mode always is).
        "approval": (str, "operator"),
        "leave_unapproved_after_hours": (float, 72.0),
    },
    "backup": {
        "enabled": (bool, False),
        "time": (str, "03:30"),
        "directory": (str, "backups"),
        "keep": (int, 14),
    },
    "report": {
        # The contract period (業務委託期間), "YYYY-MM-DD" or "": the 実績報告 covers it; retention counts from it.
        "contract_start": (str, ""),
        "contract_end": (str, ""),
        "final_report_due": (str, ""),  # the 実績報告's 提出期限 when the contract sets one
    },
}

# Numbers outside these bounds are mistakes, not tuning.
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("worker", "nice"): (0, 19),
    ("worker", "poll_interval"): (0.01, 60),
    ("sender", "concurrency"): (1, 64),
    ("server", "trusted_proxies"): (0, 5),
    ("backup", "keep"): (1, 1000),
    ("networks", "leave_unapproved_after_hours"): (0.01, 24 * 90),
    ("health", "heartbeat_timeout"): (5, 86400),
    ("health", "max_waiting_age"): (1, 86400),
}
# Strings that must be one of a few words.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("log", "format"): ("text", "json"),
    ("networks", "approval"): ("operator", "automatic"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}
DATE_OR_EMPTY = r"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?"
# Strings of a set shape.
PATTERNS: dict[tuple[str, str], tuple[str, str]] = {
    ("backup", "time"): (r"([01][0-9]|2[0-3]):[0-5][0-9]", "a time HH:MM"),
    ("report", "contract_start"): (DATE_OR_EMPTY, "a date YYYY-MM-DD or empty"),
    ("report", "contract_end"): (DATE_OR_EMPTY, "a date YYYY-MM-DD or empty"),
    ("report", "final_report_due"): (DATE_OR_EMPTY, "a date YYYY-MM-DD or empty"),
}
# Keys that were renamed: a clear line beats "unknown key".
RENAMED: dict[tuple[str, str], str] = {
    ("sender", "in_process"): "[worker] embedded",
}

ENVIRONMENT: dict[str, tuple[str, str]] = {
    "KASANE_LINE_CHANNEL_SECRET": ("line", "channel_secret"),
    "KASANE_LINE_CHANNEL_ACCESS_TOKEN": ("line", "channel_access_token"),
    "KASANE_DATABASE_URL": ("database", "url"),
    "KASANE_SECRET_KEY": ("server", "secret_key"),
    "KASANE_METRICS_TOKEN": ("metrics", "token"),
}


class ConfigError(Exception):
    """A configuration problem, worded for a one-line message to the operator."""


@dataclass
class Config:
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "(defaults)"

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def channel_secret(self) -> str:
        return self.get("line", "channel_secret")

    @property
    def channel_access_token(self) -> str:
        return self.get("line", "channel_access_token")

    @property
    def database_url(self) -> str:
        return self.get("database", "url")

    @property
    def timezone(self) -> str:
        return self.get("scheduler", "timezone")

    def day(self, section: str, key: str) -> date | None:
        """A "YYYY-MM-DD" setting as a date (checked when loaded); None when empty."""
        value = self.get(section, key)
        return date.fromisoformat(value) if value else None

    def contract(self) -> Contract:
        """The contract period ([report] contract_start/contract_end) as a models.contract.Contract."""
        from models.contract import Contract

        return Contract(self.day("report", "contract_start"), self.day("report", "contract_end"))

    @property
    def approves_at_once(self) -> bool:
        """Groups the bot joins are networks at once: in simulator mode, or when so configured."""
        return self.simulator or self.get("networks", "approval") == "automatic"

    @property
    def simulator(self) -> bool:
        """No LINE credentials at all: talk to the built-in fake LINE platform."""
        return not self.channel_secret and not self.channel_access_token


def _defaults() -> dict[str, dict[str, Any]]:
    return {s: {k: d for k, (_, d) in keys.items()} for s, keys in SCHEMA.items()}


def _check_type(where: str, section: str, key: str, value: Any) -> Any:
    expected = SCHEMA[section][key][0]
    # TOML has no float/int distinction a user thinks about: accept 5 for 5.0.
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, date) and expected is str and PATTERNS.get((section, key), ("",))[0] == DATE_OR_EMPTY:
        value = value.isoformat() if not isinstance(value, datetime) else value  # a TOML date works too
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"{where}: [{section}] {key} must be {expected.__name__}, got {type(value).__name__}")
    low, high = RANGES.get((section, key), (None, None))
    if low is not None and high is not None and not low <= value <= high:
        raise ConfigError(f"{where}: [{section}] {key} must be between {low:g} and {high:g}, got {value}")
    choices = CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: [{section}] {key} must be one of {', '.join(choices)}, got {value!r}")
    pattern = PATTERNS.get((section, key))
    if pattern is not None and not re.fullmatch(pattern[0], value):
        raise ConfigError(f"{where}: [{section}] {key} must be {pattern[1]}, got {value!r}")
    if pattern is not None and pattern[0] == DATE_OR_EMPTY and value:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{where}: [{section}] {key} is not a day of the calendar, got {value!r}") from None
    return value


def _merge_file(values: dict[str, dict[str, Any]], path: Path) -> None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for section, table in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in table.items():
            if (section, key) in RENAMED:
                raise ConfigError(f"{path}: [{section}] {key} is now {RENAMED[section, key]}")
            if key not in SCHEMA[section]:
                raise ConfigError(f"{path}: unknown key [{section}] {key}")
            values[section][key] = _check_type(str(path), section, key, value)


def _merge_environment(values: dict[str, dict[str, Any]], environ: dict[str, str]) -> None:
    for name, (section, key) in ENVIRONMENT.items():
        if name in environ:
            values[section][key] = environ[name]


def load_config(
    path: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """Load the file (``--config`` or ``KASANE_CONFIG``), then the environment wins over it."""
    environ = dict(os.environ if environ is None else environ)
    values = _defaults()
    path = path or environ.get("KASANE_CONFIG")
    if path:
        _merge_file(values, Path(path))
    _merge_environment(values, environ)
    for section, table in (overrides or {}).items():
        for key, value in table.items():
            if section not in SCHEMA or key not in SCHEMA[section]:
                raise ConfigError(f"(overrides): unknown key [{section}] {key}")
            values[section][key] = _check_type("(overrides)", section, key, value)
    return Config(values=values, source=str(path) if path else "(defaults)")
