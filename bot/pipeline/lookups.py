"""Reads from LINE that handlers asked for through the outbox (names shown on the dashboard)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.pipeline.line_client import LineGateway, Outcome, Result
from models import Member, Network

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
    else:
        return Result(Outcome.REJECTED, 0, f"unknown lookup {kind!r}")
    if result.outcome not in (Outcome.SENT, Outcome.RETRY, Outcome.AMBIGUOUS):
        # 404: the bot left the group or the user left; nothing to learn, nothing to retry.
        log.info("lookup %s: %s %s", kind, result.status, result.message)
    return result


def store_lookup(session: Session, spec: dict[str, Any], result: Result) -> None:
    """Keep what LINE answered (the group's name, a member's display name)."""
    if result.outcome != Outcome.SENT:
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
