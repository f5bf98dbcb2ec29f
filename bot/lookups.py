"""Reads from LINE that handlers asked for through the outbox (names shown on the dashboard)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.line_client import LineGateway, Outcome, Result
from models import Member, Network

log = logging.getLogger(__name__)


def _group_summary(session: Session, gateway: LineGateway, group_id: str) -> Result:
    result = gateway.group_summary(group_id)
    if result.outcome == Outcome.SENT:
        session.execute(update(Network).where(Network.group_id == group_id).values(name=result.data.group_name[:200]))
    return result


def _member_profile(session: Session, gateway: LineGateway, group_id: str, user_id: str) -> Result:
    result = gateway.group_member_profile(group_id, user_id)
    if result.outcome == Outcome.SENT:
        network_id = session.query(Network.id).filter(Network.group_id == group_id).scalar_subquery()
        session.execute(
            update(Member)
            .where(Member.network_id == network_id, Member.line_user_id == user_id)
            .values(display_name=result.data.display_name[:100])
        )
    return result


def run_lookup(session: Session, gateway: LineGateway, spec: dict[str, Any]) -> Result:
    kind = spec.get("lookup")
    if kind == "group_summary":
        result = _group_summary(session, gateway, spec["group_id"])
    elif kind == "member_profile":
        result = _member_profile(session, gateway, spec["group_id"], spec["user_id"])
    else:
        return Result(Outcome.REJECTED, 0, f"unknown lookup {kind!r}")
    if result.outcome not in (Outcome.SENT, Outcome.RETRY, Outcome.AMBIGUOUS):
        # 404: the bot left the group or the user left; nothing to learn, nothing to retry.
        log.info("lookup %s: %s %s", kind, result.status, result.message)
    return result
