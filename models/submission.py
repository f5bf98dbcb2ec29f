"""Reports as handed in (提出済み): the files exactly as submitted, never changed afterwards.

Today's computation of a past period gives the same figures (models.report reads the
timeline as of the period's end), but the city holds the files it received: the dashboard
shows the stored copy beside today's figures and serves its bytes unchanged.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, defer, mapped_column

from models.base import Base, utcnow
from models.network import Member
from models.report import Period


class SubmittedReport(Base):
    __tablename__ = "submitted_reports"
    __table_args__ = (Index("ix_submitted_reports_network_period", "network_id", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    label: Mapped[str] = mapped_column(String(60))  # "2026年10月の月報"
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    submitted_by: Mapped[str] = mapped_column(String(120))  # the name as it was on that day
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))


def submit(
    session: Session,
    network_id: int,
    period: Period,
    label: str,
    member: Member,
    now: datetime,
    xlsx: bytes,
    pdf: bytes,
) -> SubmittedReport:
    """Keep the files as handed in. Submitting a period again keeps both copies."""
    stored = SubmittedReport(
        network_id=network_id,
        period_start=period.start,
        period_end=period.end,
        label=label,
        submitted_by_id=member.id,
        submitted_by=(member.display_name or "（名前未取得）")[:120],
        submitted_at=now,
        xlsx=xlsx,
        pdf=pdf,
        xlsx_sha256=hashlib.sha256(xlsx).hexdigest(),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    session.add(stored)
    session.flush()
    return stored


def submitted_for(session: Session, network_id: int, period: Period) -> list[SubmittedReport]:
    """The copies handed in for exactly this period, newest first (files not loaded)."""
    return list(
        session.scalars(
            select(SubmittedReport)
            .options(defer(SubmittedReport.xlsx), defer(SubmittedReport.pdf))
            .where(
                SubmittedReport.network_id == network_id,
                SubmittedReport.period_start == period.start,
                SubmittedReport.period_end == period.end,
            )
            .order_by(SubmittedReport.submitted_at.desc(), SubmittedReport.id.desc())
        )
    )


def submitted_copy(session: Session, network_id: int, submission_id: int) -> SubmittedReport | None:
    return session.scalar(
        select(SubmittedReport).where(SubmittedReport.network_id == network_id, SubmittedReport.id == submission_id)
    )
