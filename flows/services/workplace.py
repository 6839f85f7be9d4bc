"""The web workplace's reads and its audit events: the lists (本单位流转, 待办, 已办: searched,
filtered, paged), one circulation with its files, a document to download, a work item, the return
that sent a draft back, a person's delegations and the cascade picture's rows. The pages turn these into HTML; nothing here renders or decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlmodel import Session

from gongwen_engine.doc_templates.records import FormRow, record_heading, record_rows
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.records import gather_record
from gongwen_engine.flows.services.circulations import open_items
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.queries import workplace as q
from gongwen_engine.models.queries.cascade import CascadeRows, cascade_rows
from gongwen_engine.models.queries.documents import issued_parts
from gongwen_engine.models.queries.numbers import withdrawn
from gongwen_engine.models.records import RecordKind
from gongwen_engine.models.rules.dates import CHINA, aware, china_date, end_of_day
from gongwen_engine.models.tables import Circulation, CirculationFile, Delegation, Document, IssuedNumber, WorkItem, utcnow

RETURN = "return"  # the outcome that sends a draft back (退回); the engine requires its comment


def record_event(engine: Engine, actor: str, action: str, circ: Circulation | None = None, document_id: int | None = None, **detail: Any) -> None:
    """An audit event of the workplace (sign-in, download, search, refusal); empty details left out."""
    with db.transaction(engine.db) as session:
        engine.audit(session, actor, action, circ, document_id, None, {k: v for k, v in detail.items() if v is not None})


def find_circulation(engine: Engine, circulation_id: int) -> Circulation | None:
    with Session(engine.db) as session:
        return session.get(Circulation, circulation_id)


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


# ---- the lists: 待办, 已办, 本单位流转 with search, filters and pages ------------------------------------

PAGE_SIZE = 20


@dataclass
class ListQuery:
    """What a person asks of a list: words in the title, number or sender; flow; state; overdue only; dates (Beijing)."""

    words: str = ""
    flow: str = ""
    state: str = ""
    overdue: bool = False
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass
class ListRow:
    """One row of a list: the circulation, its own document (the draft, or the document received),
    the document received (with its sender), the item of 待办/已办, and the return that led to it."""

    circ: Circulation
    doc: Document | None
    received: Document | None
    sender: str
    at: datetime
    overdue: bool = False
    item: WorkItem | None = None
    returned: WorkItem | None = None
    waiting: list[WorkItem] = field(default_factory=list)


@dataclass
class ListPage:
    rows: list[ListRow]
    total: int
    page: int
    pages: int


def sender_of(engine: Engine, received: Document | None) -> str:
    """来文单位: who sent a received document (an outside issuer's short name, or the organisation)."""
    if received is None:
        return ""
    if received.issuer_short_name or received.issuer_name:
        return received.issuer_short_name or received.issuer_name or ""
    org = engine.config.organisations.get(received.org)
    return org.short_name if org else ""


def _row(session: Session, engine: Engine, circ: Circulation, at: datetime, item: WorkItem | None = None) -> ListRow:
    received = session.get(Document, circ.received_id) if circ.received_id else None
    return ListRow(circ, q.main_document(session, circ), received, sender_of(engine, received), at, item=item)


def _matches(row: ListRow, query: ListQuery) -> bool:
    """The same search in Python, for 待办 (a person's open items, few, gathered with their delegations)."""
    if query.words:
        texts = [row.sender]
        for doc in (row.doc, row.received):
            if doc is not None:
                texts += [doc.title, doc.doc_number or "", doc.issuer_name or ""]
        if not any(query.words in t for t in texts):
            return False
    if query.flow and row.circ.flow != query.flow:
        return False
    if query.state and row.circ.status != query.state:
        return False
    if query.overdue and not row.overdue:
        return False
    day = china_date(row.at)
    return not ((query.date_from and day < query.date_from) or (query.date_to and day > query.date_to))


def _paged(rows: list[ListRow], query: ListQuery) -> ListPage:
    found = [r for r in rows if _matches(r, query)]
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(1, query.page), pages)
    return ListPage(found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], len(found), page, pages)


