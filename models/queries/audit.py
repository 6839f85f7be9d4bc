"""Reads of the audit trail (审计记录)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from gongwen_engine.models.tables import AuditEvent


def audit_events(session: Session, org: str | None = None, document_id: int | None = None, limit: int | None = None) -> list[AuditEvent]:
    """Audit records, oldest first; only those at ``org`` / of ``document_id`` when given."""
    stmt = select(AuditEvent).order_by(col(AuditEvent.id))
    if org:
        stmt = stmt.where(AuditEvent.org == org)
    if document_id is not None:
        stmt = stmt.where(AuditEvent.document_id == document_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))
