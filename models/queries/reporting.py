"""Reads of reporting requirements (报送要求)."""

from __future__ import annotations

from sqlmodel import Session, select

from gongwen_engine.models.tables import ReportingRequirement


def requirements(session: Session, org: str | None = None) -> list[ReportingRequirement]:
    """Every reporting requirement (those ``org`` made, when given), oldest first."""
    stmt = select(ReportingRequirement).order_by(ReportingRequirement.id)
    if org:
        stmt = stmt.where(ReportingRequirement.org == org)
    return list(session.exec(stmt))
