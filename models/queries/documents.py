"""Reads of documents: a document as issued, with what it forwards."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.tables import Circulation, Document, Registration


def issued_parts(session: Session, doc: Document) -> list[DocumentContent]:
    """The document followed by what it forwards, as issued (cover letter first): what 印制
    renders into the .docx and the web pages show as it will print."""
    parts = [content_of(doc)]
    forwarded = session.get(Document, doc.forwards_id) if doc.forwards_id else None
    if doc.forwards_id and forwarded is None:
        raise Refusal(f"document {doc.forwards_id} (forwarded by document {doc.id}) not found")
    return parts + (issued_parts(session, forwarded) if forwarded else [])


def received_document(session: Session, org: str, ref: str) -> Document:
    """A document ``org`` received (收文), named by the receiving circulation's id, its 收文登记号,
    its 发文字号 or its title; refused in Chinese when ``org`` received no such document, or when a
    title names more than one."""
    ref = ref.strip().lstrip("#")
    query = (
        select(Document, Circulation)
        .join(Circulation, col(Circulation.received_id) == Document.id)
        .join(Registration, col(Registration.circulation_id) == Circulation.id, isouter=True)
        .where(Circulation.org == org)
    )
    named = Circulation.id == int(ref) if ref.isdigit() else or_(Registration.register_number == ref, Document.doc_number == ref, Document.title == ref)
    found = list(session.exec(query.where(named).order_by(col(Circulation.id))))
    if not found:
        raise Refusal(f"本单位没有收到“{ref}”这份文件，不能作为附件原样附上；请写收文流转号（如 12）、收文登记号、来文的发文字号或标题（查看：gongwen status）")
    if len({doc.id for doc, _ in found}) > 1:
        numbers = "、".join(str(circ.id) for _, circ in found)
        raise Refusal(f"“{ref}”指向多份收文（收文流转 {numbers}）；请改写其中一份的收文流转号或收文登记号")
    return found[0][0]
