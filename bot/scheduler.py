"""APScheduler wiring: every job in ``jobs`` runs in its own transaction with the runtime's clock.

Jobs are rebuilt from code and stored rules at every start (no persistent job store):
what must happen once is guaranteed by unique keys in the database, not by the scheduler.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from bot import metrics
from bot.runtime import Runtime
from jobs import ScheduledJob, load_all

log = logging.getLogger(__name__)


def run_job(runtime: Runtime, job: ScheduledJob) -> None:
    try:
        with runtime.sessions.begin() as session:
            job.run(session, runtime.clock.now(), links=runtime.links)
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


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """Run the jobs in this process until the runtime shuts down."""
    scheduler = build_scheduler(runtime)
    scheduler.start()
    runtime.on_shutdown.append(lambda: scheduler.shutdown(wait=False))
    return scheduler
