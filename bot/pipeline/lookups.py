"""Reads from LINE that handlers asked for through the outbox (names shown on the dashboard)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.pipeline.line_client import LineGateway, Outcome, Result
from models import Member, Network
from models.ledger import month_of, quota_month
from models.membership import set_friend

log = logging.getLogger(__name__)


def fetch_lookup(gateway: LineGateway, spec: dict[str, Any]) -> Result:
    """Ask LINE (no database work here: the sender records the answer in its own transaction)."""
    kind = spec.get("lookup")
    if kind == "group_summary":
        result = gateway.group_summary(spec["group_id"])
    elif kind == "member_profile":
        result = gateway.group_member_profile(spec["group_id"], spec["user_id"])
    elif kind == "leave_group":  # not a read, but a call to LINE with nothing to say: the same road
        result = gateway.leave_group(spec["group_id"])
    elif kind == "profile":
        result = gateway.profile(spec["user_id"])
    elif kind == "quota":
        result = _quota(gateway)
    else:
        return Result(Outcome.REJECTED, 0, f"unknown lookup {kind!r}")
    if result.outcome not in (Outcome.SENT, Outcome.RETRY, Outcome.AMBIGUOUS):
        # 404: the bot left the group or the user left; nothing to learn, nothing to retry.
        log.info("lookup %s: %s %s", kind, result.status, result.message)
    return result


def _quota(gateway: LineGateway) -> Result:
    """The plan's limit and this month's count, in one result (``data``: (limit or None, usage))."""
    limit = gateway.message_quota()
    if limit.outcome != Outcome.SENT:
        return limit
    usage = gateway.message_quota_consumption()
    if usage.outcome != Outcome.SENT:
        return usage
    value = limit.data.value if limit.data.type == "limited" else None
    return Result(Outcome.SENT, usage.status, data=(value, int(usage.data.total_usage)))


def store_lookup(session: Session, spec: dict[str, Any], result: Result, now: datetime | None = None) -> None:
    """Keep what LINE answered (the group's name, a member's display name, the month's count)."""
    if spec.get("lookup") == "profile" and now is not None and result.outcome in (Outcome.SENT, Outcome.NOT_FOUND):
        # A profile LINE gives shows the user follows the bot; a 404, that they do not (or blocked it).
        set_friend(session, spec["user_id"], result.outcome == Outcome.SENT, now)
        return
    if result.outcome != Outcome.SENT:
        if spec.get("lookup") == "quota":  # a failed read leaves Kasane on its own ledger
            log.warning("quota: LINE's count could not be read (%s); the ledger's count stands", result.status)
        return
    if spec.get("lookup") == "quota" and now is not None:
        limit, usage = result.data
        quota = quota_month(session, month_of(now))
        quota.line_limit, quota.line_usage, quota.checked_at = limit, usage, now
        if limit is not None and usage < limit:
            quota.exhausted_at = None  # a larger plan lifts the limit mid-month
        return
    if spec.get("lookup") == "group_summary":
        name = result.data.group_name[:200]
        session.execute(update(Network).where(Network.group_id == spec["group_id"]).values(name=name))
    elif spec.get("lookup") == "member_profile":
        network_id = select(Network.id).where(Network.group_id == spec["group_id"]).scalar_subquery()
        session.execute(
            update(Member)
            .where(Member.network_id == network_id, Member.line_user_id == spec["user_id"])
            .values(display_name=result.data.display_name[:100])
        )
