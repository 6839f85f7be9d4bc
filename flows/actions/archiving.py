"""归档: filing a finished circulation as one item (件) per DA/T 22-2015, and the archivist's work
on the filed items: access, fixity (verify), the four-properties check (四性检测, DA/T 70-2018),
the catalogue (归档文件目录) and the transfer package (移交).

Filed copies live in the archive area of the storage folder, one folder per item named by its
archive code: ``archive/{fonds}/{year}/{archive code}/{seq}-{role}.{ext}``. The first .docx of an
item carries the archive stamp (归档章). Every filed file has a SHA-256 and an SM3 digest. Beside
them, ``audit-anchor.json`` (``models.audit.ITEM_ANCHOR``) anchors the audit chain: the seq and
chain hash of the item's own 'archived' record, written in the transaction that files the item.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import place_staged, stage_file, write_atomically
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Retention, User
from gongwen_engine.doc_templates.archive_files import digests, docx_paragraphs, file_format, pages_with_text, stamp_docx, stamp_docx_with_paragraphs
from gongwen_engine.doc_templates.reader import read_text
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.flows.engine.items import done_items
from gongwen_engine.models import audit, db
from gongwen_engine.models.archive_search import body_terms, index_item
from gongwen_engine.models.audit import CHECKPOINT_FOLDER, ITEM_ANCHOR, chain_head, item_anchor_bytes, refresh_checkpoint, when_chained, write_item_anchor
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.issuers import issuer_names
from gongwen_engine.models.numbering import next_serial, peek_serial
from gongwen_engine.models.rules.archive import ATTACHMENT_ROLE, YEAR_DEPT_RETENTION, format_archive_code, item_sequence, retention_for, role_rank, stamp_for
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.rules.permissions import Action, Fonds, authorize
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, CirculationFile, Document, FiledFile, RetrievalLog, saved_id, utcnow

ARCHIVE_AREA = "archive"
REFERENCE_OUTCOME = "reference"  # a decision outcome meaning 参阅件: received for reference only
RECEIVED_ROLES = ("received_original", "received_document")  # the document as it came in, in whatever format


def item_folder(fonds: str, year: int, archive_code: str) -> str:
    """The item's folder in the archive area, relative to the storage folder."""
    return f"{ARCHIVE_AREA}/{fonds}/{year}/{archive_code}"


def relation(config: Config, org: str, issuer: str) -> str:
    """Whose document it is, seen from ``org``: own | superior | subordinate | peer."""
    if issuer == org:
        return "own"
    if issuer not in config.organisations or org not in config.organisations:
        return "peer"  # an issuer outside our tree (e.g. another system's sender)
    if issuer in _ancestors(config, org):
        return "superior"
    if org in _ancestors(config, issuer):
        return "subordinate"
    return "peer"


def _ancestors(config: Config, code: str) -> list[str]:
    out, parent = [], config.org(code).parent
    while parent:
        out.append(parent)
        parent = config.org(parent).parent
    return out


# ---- filing ------------------------------------------------------------------------------------------


@dataclass
class Source:
    """A file to be filed: its role in the item, where it is, and the digest it was recorded with."""

    role: str
    file: str
    sha256: str | None


def item_sources(ctx: StepContext, issued: Document | None, received: Document | None) -> list[Source]:
    """The circulation's files in DA/T 22-2015 order (``FILE_ROLE_ORDER``); roles that do not
    exist for this circulation are simply absent."""
    rows = ctx.session.exec(select(CirculationFile).where(CirculationFile.circulation_id == ctx.circulation.id)).all()
    sources = {r.role: Source(r.role, r.file, r.sha256) for r in rows}
    if issued is not None and "issued_copy" not in sources and issued.file:
        sources["issued_copy"] = Source("issued_copy", issued.file, issued.sha256)
    if issued is None and received is not None and "received_original" not in sources and received.file:
        sources["received_document"] = Source("received_document", received.file, received.sha256)
    ordered = sorted(sources.values(), key=lambda s: role_rank(s.role))
    return ordered + attachment_sources(issued or received)


