"""A circulation's documents inside a step: the draft's versions (痕迹保留), its signer (签发人) and the
files the circulation keeps (one per role)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.models.audit import record_about
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import stored_content
from gongwen_engine.models.tables import Circulation, CirculationFile, Document, utcnow


def record_file(session: Session, circulation_id: int, role: str, relative: str, sha256: str, size: int) -> CirculationFile:
    """Keep a file a circulation produced or received (one per role; a re-issue replaces it)."""
    row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id, CirculationFile.role == role)).first()
    if row is None:
        row = CirculationFile(circulation_id=circulation_id, role=role, file=relative, sha256=sha256, size=size)
    else:
        row.file, row.sha256, row.size, row.updated_at = relative, sha256, size, utcnow()
    session.add(row)
    return row


def revise(session: Session, circ: Circulation, user_id: str, changes: dict[str, Any]) -> Document:
    """A new version of the circulation's draft with ``changes``; earlier versions are kept."""
    current = session.get(Document, circ.document_id) if circ.document_id else None
    if current is None:
        raise Refusal("本流转没有可修改的文稿")
    if current.doc_number:
        raise Refusal(f"文稿已编号（{current.doc_number}），不能再修改")
    content = DocumentContent.model_validate({**current.content, **changes})
    doc = draft_version(session, circ, content, current.forwards_id, current.original_id)
    record_about(session, user_id, "revised", circ, doc.id, circ.step, {"version": doc.version, "fields": sorted(changes)})
    return doc


def set_signer(session: Session, config: Config, circ: Circulation, actor: str, signed_on: date) -> None:
    """签发: the approving leader's name becomes the 签发人, and the day they signed the 成文日期
    (``signed_on``: today in Beijing, or the date a named policy replays); a 印发日期 before it
    moves with it. A policy approves in the principal leader's name (the engine sets it as
    ``acted_for``); an actor who is no person names nobody."""
    doc = session.get(Document, circ.document_id) if circ.document_id else None
    if doc is None:
        return
    content = dict(doc.content)
    if actor in config.users:
        content["signer"] = config.users[actor].name
    content["issued_on"] = signed_on.isoformat()
    printed_on = content.get("printed_on")
    if printed_on and date.fromisoformat(printed_on) < signed_on:
        content["printed_on"] = signed_on.isoformat()
    doc.content = content
    session.add(doc)


def draft_version(session: Session, circ: Circulation, content: DocumentContent, forwards_id: int | None, original_id: int | None) -> Document:
    """The circulation's draft as a new version (1, or one after the current draft): earlier versions are kept."""
    current = session.get(Document, circ.document_id) if circ.document_id else None
    doc = Document(
        org=circ.org,
        doc_type=content.doc_type,
        title=content.title,
        content=stored_content(content),
        forwards_id=forwards_id,
        original_id=original_id,
        circulation_id=circ.id,
        version=current.version + 1 if current else 1,
    )
    session.add(doc)
    session.flush()
    circ.document_id = doc.id
    return doc
