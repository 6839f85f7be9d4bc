"""The audit trail (审计记录): one way to write an event, and the hash chain that makes it tamper-evident.

Every :class:`~gongwen_engine.models.tables.AuditEvent` carries ``seq`` (its position in one
gap-free chain, unique) and ``chain_hash`` = SHA-256 of the previous record's ``chain_hash``
followed by the canonical JSON of this record (:func:`canonical`). Editing a record breaks its
own hash; deleting one leaves a gap in ``seq`` and breaks the next link; a record slipped in
between breaks the link of the record after it. ``gongwen audit verify`` (:func:`verify_chain`)
walks the chain and names each break; the head is also anchored outside the database — in daily
checkpoint files (:func:`write_checkpoint`) and in each archive item's folder (:func:`write_item_anchor`,
the item's own 'archived' record) — and :func:`verify_anchors` holds them against the chain, so
cutting off the last records or recomputing the whole chain is found too.

**Where the chain is computed (one place).** Code only *adds* ``AuditEvent`` rows
(:func:`record`). At commit, :func:`chain_new_records` flushes the whole transaction first, then
takes the chain's serialisation point as the *last* lock of the transaction, reads the head
(highest ``seq``), numbers this transaction's new rows in id order and lets the commit proceed;
the lock ends with the commit. Taking it last means a transaction never waits for the chain
while holding the chain and wanting a circulation row lock, so the chain adds no deadlock.

* PostgreSQL: ``pg_advisory_xact_lock(CHAIN_LOCK_KEY)`` (READ COMMITTED, so the head read after
  the lock sees every committed record).
* SQLite: one writer at a time already. A writing transaction begins with ``BEGIN IMMEDIATE``
  (``db.transaction``), so it holds the write lock before the head read and nobody can commit a
  record in between. (A deferred session whose snapshot went stale cannot write at all: SQLite
  refuses it, "database is locked", rather than let it fork the chain; ``seq`` is unique too.)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table, event, inspect, text
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from gongwen_engine.config.files import write_atomically
from gongwen_engine.models.tables import AuditEvent, Circulation, utcnow

GENESIS = "0" * 64  # the "previous hash" of the first record
CHAIN_LOCK_KEY = 0x676F6E6777656E  # "gongwen": the advisory lock that serialises chain appends (PostgreSQL)
_PENDING = "gongwen_audit_flushed"  # session.info: records flushed before the commit numbered them
_ON_CHAINED = "gongwen_audit_on_chained"  # session.info: (record, callback) to call once the record is numbered
_UNRECORDED = "gongwen_audit_unrecorded"  # session.info: (record, the transaction or savepoint it was made in), not yet in the session


# ---- writing ------------------------------------------------------------------------------------------


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    org: str | None = None,
    circulation_id: int | None = None,
    document_id: int | None = None,
    step: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit record to the session's transaction; it is chained when the transaction commits.

    Inside a transaction the record waits outside the session until then (``_UNRECORDED``): the
    commit inserts it once, numbered, with the others (one statement), instead of an early flush
    inserting it and the commit updating it again. ``events_about`` reads them with the stored ones."""
    row = AuditEvent(
        actor=actor, action=action, org=org, circulation_id=circulation_id, document_id=document_id, step=step, detail=dict(detail or {}), at=at or utcnow()
    )
    if session.in_transaction():
        session.info.setdefault(_UNRECORDED, []).append((row, session.get_nested_transaction() or session.get_transaction()))
    else:
        session.add(row)
    return row