def attachment_sources(doc: Document | None) -> list[Source]:
    """The document's attachments given as files (附件1 …: PDF, .docx, .xlsx, images), after its own
    files, each with the digest it was uploaded with."""
    if doc is None:
        return []
    return [Source(f"{ATTACHMENT_ROLE}{n}", a.file.file, a.file.sha256) for n, a in enumerate(content_of(doc).attachments, start=1) if a.file is not None]


def archive(ctx: StepContext) -> None:
    """归档 (the step): file the circulation as one item (件) with its archive code (档号)."""
    file_circulation(ctx)


def file_circulation(ctx: StepContext) -> ArchiveItem | None:
    """归档: one item per circulation (once), or nothing when the schedule says 不归档."""
    circ = ctx.circulation
    assert circ.id is not None  # the engine runs steps of saved circulations
    existing = ctx.session.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == circ.id)).first()
    if existing:
        return existing
    plan = filing_plan(ctx)
    if plan.retention is None:
        ctx.audit("not_filed", plan.doc.id, why=plan.why)
        return None
    org = ctx.org
    # Read and measure (LibreOffice: seconds) BEFORE the item number is allocated: from the
    # allocation to the folder being written must be short. If this transaction is killed on the
    # server meanwhile, the number goes to another circulation at once, while this process, not yet
    # aware, would go on writing into that circulation's folder (the database fault campaign saw it).
    measured = measure_sources(ctx.engine.storage, plan.sources, plan.doc.title)
    item_no = next_serial(ctx.session, item_sequence(org.fonds, plan.retention, org.dept_code), plan.year)
    item = new_item(ctx, plan, item_no)
    code = item.archive_code
    # the item's folder locked until this filing's transaction has ended (db.hold_folder): a filing whose
    # transaction is killed on the server loses its number at once, while this process may still be writing
    # copies into the folder; the circulation that gets the number next waits, so its leftovers cleanup
    # (remove_leftovers) comes after the last stray write (the fault campaign's soak found such copies)
    db.hold_folder(ctx.session, ctx.engine.storage / item_folder(item.fonds, item.year, code))
    # after the folder's lock, a round trip: a transaction killed on the server meanwhile fails here,
    # before it writes into a folder whose number has gone to another circulation
    if ctx.session.exec(select(ArchiveItem.id).where(ArchiveItem.archive_code == code)).first() is not None:
        raise Refusal(f"归档失败：档号 {code} 已被另一件（如移交导入的档案）占用（archive code taken; check the item-number counter of this class）")
    hold_archive_files(ctx.session, exclusive=False)  # until COMMIT: a verify waits for these files' item
    placed = _prepared.place(circ.id, copies_key(item, measured), ctx.engine.storage)  # written beforehand, outside the lock
    filed, body = placed or write_filed_copies(ctx.engine.storage, item, measured)
    item.files = [f.model_dump() for f in filed]
    remove_leftovers(ctx.engine.storage, item)
    item.pages = sum(pages for _, _, pages, _ in measured)
    item.note = "页数为估算（未装 LibreOffice）" if any(f.pages_method == "estimate" for f in filed) else None
    filing = ctx.audit("archived", plan.doc.id, archive_code=code, retention=plan.retention.value, why=plan.why, files=[f.file for f in filed])
    anchor_item(ctx.session, ctx.engine.storage, item, filing)
    ctx.session.flush()
    refresh_checkpoint(ctx.engine.settings.home.resolve() / CHECKPOINT_FOLDER, lambda: chain_head(ctx.session), today())  # the head, outside the database
    item.history = process_history(ctx.session, circ.id)
    ctx.session.add(item)
    ctx.session.flush()
    index_item(ctx.session, item, body, new=True)
    return item


@dataclass(frozen=True)
class FilingPlan:
    """What a circulation files (read, nothing written): the document the item describes, its
    retention (None: 不归档) and why, the year, and the files in DA/T 22-2015 order."""

    doc: Document
    content: DocumentContent
    retention: Retention | None
    why: str
    sources: list[Source]

    @property
    def year(self) -> int:
        return self.content.issued_on.year


