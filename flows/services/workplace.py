"""The web workplace's reads and its audit events: an organisation's circulations, one
circulation with its files, a document to download, a work item, a person's delegations and the
cascade picture's rows. The pages turn these into HTML; nothing here renders or decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.circulations import open_items
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.queries import workplace as q
from gongwen_engine.models.queries.cascade import CascadeRows, cascade_rows
from gongwen_engine.models.queries.documents import issued_parts
from gongwen_engine.models.queries.numbers import withdrawn
from gongwen_engine.models.tables import Circulation, CirculationFile, Delegation, Document, IssuedNumber, WorkItem, utcnow


def record_event(engine: Engine, actor: str, action: str, circ: Circulation | None = None, document_id: int | None = None, **detail: Any) -> None:
    """An audit event of the workplace (sign-in, download, search, refusal); empty details left out."""
    with db.transaction(engine.db) as session:
        engine.audit(session, actor, action, circ, document_id, None, {k: v for k, v in detail.items() if v is not None})


def find_circulation(engine: Engine, circulation_id: int) -> Circulation | None:
    with Session(engine.db) as session:
        return session.get(Circulation, circulation_id)


@dataclass
class OverviewRow:
    """One circulation of the organisation's list: its document, the received one, its waiting items."""

    circ: Circulation
    doc: Document | None
    received: Document | None
    waiting: list[WorkItem] = field(default_factory=list)


def org_overview(engine: Engine, org: str, limit: int = 200) -> list[OverviewRow]:
    """The organisation's latest circulations, newest first."""
    with Session(engine.db) as session:
        circs = q.org_circulations(session, org, limit)
        rows: dict[int, OverviewRow] = {}
        for c in circs:
            assert c.id is not None  # read from the database
            rows[c.id] = OverviewRow(c, q.main_document(session, c), session.get(Document, c.received_id) if c.received_id else None)
        for item in q.open_human_items(session, list(rows)):
            rows[item.circulation_id].waiting.append(item)
    return list(rows.values())


@dataclass
class CirculationView:
    """What the circulation page shows besides the picture, the timeline and the versions."""

    doc: Document | None
    parts: list[DocumentContent]
    files: list[CirculationFile]
    parent: Circulation | None
    withdrawn: IssuedNumber | None = None  # the document's number was voided: the document is withdrawn (作废)


def circulation_view(engine: Engine, circ: Circulation) -> CirculationView:
    assert circ.id is not None  # a circulation shown is one read from the database
    with Session(engine.db) as session:
        doc = q.main_document(session, circ)
        return CirculationView(
            doc,
            issued_parts(session, doc) if doc else [],
            list(q.circulation_files(session, circ.id)),
            session.get(Circulation, circ.parent_id) if circ.parent_id else None,
            withdrawn(session, [doc.id]).get(doc.id) if doc and doc.id is not None else None,
        )


def find_circulation_file(engine: Engine, circulation_id: int, role: str) -> CirculationFile | None:
    with Session(engine.db) as session:
        return q.circulation_file(session, circulation_id, role)


@dataclass
class DocumentDownload:
    """A document, the circulations that drafted or received it, and its parts as issued."""

    doc: Document
    holders: list[Circulation]
    parts: list[DocumentContent]


def document_download(engine: Engine, document_id: int) -> DocumentDownload | None:
    with Session(engine.db) as session:
        doc = session.get(Document, document_id)
        return DocumentDownload(doc, q.document_holders(session, doc), issued_parts(session, doc)) if doc else None


@dataclass
class ItemView:
    """A work item for a person, its circulation, the document and its parts as issued."""

    item: WorkItem
    circ: Circulation
    doc: Document | None
    parts: list[DocumentContent]


def human_item(engine: Engine, item_id: int) -> ItemView | None:
    """The work item ``item_id`` if it waits (or waited) for a person."""
    with Session(engine.db) as session:
        item = session.get(WorkItem, item_id)
        if item is None or item.kind != "human":
            return None
        circ = session.get(Circulation, item.circulation_id)
        assert circ is not None  # item.circulation_id is a foreign key
        doc = q.main_document(session, circ)
        return ItemView(item, circ, doc, issued_parts(session, doc) if doc else [])


def delegations_of(engine: Engine, user_id: str) -> list[Delegation]:
    """The delegations ``user_id`` gave or received that are in force."""
    with Session(engine.db) as session:
        return q.delegations_of(session, user_id, utcnow())


def cascade_picture_rows(engine: Engine, circulation_id: int) -> CascadeRows:
    with Session(engine.db) as session:
        return cascade_rows(session, circulation_id)


def actionable_items(engine: Engine, user_id: str) -> list[WorkItem]:
    """The open items ``user_id`` may act on now: their own, their role's, their principals' by delegation."""
    return [item for item, _, _ in open_items(engine, user_id)]