def events_about(session: Session, circulation_id: int, action: str | None = None) -> list[AuditEvent]:
    """The circulation's audit records (of ``action``), oldest first: those stored, then those this
    transaction has recorded and its commit will insert."""
    stmt = select(AuditEvent).where(AuditEvent.circulation_id == circulation_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    stored = list(session.exec(stmt.order_by(col(AuditEvent.id))))
    waiting = [row for row, _ in session.info.get(_UNRECORDED, ()) if row.circulation_id == circulation_id and action in (None, row.action)]
    return stored + waiting


def record_about(
    session: Session, actor: str, action: str, circ: Circulation | None, document_id: int | None, step: str | None, detail: dict[str, Any]
) -> AuditEvent:
    """An audit record about ``circ`` (its organisation and id are the record's), or about none."""
    return record(
        session, actor, action, org=circ.org if circ else None, circulation_id=circ.id if circ else None, document_id=document_id, step=step, detail=detail
    )


# ---- the hash ----------------------------------------------------------------------------------------


class AuditFields(Protocol):
    """What the hash covers: an AuditEvent, or a row read by the migration that chains old records."""

    at: datetime
    actor: str
    action: str
    org: str | None
    circulation_id: int | None
    document_id: int | None
    step: str | None
    detail: dict[str, Any]


def canonical(row: AuditFields) -> bytes:
    """The record's fields as canonical JSON (sorted keys, no spaces, UTF-8): what the hash covers."""
    at = row.at if row.at.utcoffset() is not None else row.at.replace(tzinfo=UTC)
    fields = {
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "action": row.action,
        "org": row.org,
        "circulation_id": row.circulation_id,
        "document_id": row.document_id,
        "step": row.step,
        "detail": row.detail,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def link_hash(previous: str, row: AuditFields) -> str:
    """SHA-256 over the previous record's chain hash followed by this record's canonical JSON."""
    return hashlib.sha256(previous.encode("ascii") + canonical(row)).hexdigest()


def chain(rows: Iterable[AuditEvent], head_seq: int, head_hash: str) -> tuple[int, str]:
    """Give ``rows`` (in order) the next positions after the head; return the new head."""
    for row in rows:
        head_seq += 1
        row.seq, row.chain_hash = head_seq, link_hash(head_hash, row)
        head_hash = row.chain_hash
    return head_seq, head_hash


_HEAD = sa_select(col(AuditEvent.seq), col(AuditEvent.chain_hash)).where(col(AuditEvent.seq).is_not(None)).order_by(col(AuditEvent.seq).desc()).limit(1)


def chain_head(session: Session) -> tuple[int, str]:
    """(seq, chain_hash) of the last chained record, or (0, GENESIS) for an empty trail."""
    head = session.connection().execute(_HEAD).first()  # Core, one cached statement: this runs under the chain lock
    if head is None:
        return 0, GENESIS
    seq, chain_hash = head
    assert seq is not None and chain_hash is not None  # _HEAD reads chained records only
    return seq, chain_hash


# ---- the commit hook (the one place the chain is extended) -------------------------------------------


def _new_records(session: Session) -> list[AuditEvent]:
    return [obj for obj in session.new if isinstance(obj, AuditEvent)]


@event.listens_for(Session, "before_flush")
def _note_flushed_records(session: Session, _context: Any, _instances: Any) -> None:
    """Remember the records an early flush (autoflush) inserts before the commit numbers them."""
    if records := [row for row in _new_records(session) if row.seq is None]:
        session.info.setdefault(_PENDING, []).extend(records)


_COLUMNS = ("at", "actor", "action", "org", "circulation_id", "document_id", "step", "detail", "seq", "chain_hash")
_INSERT = sa_insert(AuditEvent)


@event.listens_for(Session, "before_commit")
def chain_new_records(session: Session) -> None:
    """Number and link the audit records this transaction added (nothing if there are none).

    Runs at every commit (the hook); ``db.transaction`` also calls it just before COMMIT, so that
    a fault here is a plain failure of the unit of work, not a commit whose outcome is unknown."""
    if session.in_nested_transaction():
        return  # a savepoint: the outermost commit chains
    added = sorted(_new_records(session), key=lambda row: inspect(row).insert_order)
    waiting = [row for row, _ in session.info.pop(_UNRECORDED, [])]  # ``record``'s, never in the session
    unflushed = added + waiting
    flushed = [row for row in session.info.pop(_PENDING, []) if row.seq is None and inspect(row).persistent and row in session]
    if not unflushed and not flushed:
        return
    # Every other write (and its row locks) first, so the chain's lock is the last one taken;
    # the new records wait outside the session and are inserted already numbered.
    for row in added:
        session.expunge(row)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    chained = sorted(flushed, key=lambda row: row.id) + unflushed
    chain(chained, *chain_head(session))
    for row, callback in session.info.pop(_ON_CHAINED, []):
        if any(row is r for r in chained):  # not one a rolled-back savepoint dropped
            assert row.seq is not None and row.chain_hash is not None
            callback(row.seq, row.chain_hash)
    session.add_all(added)
    session.flush()  # inserted, and the early ones updated, while the chain lock is held
    if waiting:  # one executemany, in chain order (their ids follow it); the objects stay out of the session
        session.connection().execute(_INSERT, [{name: getattr(row, name) for name in _COLUMNS} for row in waiting])


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, rolled_back: Any) -> None:
    """A rolled-back savepoint (``Engine.run_steps``) takes the records made inside it along."""
    if waiting := session.info.get(_UNRECORDED):
        waiting[:] = [(row, made_in) for row, made_in in waiting if not _inside(made_in, rolled_back)]


def _inside(transaction: Any, outer: Any) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_ON_CHAINED, None)
        session.info.pop(_UNRECORDED, None)


