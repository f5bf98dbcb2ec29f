"""A network's own list of 地区 (Kurume: its 46 校区), in the order the organizer registered or set
them; added, renamed, merged and ordered on the dashboard (and in chat by the organizer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from models.network import Member, Network
from models.thread import Area, EventKind, Thread

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


def _rows(session: Session, network_id: int) -> list[Area]:
    return list(session.scalars(select(Area).where(Area.network_id == network_id).order_by(Area.id)))


def reorder_areas(session: Session, network_id: int, names: list[str]) -> None:
    """Put the list in this order (names left out keep their order, after). Rows are listed by
    id and nothing refers to them (threads keep the name), so the rows are written again."""
    current = area_names(session, network_id)
    order = [n for n in dict.fromkeys(names) if n in current] + [n for n in current if n not in names]
    for row in _rows(session, network_id):
        session.delete(row)
    session.flush()
    for name in order:
        session.add(Area(network_id=network_id, name=name))
    session.flush()


def move_area(session: Session, network_id: int, name: str, step: int) -> bool:
    """Move one place up (step -1) or down (+1); False at either end or for an unknown name."""
    names = area_names(session, network_id)
    if name not in names:
        return False
    index = names.index(name)
    target = index + step
    if not 0 <= target < len(names):
        return False
    names[index], names[target] = names[target], names[index]
    reorder_areas(session, network_id, names)
    return True


def rename_area(
    session: Session, network: Network, old: str, new: str, actor: Member | None, now: datetime, via: str
) -> int | None:
    """Rename an area, and every thread in it (a correction each, kept in the timeline; past periods
    keep the name they had). None when ``old`` is unknown or ``new`` taken; else threads changed."""
    new = new.strip()[:AREA_NAME_LIMIT]
    names = area_names(session, network.id)
    if old not in names or not new or new in names:
        return None
    row = session.scalar(select(Area).where(Area.network_id == network.id, Area.name == old))
    assert row is not None
    row.name = new
    return _move_threads(session, network, old, new, actor, now, via)


def merge_areas(
    session: Session, network: Network, source: str, into: str, actor: Member | None, now: datetime, via: str
) -> int | None:
    """Merge ``source`` into ``into``: its threads move (a correction each) and it leaves the list."""
    names = area_names(session, network.id)
    if source not in names or into not in names or source == into:
        return None
    row = session.scalar(select(Area).where(Area.network_id == network.id, Area.name == source))
    session.delete(row)
    return _move_threads(session, network, source, into, actor, now, via)


def _move_threads(
    session: Session, network: Network, old: str, new: str, actor: Member | None, now: datetime, via: str
) -> int:
    from models.casework import record_event

    moved = 0
    for thread in session.scalars(select(Thread).where(Thread.network_id == network.id, Thread.area == old)):
        thread.area = new
        record_event(
            session, thread, EventKind.CORRECTED, now, actor=actor, via=via, before={"area": old}, after={"area": new}
        )
        moved += 1
    session.flush()
    return moved
