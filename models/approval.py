"""Networks exist only when someone trusted says so (issue 18, finding 8).

When the bot joins a group, a *waiting* network is recorded and the bot answers once, showing
the group id; nothing else happens in that group until an operator approves it
(``kasane network approve <groupId or network id> --organizer <LINE user id>``) or an
organizer of an approved network approves it from the dashboard. The organizer is named by the
approval, not by being first to type. A group still waiting after ``[networks]
leave_unapproved_after_hours`` is left. In simulator mode (and ``kasane demo``) networks are
approved at once, so trying Kasane stays two commands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.network import Network, Role

AUTOMATIC = "automatic"


def approve(session: Session, network: Network, now: datetime, *, by: str, organizer: str | None = None) -> bool:
    """Approve a waiting network (False when it already was); ``organizer``: their LINE user id."""
    from models.membership import grant_role

    if organizer:
        grant_role(session, network, organizer, Role.ORGANIZER)
    if network.approved_at is not None:
        return False
    network.approved_at = now
    network.approved_by = by[:80]
    return True


def find_network(session: Session, group_or_id: str) -> Network | None:
    """A network by its LINE group id (``C…``, as the bot showed it) or by its number."""
    if group_or_id.isdigit():
        return session.get(Network, int(group_or_id))
    return session.scalar(select(Network).where(Network.group_id == group_or_id.strip()))


def waiting(session: Session) -> list[Network]:
    """Groups the bot joined that nobody approved yet (and it has not left), oldest first."""
    return list(
        session.scalars(
            select(Network).where(Network.approved_at.is_(None), Network.active.is_(True)).order_by(Network.id)
        )
    )


def overdue(session: Session, now: datetime, after: timedelta) -> list[Network]:
    """Waiting networks older than ``after``: the bot leaves their groups."""
    return [network for network in waiting(session) if network.created_at <= now - after]


def may_approve(session: Session, line_user_id: str) -> bool:
    """An organizer of an approved network may approve a waiting group from the dashboard."""
    from models.network import Member

    found = (
        select(Member.id)
        .join(Network, Network.id == Member.network_id)
        .where(Member.line_user_id == line_user_id, Member.role == Role.ORGANIZER, Network.approved_at.is_not(None))
        .limit(1)
    )
    return session.scalar(found) is not None


def waiting_group(session: Session, group_id: str) -> Network | None:
    """A waiting network by its group id only (never by number: nothing to count through)."""
    found = session.scalar(select(Network).where(Network.group_id == group_id.strip()))
    return found if found is not None and not found.approved and found.active else None
