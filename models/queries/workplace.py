"""Reads of the web workplace's circulation pages: an organisation's circulations, their waiting
items, the files they produced, who holds a document, and a person's delegations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from gongwen_engine.models.rules.dates import aware
from gongwen_engine.models.tables import Circulation, CirculationFile, Delegation, Document, WorkItem, WorkItemKind, WorkItemStatus


def org_circulations(session: Session, org: str, limit: int) -> Sequence[Circulation]:
    """The organisation's latest circulations, newest first."""
    return session.exec(select(Circulation).where(Circulation.org == org).order_by(col(Circulation.id).desc()).limit(limit)).all()


def open_human_items(session: Session, circulation_ids: list[int]) -> Sequence[WorkItem]:
    """The open items waiting for a person in these circulations."""
    return session.exec(
        select(WorkItem).where(col(WorkItem.circulation_id).in_(circulation_ids), WorkItem.status == WorkItemStatus.open, WorkItem.kind == WorkItemKind.human)
    ).all()


def main_document(session: Session, circ: Circulation) -> Document | None:
    """The circulation's own draft, else the document it received."""
    doc_id = circ.document_id or circ.received_id
    return session.get(Document, doc_id) if doc_id else None


def circulation_files(session: Session, circulation_id: int) -> Sequence[CirculationFile]:
    return session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id).order_by(col(CirculationFile.id))).all()


def circulation_file(session: Session, circulation_id: int, role: str) -> CirculationFile | None:
    return session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id, CirculationFile.role == role)).first()


def document_holders(session: Session, doc: Document) -> list[Circulation]:
    """The circulations that drafted ``doc`` or received it."""
    drafted = session.get(Circulation, doc.circulation_id) if doc.circulation_id else None
    return ([drafted] if drafted else []) + list(session.exec(select(Circulation).where(Circulation.received_id == doc.id)))


def delegations_of(session: Session, user_id: str, now: datetime) -> list[Delegation]:
    """Unrevoked delegations ``user_id`` gave or received that have not ended (aware ``now``)."""
    rows = session.exec(select(Delegation).where((Delegation.principal == user_id) | (Delegation.deputy == user_id), col(Delegation.revoked).is_(False))).all()
    return [d for d in rows if aware(d.ends_at) > now]


def done_by(session: Session, user_id: str, limit: int) -> Sequence[WorkItem]:
    """The items ``user_id`` completed (themselves or by delegation for another), latest first."""
    return session.exec(
        select(WorkItem)
        .where(
            WorkItem.status == WorkItemStatus.done,
            WorkItem.kind == WorkItemKind.human,
            (WorkItem.actor == user_id) | (WorkItem.acted_for == user_id),
        )
        .order_by(col(WorkItem.finished_at).desc())
        .limit(limit)
    ).all()


def decision_before(session: Session, item: WorkItem) -> WorkItem | None:
    """The person's decision that led to ``item``: the latest item of its circulation done before it was created."""
    return session.exec(
        select(WorkItem)
        .where(
            WorkItem.circulation_id == item.circulation_id,
            WorkItem.status == WorkItemStatus.done,
            WorkItem.kind == WorkItemKind.human,
            col(WorkItem.finished_at) <= item.created_at,
            WorkItem.id != item.id,
        )
        .order_by(col(WorkItem.finished_at).desc(), col(WorkItem.id).desc())
        .limit(1)
    ).first()