def list_filter(engine: Engine, query: ListQuery, now: datetime) -> q.ListFilter:
    """The query as the database answers it: Beijing dates as UTC instants, the words also matched
    against the organisations' short names (the 来文单位 of a document received from inside the tree)."""
    words = query.words
    return q.ListFilter(
        words=words,
        sender_orgs=[code for code, org in engine.config.organisations.items() if words and words in org.short_name],
        flow=query.flow,
        state=query.state,
        overdue_at=now if query.overdue else None,
        start=datetime.combine(query.date_from, time(), CHINA) if query.date_from else None,
        end=end_of_day(query.date_to) if query.date_to else None,
    )


def circulations_page(engine: Engine, org: str, query: ListQuery) -> ListPage:
    """本单位流转: the organisation's circulations, newest first, searched, filtered and paged by the
    database (every circulation of the organisation, not a window of the latest)."""
    now = utcnow()
    with Session(engine.db) as session:
        total, page, circs = q.search_org_circulations(session, org, list_filter(engine, query, now), query.page, PAGE_SIZE)
        rows = {c.id: _row(session, engine, c, c.created_at) for c in circs}
        for item in q.open_human_items(session, [i for i in rows if i is not None]):
            row = rows[item.circulation_id]
            row.waiting.append(item)
            row.overdue = row.overdue or bool(item.due_at and aware(item.due_at) < now)
    return ListPage(list(rows.values()), total, page, max(1, -(-total // PAGE_SIZE)))


def inbox_page(engine: Engine, user_id: str, query: ListQuery) -> ListPage:
    """待办: the items ``user_id`` may act on, with their sender and, for a returned draft, the return."""
    now = utcnow()
    rows = []
    with Session(engine.db) as session:
        for item, circ, _ in open_items(engine, user_id):
            row = _row(session, engine, circ, item.created_at, item)
            row.overdue = bool(item.due_at and aware(item.due_at) < now)
            before = q.decision_before(session, item)
            row.returned = before if before is not None and before.outcome == RETURN else None
            rows.append(row)
    return _paged(rows, query)


def done_page(engine: Engine, user_id: str, query: ListQuery) -> ListPage:
    """已办: the items ``user_id`` completed, latest first, searched and paged by the database."""
    with Session(engine.db) as session:
        total, page, items = q.search_done_by(session, user_id, list_filter(engine, query, utcnow()), query.page, PAGE_SIZE)
        rows = []
        for item in items:
            circ = session.get(Circulation, item.circulation_id)
            assert circ is not None  # a foreign key
            rows.append(_row(session, engine, circ, item.finished_at or item.created_at, item))
    return ListPage(rows, total, page, max(1, -(-total // PAGE_SIZE)))


def returned_before(engine: Engine, item: WorkItem) -> WorkItem | None:
    """The return (退回) that sent the draft back to ``item``, if that is how it came."""
    with Session(engine.db) as session:
        before = q.decision_before(session, item)
    return before if before is not None and before.outcome == RETURN else None


# ---- the process record (发文稿纸 / 收文处理单) as a page ---------------------------------------------------


@dataclass
class RecordView:
    """The flow's process record as it stands now: its heading (山东省妇联收文处理单) and its rows,
    the same rows the .docx record is laid out from (``doc_templates/records.py``)."""

    heading: str
    rows: list[FormRow]


def record_view(engine: Engine, circulation_id: int) -> RecordView | None:
    """The 发文稿纸 or 收文处理单 of the circulation, gathered now from its work items as the engine
    gathers it for the .docx after each step; None when its flow keeps no record."""
    with Session(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
        if circ is None:
            return None
        definition = engine.definition_of(circ, session)
        if definition.record is None:
            return None
        replayed = engine.config.org(circ.org).level in engine.config.policy(circ.policy).clock  # a named policy replays a seed's dates
        record = gather_record(session, engine.config, definition, circ, RecordKind(definition.record), engine.business_date(circ), replayed)
    return RecordView(record_heading(record), record_rows(record))
