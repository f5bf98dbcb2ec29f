"""APScheduler wiring: every job in ``jobs`` runs in its own transaction with the runtime's clock.

Jobs are rebuilt from code and stored rules at every start (no persistent job store):
what must happen once is guaranteed by unique keys in the database, not by the scheduler.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from bot import metrics
from bot.runtime import Runtime
from jobs import ScheduledJob, load_all

log = logging.getLogger(__name__)


def run_job(runtime: Runtime, job: ScheduledJob) -> None:
    try:
        with runtime.sessions.begin() as session:
            now = runtime.clock.now()
            job.run(session, now, links=runtime.links, settings=runtime.config, contract=runtime.config.contract())
    except Exception:
        log.exception("job %s failed; it will run again at its next time", job.name)
        metrics.job_ran(job.name, ok=False)
        return
    metrics.job_ran(job.name, ok=True)
    runtime.sender.wake()


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=runtime.config.timezone)
    for job in load_all():
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(runtime, job),
            id=job.name,
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=300,
            **job.options,
        )
    return scheduler


def schedule_backups(scheduler: BackgroundScheduler, runtime: Runtime) -> None:
    """``[backup] enabled``: one backup a day at ``[backup] time``, by one worker (bot/store/backup.py)."""
    config = runtime.config
    if not config.get("backup", "enabled"):
        return
    hour, minute = (int(part) for part in config.get("backup", "time").split(":"))
    scheduler.add_job(
        run_daily_backup,
        "cron",
        hour=hour,
        minute=minute,
        args=(runtime,),
        id="backup",
        name="backup",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )


def run_daily_backup(runtime: Runtime) -> None:
    from datetime import UTC, datetime

    from bot.store.backup import DAILY_PREFIX, backup_directory, default_name, prune, recorded_backup

    config = runtime.config
    url = config.database_url
    local = runtime.clock.now().astimezone(ZoneInfo(config.timezone))
    directory = backup_directory(url, config.get("backup", "directory"))
    output = directory / default_name(url, local, DAILY_PREFIX)
    try:
        made = recorded_backup(
            runtime.sessions, url, output, lambda: datetime.now(UTC), slot=f"scheduled:{local.date().isoformat()}"
        )
    except Exception as exc:  # recorded in backup_runs for kasane doctor; logged here
        log.error("backup: failed (%s)", exc)
        metrics.job_ran("backup", ok=False)
        return
    metrics.job_ran("backup", ok=True)
    if made is None:
        log.info("backup: today's was taken by another worker")
        return
    removed = prune(directory, config.get("backup", "keep"))
    log.info("backup: %s (%d bytes); %d old one(s) removed", made.path, made.size, len(removed))


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """Run the jobs in this process until the runtime shuts down."""
    scheduler = build_scheduler(runtime)
    schedule_backups(scheduler, runtime)
    scheduler.start()
    runtime.on_shutdown.append(lambda: scheduler.shutdown(wait=False))
    return scheduler
