"""Prometheus metrics (prometheus-client), counted in every process and read in the web process.

``kasane serve`` is three processes (web, worker, sender) and may run beside ``kasane worker``s:
prometheus-client's multiprocess mode has each process write its counters to files of its own in
one directory (``[metrics] directory``, or a private temporary one that the children inherit),
and ``/metrics`` adds them up. Counts of things that live in the database (the inbox, the outbox,
heartbeats, backups) are read from it when scraped instead, so every web process agrees.

prometheus-client decides at import whether it counts in files: nothing here imports it before
``prepare`` has set the directory, which ``kasane`` does at start, before any metric is counted.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

log = logging.getLogger(__name__)
P = ParamSpec("P")

DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0)
SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


def enabled(config: Any) -> bool:
    return bool(config.get("metrics", "address") or config.get("metrics", "token"))


def prepare(config: Any) -> Path | None:
    """Choose the directory where this process and its children count (before any metric exists)."""
    if not enabled(config):
        return None
    if os.environ.get(DIRECTORY):  # inherited from the `kasane serve` that started this process
        return Path(os.environ[DIRECTORY])
    if "prometheus_client" in sys.modules:
        log.warning("metrics: prometheus-client was loaded before its directory was set; counts stay per process")
    configured = config.get("metrics", "directory")
    if configured:
        path = Path(configured)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _forget_dead_processes(path)
    else:
        path = Path(tempfile.mkdtemp(prefix="kasane-metrics-"))
        owner = os.getpid()
        # Removed when this process ends (its forked children exit without running atexit).
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    os.environ[DIRECTORY] = str(path)
    return path


def _forget_dead_processes(path: Path) -> None:
    """Files of processes that are gone (a shared directory outlives them); counters restart from 0."""
    for file in path.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            file.unlink(missing_ok=True)


class _Metrics:
    """The metrics every process counts; built on first use (after ``prepare``)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.webhook_requests = Counter(
            "kasane_webhook_requests", "Webhook requests (POST /callback) by HTTP status", ["status"]
        )
        self.webhook_ack = Histogram(
            "kasane_webhook_ack_seconds", "Time to acknowledge a webhook request", buckets=ACK_BUCKETS
        )
        self.events = Counter("kasane_events", "Webhook events handled by the worker, by outcome", ["outcome"])
        self.send_latency = Histogram(
            "kasane_send_latency_seconds", "From a message queued to LINE accepting it", buckets=SEND_BUCKETS
        )
        self.line_responses = Counter(
            "kasane_line_responses",
            "Answers from LINE's API by endpoint and HTTP status (0: no answer)",
            ["endpoint", "status"],
        )
        self.job_runs = Counter("kasane_job_runs", "Scheduled job runs", ["job"])
        self.job_failures = Counter("kasane_job_failures", "Scheduled job runs that failed", ["job"])


_metrics: _Metrics | None = None
_building = threading.Lock()


def _get() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _building:  # sixteen sending threads may count their first answer at once
            if _metrics is None:
                _metrics = _Metrics()
    return _metrics


def _never_raises(count: Callable[P, None]) -> Callable[P, None]:
    """Counting is never worth a lost event or a failed send: a failure is logged, once."""

    @functools.wraps(count)
    def safely(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            count(*args, **kwargs)
        except Exception:
            if count.__name__ not in _failed:
                _failed.add(count.__name__)
                log.exception("metrics: %s failed; later failures are not logged", count.__name__)

    return safely


_failed: set[str] = set()


# --- what the processes count -----------------------------------------------------------------


@_never_raises
def webhook_answered(status: int, seconds: float) -> None:
    m = _get()
    m.webhook_requests.labels(str(status)).inc()
    m.webhook_ack.observe(seconds)


@_never_raises
def event_handled(outcome: str) -> None:
    _get().events.labels(str(outcome)).inc()


@_never_raises
def message_sent(seconds: float) -> None:
    _get().send_latency.observe(max(0.0, seconds))


@_never_raises
def line_answered(endpoint: str, status: int) -> None:
    _get().line_responses.labels(endpoint, str(status)).inc()


@_never_raises
def job_ran(job: str, ok: bool) -> None:
    m = _get()
    m.job_runs.labels(job).inc()
    if not ok:
        m.job_failures.labels(job).inc()


# --- counted messages this month ---------------------------------------------------------------
# The ledger of counted messages (models.ledger: what LINE bills per recipient, reconciled with
# LINE's own count), as the gauge ``kasane_counted_messages_this_month`` in /metrics.


def _counted_this_month(session: Any, now: datetime) -> int | None:
    from models.ledger import counted_this_month

    return counted_this_month(session, now)


counted_messages_this_month: Callable[[Any, datetime], int | None] | None = _counted_this_month
