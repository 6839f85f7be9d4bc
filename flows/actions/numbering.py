"""编号: the 发文字号 of an approved document."""

from __future__ import annotations

from sqlmodel import select

from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.numbering import allocate_doc_number, issue_doc_number, void_doc_number
from gongwen_engine.models.tables import Document


def allocate_number(ctx: StepContext) -> None:
    """编号: allocate the next 发文字号 of the issuer's first prefix in the document's year."""
    doc = ctx.document(ctx.circulation.document_id)
    assert doc.id is not None  # read from the database
    content = content_of(doc)
    prefix = ctx.org.prefixes[0]
    year = content.issued_on.year
    start = ctx.config.start_of(prefix, year)
    # PostgreSQL: allocated and committed in one round trip of its own, so the counter is not
    # locked for the rest of the step (a re-run gets the same number back); else in the step.
    number = issue_doc_number(ctx.engine.db, prefix, year, doc.id, start) or allocate_doc_number(ctx.session, prefix, year, doc.id, start=start)
    while (holder := _number_holder(ctx, number.doc_number, doc.id)) is not None:
        # The number was already used outside gongwen: a document received from outside carries
        # it (e.g. a notice issued on paper before the organisation's counter was set up). It is
        # voided with the reason, never given twice, and the next one is allocated in this step.
        void_doc_number(ctx.session, number.doc_number, f"该文号已由外来文件使用（收文文档 #{holder}），不再重复编号")
        ctx.session.flush()
        ctx.audit("number_voided", doc.id, doc_number=number.doc_number, reason="used_by_received_document", holder=holder)
        number = allocate_doc_number(ctx.session, prefix, year, doc.id, start=start)
    doc.doc_number = number.doc_number
    ctx.session.add(doc)
    ctx.audit("numbered", doc.id, doc_number=number.doc_number)


def _number_holder(ctx: StepContext, doc_number: str, document_id: int) -> int | None:
    """Another document that already carries ``doc_number`` (one received from outside), if any."""
    return ctx.session.exec(select(Document.id).where(Document.doc_number == doc_number, Document.id != document_id)).first()