def filing_plan(ctx: StepContext) -> FilingPlan:
    """The item the circulation would file now: its issued document when it issued one here, else
    what it received; the retention its kind, origin and 文种 get from the schedule."""
    circ = ctx.circulation
    issued = ctx.document(circ.document_id) if circ.document_id else None
    if issued is not None and not issued.file:
        issued = None  # drafted but never issued here: the received document is what is filed
    received = ctx.document(circ.received_id) if circ.received_id else None
    doc = issued or received
    if doc is None:
        raise RuntimeError(f"circulation {circ.id} has neither an issued nor a received document to file")
    org = ctx.org
    if issued is not None:
        item_kind = "forwarding" if issued.forwards_id else "issued"
        origin = ctx.document(issued.original_id).org if issued.original_id else issued.org
        from_level = relation(ctx.config, org.code, origin) if issued.forwards_id else "own"
    else:
        item_kind = "reference" if _decided_reference(ctx) else "received"
        from_level = relation(ctx.config, org.code, doc.org)
    content = content_of(doc)
    retention, why = retention_for(ctx.config.retention, item_kind, from_level, content.doc_type)
    sources = item_sources(ctx, issued, received) if retention is not None else []
    if retention is not None and not sources:
        raise RuntimeError(f"circulation {circ.id}: nothing to file (no issued copy, no received document)")
    return FilingPlan(doc, content, retention, why, sources)


def new_item(ctx: StepContext, plan: FilingPlan, item_no: int) -> ArchiveItem:
    """The item (件) ``plan`` files as number ``item_no`` of its class: its archive code (档号)
    and catalogue data; its files, pages and history are filled in as it is filed."""
    assert plan.retention is not None  # a plan that files
    org, content = ctx.org, plan.content
    return ArchiveItem(
        org=org.code,
        circulation_id=ctx.circulation.id,
        fonds=org.fonds,
        year=plan.year,
        retention=plan.retention.value,
        dept_code=org.dept_code,
        item_no=item_no,
        archive_code=format_archive_code(org.fonds, plan.year, plan.retention, org.dept_code, item_no, org.classification),
        doc_number=plan.doc.doc_number,
        title=plan.doc.title,
        responsible=issuer_names(ctx.config, plan.doc).name,
        dated=content.issued_on,
        files=[],
        doc_type=content.doc_type,
        security=content.security,
        filed_at=utcnow(),  # the defaults' values, given: pydantic inspects a default factory's signature at every construction
        history=[],
    )


def prepare_filed_copies(ctx: StepContext) -> bool:
    """Outside any lock (the batch runner's preparation; ``ctx.session`` only reads): write the
    copies the circulation's 归档 step is about to file — stamped, digested, their text taken for
    the index — as staged temporaries in the folder of the archive code it will most likely get
    (its class's next item number as the counter stands now). The step, under the lock, finds
    them when its code and files are the ones prepared (``copies_key``) and only renames them into
    place; otherwise it writes its own and these are removed. Returns whether copies were staged."""
    circ = ctx.circulation
    if circ.id is None or ctx.session.exec(select(ArchiveItem.id).where(ArchiveItem.circulation_id == circ.id)).first() is not None:
        return False
    plan = filing_plan(ctx)
    if plan.retention is None:
        return False
    org = ctx.org
    measured = measure_sources(ctx.engine.storage, plan.sources, plan.doc.title)
    item = new_item(ctx, plan, peek_serial(ctx.session, item_sequence(org.fonds, plan.retention, org.dept_code), plan.year))
    staged: list[tuple[Path, Path]] = []

    def stage(data: bytes, path: Path) -> None:
        staged.append((stage_file(data, path), path))

    try:
        filed, body = write_filed_copies(ctx.engine.storage, item, measured, write=stage)
    except BaseException:
        _remove_staged(staged)
        raise
    _prepared.put(circ.id, PreparedCopies(copies_key(item, measured), staged, filed, body))
    for text in (item.title, item.responsible, *body):
        body_terms(text)  # the index's terms, kept by the process for the step's search_row (the lock's work)
    return True


def discard_prepared(circulation_ids: list[int]) -> None:
    """Remove the staged copies still kept for these circulations (their batch has ended)."""
    for circulation_id in circulation_ids:
        _prepared.discard(circulation_id)


