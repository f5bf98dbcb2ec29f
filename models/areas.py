"""A network's own list of 地区 (Kurume: its 校区), in the order the organizer registered them."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from models.thread import Area

AREA_NAME_LIMIT = 50
# Built once, with bound parameters: every post runs it (see models/membership.py).
_AREA_NAMES = select(Area.name).where(Area.network_id == bindparam("network_id")).order_by(Area.id)


def area_names(session: Session, network_id: int) -> list[str]:
    return list(session.scalars(_AREA_NAMES, {"network_id": network_id}))


def add_areas(session: Session, network_id: int, names: list[str]) -> list[str]:
    """Add the names not yet listed (cut to the limit, each once); the ones added."""
    existing = set(area_names(session, network_id))
    added = [name for name in dict.fromkeys(n[:AREA_NAME_LIMIT] for n in names) if name not in existing]
    for name in added:
        session.add(Area(network_id=network_id, name=name))
    session.flush()
    return added
