"""Reads of circulations, their work items and documents."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.tables import Circulation, CirculationStatus, Document, WorkItem, WorkItemKind, WorkItemStatus

LABEL_TITLE_CHARS = 24  # a longer title is shortened in a label


def get_circulation(session: Session, circulation_id: int) -> Circulation:
    circ = session.get(Circulation, circulation_id)
    if circ is None:
        raise Refusal(f"流转 {circulation_id} 不存在（circulation not found）")
    return circ


def current_steps(session: Session, circulation_ids: Collection[int]) -> dict[int, str | None]:
    """Each circulation's current step (None: it has ended), by id; ids not found are left out."""
    rows = session.exec(select(Circulation.id, Circulation.step).where(col(Circulation.id).in_(list(circulation_ids)))).all()
    return {cid: step for cid, step in rows if cid is not None}


def circulation_of_item(session: Session, work_item_id: int) -> Circulation:
    """The circulation a work item belongs to (refused when there is no such item)."""
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise Refusal(f"待办事项 {work_item_id} 不存在（查看：gongwen inbox --user …）")
    return get_circulation(session, item.circulation_id)


def status_counts(session: Session) -> dict[str, int]:
    """How many circulations are in each status."""
    return {str(status): n for status, n in session.exec(select(Circulation.status, func.count()).group_by(Circulation.status)).all()}


def step_finished_at(session: Session, circulation_id: int, steps: Collection[str]) -> datetime | None:
    """When the circulation last finished one of ``steps`` (None: it has not)."""
    stmt = select(WorkItem).where(WorkItem.circulation_id == circulation_id, col(WorkItem.step).in_(list(steps)), WorkItem.status == "done")
    item = session.exec(stmt.order_by(col(WorkItem.id).desc())).first()
    return item.finished_at if item else None


def document_of(session: Session, circ: Circulation) -> Document | None:
    """The circulation's document: its draft (发文) or the document it received (收文)."""
    document_id = circ.document_id or circ.received_id
    return session.get(Document, document_id) if document_id else None


def document_label(session: Session, circ: Circulation) -> str:
    """How a person names the circulation's document: its number, or its (shortened) title."""
    doc = document_of(session, circ)
    if doc is None:
        return f"#{circ.id}"
    if doc.doc_number and doc.id == circ.document_id:
        return doc.doc_number
    title = doc.title if len(doc.title) <= LABEL_TITLE_CHARS else doc.title[: LABEL_TITLE_CHARS - 1] + "…"
    return f"收：{doc.doc_number}" if circ.document_id is None and doc.doc_number else title


def open_human_items(session: Session) -> list[tuple[WorkItem, Circulation, Document | None]]:
    """Human work items waiting for a person (and failed steps' 重试 items), oldest first, with their circulation and document."""
    stmt = (
        select(WorkItem, Circulation)
        .join(Circulation, col(Circulation.id) == col(WorkItem.circulation_id))
        .where(  # a failed circulation's item is its secretary's 重试 (flows/engine/failures.py)
            WorkItem.status == WorkItemStatus.open,
            WorkItem.kind == WorkItemKind.human,
            col(Circulation.status).in_([CirculationStatus.waiting, CirculationStatus.failed]),
        )
        .order_by(col(WorkItem.id))
    )
    return [(item, circ, document_of(session, circ)) for item, circ in session.exec(stmt)]


def circulations_with_documents(session: Session) -> list[tuple[Circulation, Document | None]]:
    """Every circulation, oldest first, with its document."""
    return [(circ, document_of(session, circ)) for circ in session.exec(select(Circulation).order_by(col(Circulation.id)))]


def document_by_number(session: Session, doc_number: str) -> Document | None:
    return session.exec(select(Document).where(Document.doc_number == doc_number)).first()
