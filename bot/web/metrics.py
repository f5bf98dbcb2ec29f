"""``GET /metrics``: Prometheus's text format, for the operator's monitoring only.

Served on the main port only with a bearer token (``[metrics] token``), or on a listener of its
own bound to ``[metrics] address`` (e.g. 127.0.0.1:9464, unreachable from outside); with neither
configured /metrics does not exist. Counters come from every process (bot/metrics.py); what lives
in the database is read at each scrape.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, request
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from models import InboxEvent, OutboxMessage, OutboxStatus
from models.operations import last_beats, last_successful_backup

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

OUTBOX_KIND = case(
    (OutboxMessage.chat_id.like("lookup:%"), "lookup"),
    (OutboxMessage.dedupe_key.is_not(None), "scheduled"),
    (OutboxMessage.reply_token.is_not(None), "reply"),
    else_="push",
)


class DatabaseCollector:
    """Gauges read from the database at each scrape: the same answer from every web process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("kasane_database_up", "1 when the database answered this scrape")
        try:
            families = list(self._families(GaugeMetricFamily))
        except SQLAlchemyError as exc:
            log.warning("metrics: database unavailable (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, gauge: Any) -> Iterator[Any]:
        runtime = self.runtime
        now = runtime.clock.now()
        with runtime.inbox.inbox.connect() as connection:
            waiting, oldest = connection.execute(select(func.count(), func.min(InboxEvent.received_at))).one()
        depth = gauge("kasane_inbox_waiting_events", "Webhook events acknowledged and not yet handled")
        depth.add_metric([], waiting)
        yield depth
        age = gauge("kasane_inbox_oldest_waiting_seconds", "Age of the oldest event waiting (0: none)")
        age.add_metric([], max(0.0, (now - oldest.replace(tzinfo=UTC)).total_seconds()) if oldest else 0.0)
        yield age
        with runtime.sessions() as session:
            rows = session.execute(
                select(OutboxMessage.status, OUTBOX_KIND, func.count())
                .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]))
                .group_by(OutboxMessage.status, OUTBOX_KIND)
            ).all()
            outbox = gauge(
                "kasane_outbox_messages", "Messages waiting to be sent or refused for good", labels=["status", "kind"]
            )
            for status in (OutboxStatus.PENDING, OutboxStatus.FAILED):
                for kind in ("reply", "push", "scheduled", "lookup"):
                    count = next((n for s, k, n in rows if s == status and k == kind), 0)
                    outbox.add_metric(["waiting" if status == OutboxStatus.PENDING else "failed", kind], count)
            yield outbox
            beats = gauge("kasane_heartbeat_age_seconds", "Seconds since the freshest heartbeat", labels=["role"])
            real_now = datetime.now(UTC)
            for role, at in sorted(last_beats(session).items()):
                beats.add_metric([role], max(0.0, (real_now - at).total_seconds()))
            yield beats
            backup = last_successful_backup(session)
            if backup is not None:
                last = gauge("kasane_last_successful_backup_timestamp_seconds", "When the last backup succeeded")
                last.add_metric([], backup.timestamp())
                yield last
            if metrics.counted_messages_this_month is not None:
                counted = metrics.counted_messages_this_month(session, now)
                if counted is not None:
                    gauge_ = gauge("kasane_counted_messages_this_month", "Messages LINE counts this month")
                    gauge_.add_metric([], counted)
                    yield gauge_


class _Counted:
    """What the processes counted: from their files (multiprocess), or this process's own."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client import REGISTRY
        from prometheus_client.multiprocess import MultiProcessCollector

        if os.environ.get(metrics.DIRECTORY):
            yield from MultiProcessCollector(None).collect()
        else:
            yield from REGISTRY.collect()


def exposition(runtime: Runtime) -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Counted())
    registry.register(DatabaseCollector(runtime))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _authorised(token: str) -> bool:
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def register(app: Flask, runtime: Runtime) -> None:
    """/metrics on the main port, behind the bearer token (404 without one configured)."""
    token = runtime.config.get("metrics", "token")

    @app.get("/metrics")
    def scrape() -> Response:
        if not token:
            abort(404)
        if not _authorised(token):
            return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"})
        body, content_type = exposition(runtime)
        return Response(body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"})


def metrics_app(runtime: Runtime) -> Flask:
    """The listener on ``[metrics] address``: /metrics only; the address it is bound to is its protection."""
    app = Flask(__name__)

    @app.get("/metrics")
    def scrape() -> Response:
        body, content_type = exposition(runtime)
        return Response(body, 200, {"Content-Type": content_type})

    return app


def start_listener(runtime: Runtime) -> Any | None:
    """Serve ``metrics_app`` on ``[metrics] address`` in a thread; None when not configured or taken."""
    from waitress import create_server

    address = runtime.config.get("metrics", "address")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    try:
        server = create_server(metrics_app(runtime), host=host.strip("[]") or "127.0.0.1", port=int(port), threads=2)
    except (OSError, ValueError) as exc:
        # Several web processes share one configuration: the first to bind serves everyone's counts.
        log.warning("metrics: cannot listen on %s (%s); another process may serve them", address, exc)
        return None
    threading.Thread(target=server.run, daemon=True, name="metrics").start()
    log.info("metrics: http://%s/metrics", address)
    return server