def when_chained(session: Session, row: AuditEvent, callback: Callable[[int, str], None]) -> None:
    """Call ``callback(seq, chain_hash)`` when the commit numbers ``row`` (a record this transaction
    added), still inside the transaction and under the chain lock: what it writes (an archive item's
    anchor) belongs to the same unit of work, and a failure in it rolls the transaction back."""
    session.info.setdefault(_ON_CHAINED, []).append((row, callback))


# ---- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """One break in the chain, described for a person (Chinese) and for a script."""

    kind: str  # edited | deleted | inserted | unchained
    seq: int | None
    id: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "id": self.id, "message": self.message}


@dataclass
class ChainReport:
    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "head": {"seq": self.head_seq, "chain_hash": self.head_hash},
            "breaks": [b.as_dict() for b in self.breaks],
        }


class ChainedRow(AuditFields, Protocol):
    id: int
    seq: int
    chain_hash: str


# SQLModel sets __table__ on every table model but does not declare it (sqlmodel 0.0.50).
_TABLE: Table = AuditEvent.__table__  # type: ignore[attr-defined]


def _rows_by_seq(session: Session, batch: int = 5000) -> Iterator[ChainedRow]:
    """The chained records in chain order, read as plain rows (no ORM objects) in batches, keyset on seq."""
    after = 0
    while True:
        rows = session.connection().execute(sa_select(_TABLE).where(_TABLE.c.seq > after).order_by(_TABLE.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain from the first record; report every edited, deleted or inserted record."""
    report = ChainReport()
    previous: ChainedRow | None = None
    before_previous_hash: str | None = None
    for row in _rows_by_seq(session):
        report.records += 1
        expected_seq = previous.seq + 1 if previous else 1
        previous_hash = previous.chain_hash if previous else GENESIS
        where = f"序号 {row.seq}（id {row.id}，{row.action}，{row.actor}）"
        if row.seq != expected_seq:
            missing = f"序号 {expected_seq}" if row.seq == expected_seq + 1 else f"序号 {expected_seq}–{row.seq - 1}"
            report.breaks.append(ChainBreak("deleted", expected_seq, None, f"{missing} 的审计记录缺失：记录被删除（链在{where}之前断开）。"))
        elif link_hash(previous_hash, row) != row.chain_hash:
            if before_previous_hash is not None and link_hash(before_previous_hash, row) == row.chain_hash:
                assert previous is not None
                report.breaks = [b for b in report.breaks if b.seq != previous.seq]  # its own mismatch is the same finding
                report.breaks.append(
                    ChainBreak(
                        "inserted",
                        previous.seq,
                        previous.id,
                        f"序号 {previous.seq}（id {previous.id}，{previous.action}，{previous.actor}）是插入的审计记录：其后的{where}链接到它之前的记录。",
                    )
                )
            else:
                report.breaks.append(
                    ChainBreak("edited", row.seq, row.id, f"{where}的内容与链上哈希不符：该记录被修改过（或其前一条记录被删除后序号被重排）。")
                )
        before_previous_hash, previous = previous_hash, row
    if previous is not None:
        report.head_seq, report.head_hash = previous.seq, previous.chain_hash
    for unchained in session.exec(select(AuditEvent).where(col(AuditEvent.seq).is_(None)).order_by(col(AuditEvent.id))):
        report.records += 1
        report.breaks.append(
            ChainBreak(
                "unchained",
                None,
                unchained.id,
                f"id {unchained.id}（{unchained.action}，{unchained.actor}）不在链上（没有序号和哈希）：该记录是绕过系统插入的。",
            )
        )
    return report


# ---- the head anchored outside the database ---------------------------------------------------------
#
# A chain verified from its first record cannot see its *last* records cut off, nor a chain
# recomputed from scratch. So the head (seq, chain_hash) is also written to checkpoint files
# outside the database (one per day, under GONGWEN_HOME/audit-checkpoints): 归档 writes the head
# it found (``refresh_checkpoint``: when the day's file is missing or older than
# ``CHECKPOINT_INTERVAL``), and each intact ``gongwen audit verify`` the head it verified.
# ``verify_anchors`` holds every checkpoint against the database. Between two checkpoints of a
# filing day the tail is anchored by each item's own anchor (below), which records a later seq
# than any checkpoint a filing could write (its own 'archived' record, numbered at its commit).

CHECKPOINT_FOLDER = "audit-checkpoints"
CHECKPOINT_INTERVAL = 60.0  # seconds: 归档 refreshes the day's checkpoint at most this often (an fsync and a read of the folder each)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    seq: int
    chain_hash: str


def checkpoint_path(folder: Path, day: date) -> Path:
    """The file of ``day``'s checkpoint in ``folder``."""
    return folder / f"{day.isoformat()}.json"


def write_checkpoint(folder: Path, seq: int, chain_hash: str, day: date) -> None:
    """Record the head (``seq``, ``chain_hash``) in ``folder/DAY.json`` (a later head of the same
    day replaces an earlier one; a lower one never replaces a higher one)."""
    if seq <= 0:
        return
    path = checkpoint_path(folder, day)
    if path.is_file() and _read_checkpoint(path).seq >= seq:
        return
    data = {"seq": seq, "chain_hash": chain_hash, "written_at": utcnow().isoformat()}
    write_atomically(json.dumps(data, ensure_ascii=False).encode("utf-8"), path)


def refresh_checkpoint(folder: Path, head: Callable[[], tuple[int, str]], day: date, interval: float = CHECKPOINT_INTERVAL) -> bool:
    """归档's checkpoint: ``write_checkpoint`` of the head (``head()``, read only then) when the
    day's file is missing or was last written more than ``interval`` seconds ago. Filings come
    by the thousand in a busy hour; each anchors its own record in its folder (a later seq than
    this head), so the day's checkpoint, the copy of the head kept apart from the archive, is
    renewed once a minute rather than at every filing. Returns whether it was written."""
    try:
        age = time.time() - checkpoint_path(folder, day).stat().st_mtime
    except FileNotFoundError:
        age = None
    if age is not None and 0 <= age < interval:
        return False
    write_checkpoint(folder, *head(), day)
    return True


def read_checkpoints(folder: Path) -> list[Checkpoint]:
    return [_read_checkpoint(path) for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path`` (``seq`` -1: it cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint(path, int(data["seq"]), str(data["chain_hash"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Checkpoint(path, -1, "")


def verify_anchors(session: Session, report: ChainReport, folder: Path, archive_area: Path | None = None) -> None:
    """Add to ``report`` every anchor the database contradicts — the daily checkpoints in ``folder``
    and the item anchors under ``archive_area``: its record gone (the end of the chain cut off) or
    with another hash (the chain rewritten); and every anchor that cannot be read."""
    held: list[tuple[int, str, str, str]] = []  # seq, chain hash, the anchor's name, what it recorded
    for anchor in read_checkpoints(folder):
        if anchor.seq < 0:
            report.breaks.append(ChainBreak("anchor", None, None, f"检查点文件 {anchor.path} 无法读取（内容被改动或损坏）。"))
        else:
            held.append((anchor.seq, anchor.chain_hash, f"检查点（{anchor.path.name}）", "链头"))
    for item in read_item_anchors(archive_area) if archive_area is not None else []:
        if item.seq < 0:
            report.breaks.append(
                ChainBreak("anchor", None, None, f"档号 {item.archive_code} 的审计锚点文件 {item.path} 无法读取（内容被改动、损坏或与所在档号不符）。")
            )
        else:
            held.append((item.seq, item.chain_hash, f"档号 {item.archive_code} 的审计锚点（{item.path.name}）", "该件归档时的审计记录"))
    hashes = _hashes_at(session, sorted({seq for seq, *_ in held}))
    for seq, chain_hash, name, what in held:
        if seq not in hashes and seq > report.head_seq:
            report.breaks.append(
                ChainBreak(
                    "truncated",
                    seq,
                    None,
                    f"审计记录链尾被截去：{name}记下{what}为序号 {seq}，而数据库中的链只到序号 {report.head_seq}"
                    f"（序号 {report.head_seq + 1}–{seq} 的记录被删除）。",
                )
            )
        elif hashes.get(seq) != chain_hash:
            report.breaks.append(ChainBreak("rewritten", seq, None, f"序号 {seq} 的哈希与{name}不符：审计记录链被重算或替换过。"))


def _hashes_at(session: Session, seqs: list[int], batch: int = 500) -> dict[int, str | None]:
    """The chain hash of each of ``seqs`` that is in the database."""
    found: dict[int, str | None] = {}
    for i in range(0, len(seqs), batch):
        rows = session.connection().execute(sa_select(_TABLE.c.seq, _TABLE.c.chain_hash).where(_TABLE.c.seq.in_(seqs[i : i + batch]))).all()
        found.update((row.seq, row.chain_hash) for row in rows)
    return found


# ---- the item anchor: an archive item's own 'archived' record, in the item's folder ---------------------
#
# Each item filed writes, in its folder next to the filed copies, the (seq, chain_hash) its
# 'archived' audit record received at the commit that filed it (the same transaction). Items are
# kept for decades and copied with the archive, so the chain's head at every filing stays
# anchored wherever the archive goes. Items filed before anchors existed simply have none.

ITEM_ANCHOR = "audit-anchor.json"  # the file's name in every archive item's folder


@dataclass(frozen=True)
class ItemAnchor:
    path: Path
    archive_code: str  # the folder's name; the file records it too
    seq: int  # -1: the file cannot be read, or names another item
    chain_hash: str


def item_anchor_bytes(archive_code: str, seq: int, chain_hash: str) -> bytes:
    """The anchor file's content (its exact bytes follow from the three values: ``archive verify``
    compares them with the item's record)."""
    data = {"archive_code": archive_code, "audit_seq": seq, "chain_hash": chain_hash}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def write_item_anchor(folder: Path, archive_code: str, seq: int, chain_hash: str) -> Path:
    """Write the anchor of the item filed in ``folder``; returns its path."""
    path = folder / ITEM_ANCHOR
    write_atomically(item_anchor_bytes(archive_code, seq, chain_hash), path)
    return path


def read_item_anchor(path: Path) -> ItemAnchor:
    """The anchor at ``path`` (``seq`` -1 if it cannot be read or names an item other than its folder's)."""
    code = path.parent.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seq, chain_hash = int(data["audit_seq"]), str(data["chain_hash"])
        if data["archive_code"] != code or seq <= 0 or len(chain_hash) != len(GENESIS):
            raise ValueError(path)
        return ItemAnchor(path, code, seq, chain_hash)
    except (OSError, ValueError, KeyError, TypeError):
        return ItemAnchor(path, code, -1, "")


def read_item_anchors(archive_area: Path) -> list[ItemAnchor]:
    """Every item anchor under the archive area (``{fonds}/{year}/{archive code}/`` + :data:`ITEM_ANCHOR`)."""
    return [read_item_anchor(path) for path in sorted(archive_area.glob(f"*/*/*/{ITEM_ANCHOR}"))] if archive_area.is_dir() else []
