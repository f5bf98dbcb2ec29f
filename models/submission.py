"""Reports as handed in (提出済み): the files exactly as submitted, never changed afterwards.

Today's computation of a past period gives the same figures (models.report reads the
timeline as of the period's end), but the city holds the files it received: the dashboard
shows the stored copy beside today's figures and serves its bytes unchanged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


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
