"""Reads of the supervision board (督办台账): an office's reporting requirements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from gongwen_engine.models.tables import ReportingRequirement


def requirements_of(session: Session, org: str, requirement: int | None = None) -> Sequence[ReportingRequirement]:
    """The requirements ``org`` made (only ``requirement`` when given), newest first."""
    stmt = select(ReportingRequirement).where(ReportingRequirement.org == org).order_by(ReportingRequirement.id.desc())
    if requirement is not None:
        stmt = stmt.where(ReportingRequirement.id == requirement)
    return session.exec(stmt).all()
