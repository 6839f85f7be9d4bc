"""印制: the issued copy (正本) of a numbered document. The flow loader puts a numbering step
before every printing step (flows/engine/definition.py ORDERS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.doc_templates.render import RenderResult
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.queries.documents import issued_parts
from gongwen_engine.models.tables import Document


def document_parts(ctx: StepContext, doc: Document) -> list[DocumentContent]:
    """The document followed by what it forwards, as issued (cover letter first)."""
    return issued_parts(ctx.session, doc)


def render(ctx: StepContext) -> None:
    """印制: write the .docx (cover letter + forwarded document, the 版记 last on an even page)
    to the storage folder."""
    issue_rendered(ctx, lambda doc, path: render_issued(document_parts(ctx, doc), path, ctx.org.house_style))


def issue_rendered(ctx: StepContext, write: Callable[[Document, Path], RenderResult]) -> None:
    """Write the circulation's numbered document with ``write`` and keep it as the issued copy (正本)."""
    doc = ctx.document(ctx.circulation.document_id)
    relative = f"{doc.org}/{doc.doc_number}.docx"
    db.hold_folder(ctx.session, (ctx.engine.storage / relative).parent)  # no stray write of a killed attempt after ours
    result = write(doc, ctx.engine.storage / relative)
    doc.file, doc.sha256 = relative, result.sha256
    ctx.session.add(doc)
    ctx.record_file("issued_copy", relative, result.sha256, result.size)
    ctx.audit("rendered", doc.id, file=relative, sha256=result.sha256, size=result.size)
