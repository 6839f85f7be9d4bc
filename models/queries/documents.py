"""Reads of documents: a document as issued, with what it forwards."""

from __future__ import annotations

from sqlmodel import Session

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.tables import Document


def issued_parts(session: Session, doc: Document) -> list[DocumentContent]:
    """The document followed by what it forwards, as issued (cover letter first): what 印制
    renders into the .docx and the web pages show as it will print."""
    parts = [content_of(doc)]
    forwarded = session.get(Document, doc.forwards_id) if doc.forwards_id else None
    if doc.forwards_id and forwarded is None:
        raise Refusal(f"document {doc.forwards_id} (forwarded by document {doc.id}) not found")
    return parts + (issued_parts(session, forwarded) if forwarded else [])
