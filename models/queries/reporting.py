"""Reads of reporting (报送): when a unit received a document, which document a requirement was issued in
(the due-date rules are in ``models/rules/report_deadlines.py``), and the requirements an office made
(the supervision board, 督办台账)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from gongwen_engine.models.registrations import registration_of
from gongwen_engine.models.rules.dates import china_date
from gongwen_engine.models.tables import Circulation, Delivery, ReportingRequirement


def received_on(session: Session, org: str, document_id: int) -> date | None:
    """When ``org`` received the document: signed for (签收) or, failing that, delivered."""
    reg = registration_of(session, org, document_id)
    if reg:
        return china_date(reg.signed_for_at)
    delivery = session.exec(select(Delivery).where(Delivery.recipient == org, Delivery.document_id == document_id)).first()
    return china_date(delivery.delivered_at) if delivery else None


def issued_document_id(session: Session, req: ReportingRequirement) -> int | None:
    """The requesting circulation's document as it was issued (its latest version)."""
    circ = session.get(Circulation, req.circulation_id) if req.circulation_id else None
    return (circ.document_id or circ.received_id) if circ else req.document_id


def requirements_of(session: Session, org: str, requirement: int | None = None) -> Sequence[ReportingRequirement]:
    """The requirements ``org`` made (only ``requirement`` when given), newest first."""
    stmt = select(ReportingRequirement).where(ReportingRequirement.org == org).order_by(col(ReportingRequirement.id).desc())
    if requirement is not None:
        stmt = stmt.where(ReportingRequirement.id == requirement)
    return session.exec(stmt).all()


def requirements(session: Session, org: str | None = None) -> list[ReportingRequirement]:
    """Every reporting requirement (those ``org`` made, when given), oldest first."""
    stmt = select(ReportingRequirement).order_by(col(ReportingRequirement.id))
    if org:
        stmt = stmt.where(ReportingRequirement.org == org)
    return list(session.exec(stmt))