def copies_key(item: ArchiveItem, measured: list[tuple[Source, bytes, int, str]]) -> tuple[object, ...]:
    """Everything the filed copies' bytes, records and index text are made of: the archive code
    (the stamp's), the title (left out of the text) and each file read — its role, path, bytes'
    digest (the one recorded, which ``measure_sources`` has checked the bytes against) and pages."""
    files = tuple((s.role, s.file, s.sha256 or hashlib.sha256(data).hexdigest(), pages, method) for s, data, pages, method in measured)
    return (item.archive_code, item.title, files)


@dataclass
class PreparedCopies:
    """Filed copies written ahead (``prepare_filed_copies``): the staged temporaries and their
    targets, the file records and the index text the step would have made."""

    key: tuple[object, ...]
    staged: list[tuple[Path, Path]]
    filed: list[FiledFile]
    body: list[str]


def _remove_staged(staged: list[tuple[Path, Path]]) -> None:
    for temp, _ in staged:
        temp.unlink(missing_ok=True)
    for folder in {path.parent for _, path in staged}:  # the predicted item's folder: unless a filing holds it, or files are in it
        db.remove_unheld_folder(folder)


class _PreparedCopies:
    """The copies prepared for the circulations about to file, by circulation (thread-safe: the
    batch runner prepares on a thread of its own; bounded: what is left over is removed)."""

    def __init__(self, size: int) -> None:
        self.size, self.lock, self.items = size, threading.Lock(), OrderedDict[int, PreparedCopies]()

    def put(self, circulation_id: int, prepared: PreparedCopies) -> None:
        with self.lock:
            old = self.items.pop(circulation_id, None)
            self.items[circulation_id] = prepared
            evicted = [self.items.popitem(last=False)[1] for _ in range(len(self.items) - self.size)]
        for stale in [old, *evicted]:
            if stale is not None:
                _remove_staged(stale.staged)

    def discard(self, circulation_id: int) -> None:
        with self.lock:
            stale = self.items.pop(circulation_id, None)
        if stale is not None:
            _remove_staged(stale.staged)

    def place(self, circulation_id: int, key: tuple[object, ...], storage: Path) -> tuple[list[FiledFile], list[str]] | None:
        """Rename the copies prepared for ``circulation_id`` into place when they are the ones
        ``key`` describes: their records and index text; None (and nothing of them left) when
        none were prepared, they differ (another number, a file changed since) or one is gone
        (another filing's ``remove_leftovers`` took it): the step then writes its own."""
        with self.lock:
            prepared = self.items.pop(circulation_id, None)
        if prepared is None:
            return None
        if prepared.key != key or not all(temp.is_file() for temp, _ in prepared.staged):
            _remove_staged(prepared.staged)
            return None
        for temp, path in prepared.staged:
            place_staged(temp, path)
        return prepared.filed, prepared.body


_prepared = _PreparedCopies(256)


def _decided_reference(ctx: StepContext) -> bool:
    return any(item.outcome == REFERENCE_OUTCOME for item in done_items(ctx.session, saved_id(ctx.circulation)))


def measure_sources(storage: Path, sources: list[Source], title: str) -> list[tuple[Source, bytes, int, str]]:
    """Read each source (its digest checked against the one recorded) and count its pages."""
    loaded = []
    for source in sources:
        path = storage / source.file
        if not path.is_file():
            raise Refusal(f"归档失败：《{title}》的文件 {source.file}（{source.role}）不存在（file missing in the storage folder）")
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if source.sha256 and sha256 != source.sha256:
            raise Refusal(f"归档失败：{source.file} 与登记时的摘要不符，文件在登记后被改动（sha256 mismatch; re-render or re-register it）")
        loaded.append((source, data, path, sha256))
    counts = pages_with_text([(path, sha256) for _, _, path, sha256 in loaded])
    return [(source, data, pages, method) for (source, data, _, _), (pages, method) in zip(loaded, counts, strict=True)]  # a count per file


