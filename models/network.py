"""A network is one LINE group of a local mutual-aid network, with its member organizations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class OrgKind(StrEnum):
    FORMAL = "formal"  # フォーマル: public or contracted agency
    INFORMAL = "informal"  # インフォーマル: resident group, NPO, volunteers


class Role(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    ORGANIZER = "organizer"


class Network(Base):
    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    thread_counter: Mapped[int] = mapped_column(default=0)  # last "#number" given in this network
    # Per-network overrides of follow-up intervals, quiet hours, reminder offsets (see models.settings).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Networks exist only when someone trusted says so (models/approval.py): until then the bot
    # answered its join once and does nothing else in the group. None: waiting.
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))  # "cli", "dashboard:<member id>", "automatic"

    @property
    def approved(self) -> bool:
        return self.approved_at is not None

    organizations: Mapped[list[Organization]] = relationship(back_populates="network")
    members: Mapped[list[Member]] = relationship(back_populates="network")


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("network_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=OrgKind.INFORMAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    network: Mapped[Network] = relationship(back_populates="organizations")
    members: Mapped[list[Member]] = relationship(back_populates="organization")

    @property
    def is_formal(self) -> bool:
        return self.kind == OrgKind.FORMAL


class OrganizationChange(Base):
    """An organization's kind changed (フォーマル ↔ インフォーマル): by whom and when, never updated."""

    __tablename__ = "organization_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime]
    kind_before: Mapped[str] = mapped_column(String(16))
    kind_after: Mapped[str] = mapped_column(String(16))


class Member(Base):
    """A LINE user known in one network: registered for an organization, and/or holding a role."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("network_id", "line_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    line_user_id: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    registered_at: Mapped[datetime | None]
    # Last told how to register (at most every 10 minutes: unregistered senders are not nagged).
    hinted_at: Mapped[datetime | None]
    # Left the LINE group: never mentioned again (LINE refuses mentions of non-members).
    left_at: Mapped[datetime | None]

    network: Mapped[Network] = relationship(back_populates="members")
    organization: Mapped[Organization | None] = relationship(back_populates="members")

    @property
    def registered(self) -> bool:
        return self.organization_id is not None

    @property
    def can_coordinate(self) -> bool:
        return self.role in (Role.COORDINATOR, Role.ORGANIZER)

    @property
    def is_organizer(self) -> bool:
        return self.role == Role.ORGANIZER


class Friend(Base):
    """A LINE user who follows the bot, so the bot may push to them 1:1."""

    __tablename__ = "friends"

    line_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    following: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
