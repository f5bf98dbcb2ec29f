"""``GET /healthz``: is the server up (the database answers); ``?deep=1``: is the installation working.

The deep check is for a monitor or a load balancer that should notice a stuck worker: 503 when
the database does not answer, when the worker's or the sender's heartbeat is older than
``[health] heartbeat_timeout`` (they beat every 10 s), or when an acknowledged event has waited
longer than ``[health] max_waiting_age``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from models import InboxEvent
from models.operations import last_beats

if TYPE_CHECKING:
    from bot.runtime import Runtime

ROLES = ("worker", "sender")


def database_answers(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def deep(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    """(healthy, what was found), all in seconds."""
    config = runtime.config
    timeout = config.get("health", "heartbeat_timeout")
    limit = config.get("health", "max_waiting_age")
    try:
        with runtime.sessions() as session:
            beats = last_beats(session)
        with runtime.inbox.inbox.connect() as connection:
            oldest = connection.scalar(select(func.min(InboxEvent.received_at)))
    except SQLAlchemyError:
        return False, {"database": False}
    now = datetime.now(UTC)
    ages = {role: round((now - beats[role]).total_seconds(), 1) if role in beats else None for role in ROLES}
    waiting = 0.0 if oldest is None else (runtime.clock.now() - oldest.replace(tzinfo=UTC)).total_seconds()
    problems = [f"{role} heartbeat missing" for role, age in ages.items() if age is None]
    problems += [f"{role} heartbeat {age:.0f} s old" for role, age in ages.items() if age is not None and age > timeout]
    if waiting > limit:
        problems.append(f"an event has waited {waiting:.0f} s")
    found = {"database": True, "heartbeat_age": ages, "oldest_waiting": round(max(0.0, waiting), 1)}
    if problems:
        found["problems"] = problems
    return not problems, found