def write_filed_copies(
    storage: Path, item: ArchiveItem, measured: list[tuple[Source, bytes, int, str]], write: Callable[[bytes, Path], None] = write_atomically
) -> tuple[list[FiledFile], list[str]]:
    """Copy the measured sources into the item's folder (the first .docx stamped) and describe each
    copy. Returns the file records and the item's text for the search index, a part per file
    (``search_row``; a paragraph that is the item's title left out). ``write``: how a copy is
    written (``prepare_filed_copies`` stages them)."""
    total_pages = sum(m[2] for m in measured)
    folder = item_folder(item.fonds, item.year, item.archive_code)
    records, stamped = [], False
    parts: list[str] = []
    for seq, (source, data, pages, method) in enumerate(measured, start=1):
        kind = file_format(data, source.file)
        stamp = kind == "docx" and not stamped  # the item's first .docx
        key = (hashlib.sha256(data).hexdigest(), kind, source.role in RECEIVED_ROLES, Path(source.file).suffix)  # the bytes read, not the digest recorded
        known = _recent_texts.get(key)
        if stamp:
            stamp_at = stamp_for(item.fonds, item.year, item.item_no, item.dept_code, item.retention, total_pages)
            if known is None:
                data, paragraphs = stamp_docx_with_paragraphs(data, stamp_at)  # the .docx opened once for both
                known = _recent_texts.put(key, tuple(paragraphs))
            else:
                data = stamp_docx(data, stamp_at)
            stamped = True
        elif known is None:
            known = _recent_texts.put(key, tuple(searchable_text(source, data, kind)))
        parts.append("\n".join(t for t in known if t != item.title))
        suffix = Path(source.file).suffix or f".{kind}"
        relative = f"{folder}/{seq:02d}-{source.role}{suffix}"
        write(data, storage / relative)
        d = digests(data)
        records.append(
            FiledFile(
                seq=seq,
                role=source.role,
                file=relative,
                source=source.file,
                format=kind,
                size=d.size,
                sha256=d.sha256,
                sm3=d.sm3,
                pages=pages,
                pages_method=method,
                stamped=stamp,
            )
        )
    return records, parts


class _Recent:
    """The searchable text of the files filed lately, by digest (a bounded, thread-safe map): one
    notice is filed by every organisation that received it, and reading a .docx's paragraphs
    (or a PDF's text) again for each costs more than the rest of its filing's file work."""

    def __init__(self, size: int) -> None:
        self.size, self.lock, self.items = size, threading.Lock(), OrderedDict[tuple[str, str, bool, str], tuple[str, ...]]()

    def get(self, key: tuple[str, str, bool, str]) -> tuple[str, ...] | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str, bool, str], value: tuple[str, ...]) -> tuple[str, ...]:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_recent_texts = _Recent(64)


def searchable_text(source: Source, data: bytes, kind: str) -> list[str]:
    """What the search index takes from one filed file: the paragraphs of every .docx, and the
    text of a received document in any format the reader reads at receipt (.txt, PDF), so a word
    of its body finds the item whatever format it came in. Other files (a sealed PDF of the
    issued .docx) repeat a .docx already taken."""
    if kind == "docx":
        return docx_paragraphs(data)
    if source.role in RECEIVED_ROLES:
        return read_text(data, source.file)
    return []


def anchor_item(session: Session, storage: Path, item: ArchiveItem, filing: AuditEvent) -> None:
    """Anchor the audit chain in the item's folder: when the commit numbers ``filing`` (the item's
    'archived' record), its seq and chain hash go into the item's anchor file and its row."""

    def anchored(seq: int, chain_hash: str) -> None:
        write_item_anchor(storage / item_folder(item.fonds, item.year, item.archive_code), item.archive_code, seq, chain_hash)
        item.anchor_seq, item.anchor_hash = seq, chain_hash

    when_chained(session, filing, anchored)


def anchor_file(item: ArchiveItem) -> str | None:
    """The item's anchor file, relative to the storage folder (None: filed before anchors, or imported)."""
    return f"{item_folder(item.fonds, item.year, item.archive_code)}/{ITEM_ANCHOR}" if item.anchor_seq is not None else None


