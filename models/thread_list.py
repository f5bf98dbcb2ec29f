"""``一覧`` in the chat: open threads oldest first, a page at a time, by 地区, 分野 or organization."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.thread import Thread, ThreadState


@dataclass(frozen=True)
class ListFilter:
    area: str | None = None
    category: str | None = None
    organization_id: int | None = None


def open_threads_page(
    session: Session, network_id: int, where: ListFilter, *, offset: int, limit: int
) -> tuple[list[Thread], int]:
    """One page of open threads (oldest first) and how many match in all."""
    conditions = [Thread.network_id == network_id, Thread.state == ThreadState.OPEN]
    if where.area is not None:
        conditions.append(Thread.area == where.area)
    if where.category is not None:
        conditions.append(Thread.category == where.category)
    if where.organization_id is not None:
        conditions.append(Thread.organization_id == where.organization_id)
    page = session.scalars(
        select(Thread).where(*conditions).order_by(Thread.posted_at, Thread.id).offset(offset).limit(limit)
    )
    threads = list(page)
    total = offset + len(threads)
    if len(threads) == limit or offset:  # only then can there be more than this page shows
        total = session.scalar(select(func.count(Thread.id)).where(*conditions)) or 0
    return threads, total
