"""Plain functions that change networks, organizations and members (called inside a transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from models.network import Friend, Member, Network, Organization, OrganizationChange, OrgKind, Role

ORG_NAME_LIMIT = 50

# Statements that nearly every webhook event runs are built once, with bound parameters:
# building a select() and its cache key each time costs more CPU than SQLite takes to run it.
NETWORK_OF_GROUP = select(Network).where(Network.group_id == bindparam("group_id"))
_NETWORK_AND_MEMBER = (
    select(Network, Member)
    .outerjoin(Member, and_(Member.network_id == Network.id, Member.line_user_id == bindparam("line_user_id")))
    .options(joinedload(Member.organization))
    .where(Network.group_id == bindparam("group_id"))
)
_MEMBER = (
    select(Member)
    .options(joinedload(Member.organization))
    .where(Member.network_id == bindparam("network_id"), Member.line_user_id == bindparam("line_user_id"))
)
_CONTACT = (
    select(Member.line_user_id, Friend.following, Member.left_at, Member.display_name)
    .outerjoin(Friend, Friend.line_user_id == Member.line_user_id)
    .where(Member.id == bindparam("member_id"))
)


def network_for_group(session: Session, group_id: str, now: datetime) -> tuple[Network, bool]:
    """The network of a LINE group, created on first sight; re-activated when the bot is re-added."""
    network = session.scalar(NETWORK_OF_GROUP, {"group_id": group_id})
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


def network_and_member(session: Session, group_id: str, line_user_id: str) -> tuple[Network | None, Member | None]:
    """A group's network and a LINE user's membership of it (organization loaded), in one query."""
    row = session.execute(_NETWORK_AND_MEMBER, {"group_id": group_id, "line_user_id": line_user_id}).first()
    return (row[0], row[1]) if row else (None, None)


def find_member(session: Session, network_id: int, line_user_id: str) -> Member | None:
    """A LINE user's membership of a network, with its organization (most answers name it)."""
    return session.scalar(_MEMBER, {"network_id": network_id, "line_user_id": line_user_id})


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
    registered_before = session.scalar(
        select(func.count(Member.id)).where(Member.network_id == network.id, Member.registered_at.is_not(None))
    )
    member = member_of(session, network, line_user_id)
    session.flush()
    member.organization_id = organization.id
    member.registered_at = member.registered_at or now
    member.left_at = None
    # A network approved with a named organizer has one: being first to type makes nobody organizer.
    # Approved at once (simulator mode, ``kasane demo``), the first registrant still becomes it.
    first = registered_before == 0 and member.role == Role.MEMBER and not has_organizer(session, network)
    if first:
        member.role = Role.ORGANIZER
    return member, organization, first


def has_organizer(session: Session, network: Network) -> bool:
    found = select(Member.id).where(Member.network_id == network.id, Member.role == Role.ORGANIZER).limit(1)
    return session.scalar(found) is not None


def change_kind(session: Session, organization: Organization, kind: OrgKind, actor: Member, now: datetime) -> bool:
    """An organizer changes an organization's kind; recorded (who, when, from what). False: no change."""
    if organization.kind == kind:
        return False
    session.add(
        OrganizationChange(
            organization_id=organization.id, actor_id=actor.id, at=now, kind_before=organization.kind, kind_after=kind
        )
    )
    organization.kind = kind
    return True


def set_friend(session: Session, line_user_id: str, following: bool, now: datetime) -> None:
    friend = session.get(Friend, line_user_id)
    if friend is None:
        session.add(Friend(line_user_id=line_user_id, following=following, updated_at=now))
    else:
        friend.following = following
        friend.updated_at = now


def seen_following(session: Session, line_user_id: str, now: datetime) -> None:
    """Mark a user as following the bot unless already known so (one read when nothing changes)."""
    if not is_friend(session, line_user_id):
        set_friend(session, line_user_id, True, now)


def is_friend(session: Session, line_user_id: str) -> bool:
    friend = session.get(Friend, line_user_id)
    return bool(friend and friend.following)


class Contact(NamedTuple):
    user_id: str
    follows: bool  # may be pushed to 1:1
    left: bool  # left the group: never mentioned (LINE refuses the whole message)
    name: str  # what to write instead of a mention


def contact(session: Session, member_id: int) -> Contact | None:
    """How to reach a member: their LINE user id, whether they follow the bot, whether they left."""
    row = session.execute(_CONTACT, {"member_id": member_id}).first()
    return Contact(row[0], bool(row[1]), row[2] is not None, row[3] or "") if row else None


def organized_networks(session: Session, line_user_id: str) -> list[Network]:
    """The networks this person organizes (世話役), oldest first."""
    return list(
        session.scalars(
            select(Network)
            .join(Member, Member.network_id == Network.id)
            .where(Member.line_user_id == line_user_id, Member.role == Role.ORGANIZER)
            .order_by(Network.id)
        )
    )


def member_networks(session: Session, line_user_id: str) -> list[Network]:
    """The active networks this person is a member of (registered or holding a role), oldest first."""
    return list(
        session.scalars(
            select(Network)
            .join(Member, Member.network_id == Network.id)
            .where(Member.line_user_id == line_user_id, Member.left_at.is_(None), Network.active.is_(True))
            .order_by(Network.id)
        )
    )


def grant_role(session: Session, network: Network, line_user_id: str, role: Role) -> Member:
    member = member_of(session, network, line_user_id)
    member.role = role
    return member
