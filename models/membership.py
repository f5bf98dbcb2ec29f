"""Plain functions that change networks, organizations and members (called inside a transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.network import Friend, Member, Network, Organization, OrgKind, Role

ORG_NAME_LIMIT = 50


def network_for_group(session: Session, group_id: str, now: datetime) -> tuple[Network, bool]:
    """The network of a LINE group, created on first sight; re-activated when the bot is re-added."""
    network = session.scalar(select(Network).where(Network.group_id == group_id))
    if network is None:
        network = Network(group_id=group_id, created_at=now)
        session.add(network)
        session.flush()
        return network, True
    if not network.active:
        network.active = True
        network.left_at = None
    return network, False


def deactivate_network(session: Session, group_id: str, now: datetime) -> Network | None:
    network = session.scalar(select(Network).where(Network.group_id == group_id))
    if network is not None:
        network.active = False
        network.left_at = now
    return network


def member_of(session: Session, network: Network, line_user_id: str) -> Member:
    member = session.scalar(select(Member).where(Member.network_id == network.id, Member.line_user_id == line_user_id))
    if member is None:
        member = Member(network_id=network.id, line_user_id=line_user_id, role=Role.MEMBER)
        session.add(member)
        session.flush()
    return member


def register_member(
    session: Session, network: Network, line_user_id: str, org_name: str, kind: OrgKind | None, now: datetime
) -> tuple[Member, Organization, bool]:
    """Link a LINE user to an organization of the network; the first registrant becomes organizer.

    Returns (member, organization, became_organizer).
    """
    organization = session.scalar(
        select(Organization).where(Organization.network_id == network.id, Organization.name == org_name)
    )
    if organization is None:
        kind = kind or OrgKind.INFORMAL
        organization = Organization(network_id=network.id, name=org_name, kind=kind, created_at=now)
        session.add(organization)
    elif kind is not None:
        organization.kind = kind
    registered_before = session.scalar(
        select(func.count(Member.id)).where(Member.network_id == network.id, Member.registered_at.is_not(None))
    )
    member = member_of(session, network, line_user_id)
    session.flush()
    member.organization_id = organization.id
    member.registered_at = member.registered_at or now
    member.left_at = None
    first = registered_before == 0 and member.role == Role.MEMBER
    if first:
        member.role = Role.ORGANIZER
    return member, organization, first


def set_friend(session: Session, line_user_id: str, following: bool, now: datetime) -> None:
    friend = session.get(Friend, line_user_id)
    if friend is None:
        session.add(Friend(line_user_id=line_user_id, following=following, updated_at=now))
    else:
        friend.following = following
        friend.updated_at = now


def is_friend(session: Session, line_user_id: str) -> bool:
    friend = session.get(Friend, line_user_id)
    return bool(friend and friend.following)


def grant_role(session: Session, network: Network, line_user_id: str, role: Role) -> Member:
    member = member_of(session, network, line_user_id)
    member.role = role
    return member
