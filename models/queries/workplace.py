"""Reads of the web workplace's circulation pages: an organisation's circulations, their waiting
items, the files they produced, who holds a document, and a person's delegations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from gongwen_engine.models.rules.dates import aware
from gongwen_engine.models.tables import Circulation, CirculationFile, Delegation, Document, WorkItem, WorkItemKind, WorkItemStatus


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


# ---- the lists searched, filtered and paged in SQL (本单位流转, 已办) ----------------------------------------


OWN = aliased(Document, name="own_doc")  # the circulation's own draft
RECEIVED = aliased(Document, name="received_doc")  # the document it received


@dataclass
class ListFilter:
    """A list's search as the database answers it: ``words`` in a title, 发文字号, issuer or sender
    (``sender_orgs``: the organisations whose short name holds the words, for documents received
    from inside the tree), flow, state, overdue at ``overdue_at``, and a time range (aware UTC)."""

    words: str = ""
    sender_orgs: list[str] = field(default_factory=list)
    flow: str = ""
    state: str = ""
    overdue_at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None


def _conditions(f: ListFilter, moment: Any) -> list[Any]:
    """WHERE terms on Circulation, its own document ``OWN`` and the document it received ``RECEIVED``."""
    terms: list[Any] = []
    if f.words:
        w = f.words
        texts = [
            col(OWN.title),
            col(OWN.doc_number),
            col(OWN.issuer_name),
            col(RECEIVED.title),
            col(RECEIVED.doc_number),
            col(RECEIVED.issuer_name),
            col(RECEIVED.issuer_short_name),
        ]
        found = [t.contains(w, autoescape=True) for t in texts]
        if f.sender_orgs:  # the sender of a document received from inside the tree is its organisation's short name
            found.append(and_(col(RECEIVED.issuer_short_name).is_(None), col(RECEIVED.issuer_name).is_(None), col(RECEIVED.org).in_(f.sender_orgs)))
        terms.append(or_(*found))
    if f.flow:
        terms.append(Circulation.flow == f.flow)
    if f.state:
        terms.append(Circulation.status == f.state)
    if f.overdue_at is not None:
        terms.append(
            select(col(WorkItem.id))
            .where(
                WorkItem.circulation_id == Circulation.id,
                WorkItem.status == WorkItemStatus.open,
                WorkItem.kind == WorkItemKind.human,
                col(WorkItem.due_at) < f.overdue_at,
            )
            .exists()
        )
    if f.start is not None:
        terms.append(moment >= f.start)
    if f.end is not None:
        terms.append(moment <= f.end)
    return terms


def _joined(stmt: Any) -> Any:
    return stmt.outerjoin(OWN, col(OWN.id) == Circulation.document_id).outerjoin(RECEIVED, col(RECEIVED.id) == Circulation.received_id)


def _page(session: Session, stmt: Any, page: int, size: int) -> tuple[int, int, Sequence[Any]]:
    """(total, page, rows): the page clamped to 1..pages, its rows in the statement's order."""
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    return total, page, session.exec(stmt.offset((page - 1) * size).limit(size)).all()


def search_org_circulations(session: Session, org: str, f: ListFilter, page: int, size: int) -> tuple[int, int, Sequence[Circulation]]:
    """本单位流转 searched in the database: (total found, page, that page's circulations, newest first)."""
    stmt = _joined(select(Circulation)).where(Circulation.org == org, *_conditions(f, col(Circulation.created_at))).order_by(col(Circulation.id).desc())
    return _page(session, stmt, page, size)


def search_done_by(session: Session, user_id: str, f: ListFilter, page: int, size: int) -> tuple[int, int, Sequence[WorkItem]]:
    """已办 searched in the database: the items ``user_id`` completed (themselves or for another),
    latest first; the time range is when they were completed. Done items are never overdue."""
    if f.overdue_at is not None:
        return 0, 1, []
    stmt = (
        _joined(select(WorkItem).join(Circulation, col(Circulation.id) == WorkItem.circulation_id))
        .where(
            WorkItem.status == WorkItemStatus.done,
            WorkItem.kind == WorkItemKind.human,
            (WorkItem.actor == user_id) | (WorkItem.acted_for == user_id),
            *_conditions(f, col(WorkItem.finished_at)),
        )
        .order_by(col(WorkItem.finished_at).desc(), col(WorkItem.id).desc())
    )
    return _page(session, stmt, page, size)