def recorded_files(item: ArchiveItem) -> set[str]:
    """Every file the item records in its folder: its filed copies and its anchor."""
    anchor = anchor_file(item)
    return {f.file for f in item.filed_files()} | ({anchor} if anchor else set())


def remove_leftovers(storage: Path, item: ArchiveItem) -> list[str]:
    """Delete what an earlier, rolled-back attempt left in the folder of this freshly allocated
    archive code: a process killed after writing the filed copies but before its transaction
    committed leaves them (or a temporary file of ``write_atomically``) behind, and the code is
    allocated again. No committed item holds this code (checked by the caller), so every file
    there that the item does not record is such a leftover (an anchor too: this item's is written
    at its commit). Returns what was removed."""
    folder = storage / item_folder(item.fonds, item.year, item.archive_code)
    recorded = recorded_files(item)
    removed = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        relative = path.relative_to(storage).as_posix()
        if path.is_file() and relative not in recorded:
            path.unlink()
            removed.append(relative)
    return removed


def process_history(session: Session, circulation_id: int) -> list[dict[str, Any]]:
    """处理过程: the circulation's audit trail, oldest first, as plain data."""
    events = audit.events_about(session, circulation_id)
    return [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "step": e.step, "detail": e.detail} for e in events]


# ---- access (archivists see only their own fonds; every retrieval logged) -----------------------------


@dataclass(frozen=True)
class Archivist:
    user: User
    fonds: str
    config: Config = field(compare=False, repr=False)


def archivist(config: Config, user_id: str, action: Action = Action.archive_search) -> Archivist:
    """The archivist and the one fonds they may see (``permissions``: ``action`` in their own
    fonds); anyone else is refused."""
    user = config.user(user_id)
    fonds = config.org(user.org).fonds
    authorize(config, user, action, Fonds(fonds))
    return Archivist(user, fonds, config)


def log_retrieval(session: Session, user_id: str, fonds: str | None, action: str, results: int, **detail: Any) -> None:
    """利用登记: who, what, when — refused attempts too."""
    session.add(RetrievalLog(user_id=user_id, fonds=fonds, action=action, results=results, detail={k: _plain(v) for k, v in detail.items() if v is not None}))


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, list, dict)) else str(value)


def item_in_fonds(session: Session, who: Archivist, archive_code: str, action: Action = Action.archive_show) -> ArchiveItem:
    """One item by archive code, if ``who`` may ``action`` it (their own fonds; callers log a refusal too)."""
    item = session.exec(select(ArchiveItem).where(ArchiveItem.archive_code == archive_code.strip())).first()
    if item is None:
        raise Refusal(f"档号 {archive_code} 不存在（no such archive code; see `gongwen archive search`）")
    authorize(who.config, who.user, action, Fonds(item.fonds, f"档案 {item.archive_code}"))
    return item


def items_of(session: Session, fonds: str | None, year: int | None = None, retention: str | None = None) -> list[ArchiveItem]:
    stmt = select(ArchiveItem)
    if fonds:
        stmt = stmt.where(ArchiveItem.fonds == fonds)
    if year:
        stmt = stmt.where(ArchiveItem.year == year)
    if retention:
        stmt = stmt.where(ArchiveItem.retention == retention)
    return list(
        session.exec(
            stmt.order_by(col(ArchiveItem.fonds), col(ArchiveItem.year), col(ArchiveItem.retention), col(ArchiveItem.dept_code), col(ArchiveItem.item_no))
        )
    )


# ---- fixity ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A fixity finding, reported by archive code: changed | missing | extra."""

    archive_code: str
    kind: str
    file: str
    detail: str = ""


ARCHIVE_FILES_LOCK = 0x67770A2C  # PostgreSQL advisory lock key: filed copies being written vs. a verify's scan


def hold_archive_files(session: Session, exclusive: bool) -> bool:
    """A filing step writes its copies into the item's folder before its transaction commits; a
    verify scanning the folders meanwhile would report them as files no item records. On
    PostgreSQL filings hold a shared transaction-level advisory lock while they write and until
    they commit; a verify that finds unrecorded files takes it exclusively (so it waits for the
    filings in flight) and looks again at what the items record. On SQLite a writer holds the database's
    write lock until it commits; ``gongwen archive verify`` opens its transaction with it
    (``BEGIN IMMEDIATE``). Returns whether a lock was taken."""
    return db.transaction_lock(session, ARCHIVE_FILES_LOCK, shared=not exclusive)


