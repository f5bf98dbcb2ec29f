"""The simulator's clock control: start the clock at a chosen moment, move it on, run the jobs.

Moving the clock is how a workshop shows what happens days later (follow-ups, meeting
reminders) without waiting: jobs are plain functions of ``(session, now)``, so running each
once with the new time does what the scheduler would have done by then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.clock import Clock

if TYPE_CHECKING:
    from bot.config import Config
    from bot.runtime import Runtime

# app.config key: true when `kasane serve --simulate-time` enabled the clock control.
CLOCK_ENABLED = "KASANE_SIMULATE_TIME"
# The furthest one step may go: enough for a month's meeting cycle, small enough to stay meaningful.
MAX_STEP = timedelta(days=60)


def simulated_clock(value: str, config: Config) -> Clock:
    """The clock for ``--simulate-time [ISO-8601]``: running from ``value`` (or from now).

    A moment without a zone is read in the network's time zone (Asia/Tokyo by default).
    The clock keeps running in real time from there, so messages keep their order.
    """
    from bot.cli.main import UsageError

    if not config.simulator:
        raise UsageError("--simulate-time works only in simulator mode (without LINE credentials)")
    clock = Clock()
    if value in ("", "now"):
        return clock
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--simulate-time: {value!r} is not an ISO-8601 time such as 2026-11-24T09:00") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(config.timezone))
    clock.advance(start.astimezone(UTC) - clock.now())
    return clock


def advance_and_run_jobs(runtime: Runtime, delta: timedelta) -> datetime:
    """Move the clock on by ``delta``, then run every scheduled job once at the new time."""
    from bot.scheduler import run_job
    from jobs import load_all

    now = runtime.clock.advance(delta)
    for job in load_all():
        run_job(runtime, job)  # logs and survives a failing job; wakes the sender
    runtime.sender.wake()
    return now
