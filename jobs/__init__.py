"""Scheduled jobs: plain functions ``(session, now, …)`` that APScheduler calls and tests call directly.

Each module registers its jobs with ``scheduled``; ``bot.scheduler`` turns them into
APScheduler jobs. Beyond ``(session, now)`` a job declares what else it needs by keyword
(``links``: the addresses to put in messages), and ``ScheduledJob.run`` passes only that.
A job runs in one transaction and writes its sends to the outbox, each with a unique key,
so a job run twice (two processes, a restart) sends once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

JobFn = Callable[..., Any]  # (session, now, **what it declares)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    fn: JobFn
    trigger: str  # "interval" or "cron"
    options: dict[str, Any]

    def run(self, session: Session, now: datetime, **available: Any) -> Any:
        wanted = inspect.signature(self.fn).parameters
        return self.fn(session, now, **{name: value for name, value in available.items() if name in wanted})


SCHEDULE: list[ScheduledJob] = []


def scheduled(trigger: str, **options: Any) -> Callable[[JobFn], JobFn]:
    def register(fn: JobFn) -> JobFn:
        SCHEDULE.append(ScheduledJob(f"{fn.__module__}.{fn.__name__}", fn, trigger, options))
        return fn

    return register


def load_all() -> list[ScheduledJob]:
    from jobs import budget, followups, housekeeping, reminders, reports, retention  # noqa: F401

    return SCHEDULE