def verify(session: Session, storage: Path, fonds: str | None = None) -> tuple[int, list[Problem]]:
    """Check every filed file against its recorded size, SHA-256 and SM3; find files in the
    archive area that no item records. Returns (files checked, problems)."""
    problems: list[Problem] = []
    known = _check_files(items_of(session, fonds), storage, problems)
    root = storage / ARCHIVE_AREA / (fonds or "")
    files = sorted(p.relative_to(storage).as_posix() for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    extra = [f for f in files if f not in known]
    if extra and hold_archive_files(session, exclusive=True):  # filings in flight have committed (or rolled back)
        # Look again at both sides: the items they committed (checked like the others), and the
        # disk, where a temporary copy the scan saw has since been renamed into place or removed.
        known |= _check_files([i for i in items_of(session, fonds) if not recorded_files(i) <= known], storage, problems)
        extra = [f for f in extra if f not in known and (storage / f).is_file()]
    problems.extend(Problem(Path(f).parent.name, "extra", f, "not recorded in any item") for f in extra)
    return len(known), problems


def _check_files(items: list[ArchiveItem], storage: Path, problems: list[Problem]) -> set[str]:
    """Compare each recorded file of ``items`` with the disk, adding to ``problems``; returns the files looked at."""
    looked_at = set()
    for item in items:
        for f in item.filed_files():
            looked_at.add(f.file)
            path = storage / f.file
            if not path.is_file():
                problems.append(Problem(item.archive_code, "missing", f.file))
                continue
            d = digests(path.read_bytes())
            if (d.size, d.sha256, d.sm3) != (f.size, f.sha256, f.sm3):
                what = [name for name, got, want in (("size", d.size, f.size), ("sha256", d.sha256, f.sha256), ("sm3", d.sm3, f.sm3)) if got != want]
                problems.append(Problem(item.archive_code, "changed", f.file, ", ".join(what) + " differ"))
        if (anchor := anchor_file(item)) is not None:
            looked_at.add(anchor)
            if problem := anchor_problem(storage, item):
                problems.append(problem)
    return looked_at


def anchor_problem(storage: Path, item: ArchiveItem) -> Problem | None:
    """The item's anchor file against its row (the same archive code, seq and chain hash): None if
    they agree or the item has no anchor (filed before anchors, or imported)."""
    anchor = anchor_file(item)
    if anchor is None:
        return None
    assert item.anchor_seq is not None and item.anchor_hash is not None
    path = storage / anchor
    if not path.is_file():
        return Problem(item.archive_code, "missing", anchor, "审计锚点文件缺失")
    if path.read_bytes() != item_anchor_bytes(item.archive_code, item.anchor_seq, item.anchor_hash):
        return Problem(item.archive_code, "changed", anchor, f"审计锚点与归档记录（审计序号 {item.anchor_seq}）不符")
    return None


def catalogue_rows(items: list[ArchiveItem], classification: str = "year-retention-dept") -> list[dict[str, Any]]:
    """归档文件目录: 序号, 档号, 文号, 责任者, 题名, 日期 (YYYYMMDD), 密级, 页数, 备注 — in class order."""
    order = {"Y": 0, "D30": 1, "D10": 2}
    by_dept_first = classification == YEAR_DEPT_RETENTION

    def key(i: ArchiveItem) -> tuple[Any, ...]:
        if by_dept_first:
            return (i.year, i.dept_code, order[i.retention], i.item_no)
        return (i.year, order[i.retention], i.dept_code, i.item_no)

    return [
        {
            "序号": n,
            "档号": i.archive_code,
            "文号": i.doc_number or "",
            "责任者": i.responsible,
            "题名": i.title,
            "日期": i.dated.strftime("%Y%m%d"),
            "密级": i.security or "",
            "页数": i.pages,
            "备注": i.note or "",
        }
        for n, i in enumerate(sorted(items, key=key), start=1)
    ]


CATALOGUE_COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
