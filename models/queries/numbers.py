"""Reads of the 发文登记簿 (register of issued numbers): an organisation's numbers of one year with
their documents and deliveries, and which documents are withdrawn (作废)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from gongwen_engine.models.tables import Circulation, Delivery, Document, IssuedNumber


@dataclass
class RegisterRow:
    """One allocated number: its document (if any), deliveries (recipient, as a copy) and state."""

    number: IssuedNumber
    doc: Document | None
    deliveries: list[tuple[str, bool]] = field(default_factory=list)


def register(session: Session, prefixes: Iterable[str], year: int) -> list[RegisterRow]:
    """The numbers of ``prefixes`` in ``year``, by prefix then serial (numerically: 10号 after 9号)."""
    numbers = list(
        session.exec(
            select(IssuedNumber)
            .where(col(IssuedNumber.prefix).in_(list(prefixes)), IssuedNumber.year == year)
            .order_by(col(IssuedNumber.prefix), col(IssuedNumber.serial))
        )
    )
    doc_ids = [n.document_id for n in numbers if n.document_id is not None]
    docs = {d.id: d for d in session.exec(select(Document).where(col(Document.id).in_(doc_ids)))} if doc_ids else {}
    sent: dict[int, list[tuple[str, bool]]] = {}
    if doc_ids:
        for d in session.exec(select(Delivery).where(col(Delivery.document_id).in_(doc_ids)).order_by(col(Delivery.id))):
            sent.setdefault(d.document_id, []).append((d.recipient, d.as_copy))
    return [RegisterRow(n, docs.get(n.document_id) if n.document_id else None, sent.get(n.document_id or -1, [])) for n in numbers]


def withdrawn(session: Session, document_ids: Iterable[int]) -> dict[int, IssuedNumber]:
    """Document id -> its voided number, for the documents withdrawn (作废) among ``document_ids``."""
    ids = [i for i in document_ids if i is not None]
    if not ids:
        return {}
    stmt = select(IssuedNumber).where(col(IssuedNumber.document_id).in_(ids), col(IssuedNumber.voided).is_(True))
    return {n.document_id: n for n in session.exec(stmt) if n.document_id is not None}


def number_row(session: Session, doc_number: str) -> IssuedNumber | None:
    return session.exec(select(IssuedNumber).where(IssuedNumber.doc_number == doc_number)).first()


def holders(session: Session, document_id: int) -> tuple[Circulation | None, list[Circulation]]:
    """The circulation that issued the document and those its deliveries started."""
    doc = session.get(Document, document_id)
    issuing = session.get(Circulation, doc.circulation_id) if doc and doc.circulation_id else None
    receiving = list(session.exec(select(Circulation).where(Circulation.received_id == document_id)))
    return issuing, receiving
