"""Heartbeats: the worker's and the sender's loops say they are alive, every few seconds.

Written by the loop itself, between rounds, not by a thread of its own: a worker stuck in one
event stops beating, and ``kasane doctor`` and ``/healthz?deep=1`` then say so. Real time, even
under the simulator's clock: whoever reads a beat compares it with their own wall clock.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from models.operations import beat, forget_beats_before

log = logging.getLogger(__name__)

EVERY = 10.0  # seconds between beats; [health] heartbeat_timeout (60 s) allows a few missed
FORGET_AFTER = timedelta(days=1)


class Heartbeat:
    def __init__(self, sessions: sessionmaker[Session], role: str, every: float = EVERY) -> None:
        self.sessions = sessions
        self.role = role
        self.every = every
        self.started_at = datetime.now(UTC)
        self._last = float("-inf")
        self._beats = 0

    def maybe_beat(self) -> None:
        """Beat if the last one is ``every`` seconds old; a database outage only skips it."""
        moment = time.monotonic()
        if moment - self._last < self.every:
            return
        self._last = moment
        now = datetime.now(UTC)
        host, pid = socket.gethostname()[:64], os.getpid()
        try:
            with self.sessions.begin() as session:
                beat(
                    session,
                    role=self.role,
                    instance=f"{self.role}:{host}:{pid}"[:120],
                    host=host,
                    pid=pid,
                    started_at=self.started_at,
                    now=now,
                )
                if self._beats % 360 == 0:  # about once an hour
                    forget_beats_before(session, now - FORGET_AFTER)
            self._beats += 1
        except DBAPIError as exc:
            log.debug("heartbeat skipped: database unavailable (%s)", exc.__class__.__name__)
