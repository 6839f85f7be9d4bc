"""The invariants every database must hold, however often processes were killed, restarted or
raced: one function (``check_invariants``) used by ``gongwen check-invariants``, the reliability
campaigns (``benchmarks/crash_campaign.py``) and the tests.

* **documents**: every numbered document has exactly one number row and its file with the
  recorded digest, and so has every file a circulation recorded (records, sealed PDFs); with an
  expected chain (``root``), every organisation below the root that has subordinates issued
  exactly one forwarding notice, the root exactly one notice, and every organisation of the
  tree has exactly one circulation of the chain;
* **numbers**: per sequence and year (发文字号 per prefix, 收文登记号 per organisation, archive
  item numbers per class) the serials run from the first one without a gap or a duplicate and
  the counter stands at the last one; a voided number keeps its reason;
* **deliveries, registrations, archive items**: each exactly once (per document and recipient,
  per organisation and document, per circulation); a distributed document reached every
  subordinate; ``archive verify`` finds no changed, missing or extra file;
* **audit trail**: every finished step of every circulation has exactly one ``step:`` record,
  the records follow the flow from its start, and a finished circulation's last step leads to
  the end; the audit records' hash chain is unbroken (``models/audit.py`` ``verify_chain``:
  no record edited, deleted or inserted) and agrees with its anchors outside the database (the
  daily checkpoints and every archive item's ``audit-anchor.json``: ``verify_anchors``);
* **circulations**: none failed; with ``expect_finished`` none is left unfinished.

Each finding is a :class:`Violation` (rule, where, detail); the report also says how much was
looked at.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from gongwen_engine.flows.actions.archiving import ARCHIVE_AREA
from gongwen_engine.flows.actions.archiving import verify as archive_verify
from gongwen_engine.flows.engine.definition import END, StepKind
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.audit import checkpoint_folder
from gongwen_engine.flows.services.leftovers import find_leftovers
from gongwen_engine.models.audit import verify_anchors, verify_chain
from gongwen_engine.models.rules.archive import item_sequence
from gongwen_engine.models.rules.doc_numbers import register_sequence
from gongwen_engine.models.rules.recipients import of_content
from gongwen_engine.models.tables import (
    ArchiveItem,
    AuditEvent,
    Circulation,
    CirculationFile,
    CirculationStatus,
    Delivery,
    Document,
    IssuedNumber,
    NumberCounter,
    Registration,
    WorkItem,
    WorkItemStatus,
)

CHAIN_FLOWS = ("issuing", "forwarding")  # the flows a notice goes down the tree with
STEP_ACTION = "step:"


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which rule, where (a document number, an organisation, a circulation), what."""

    rule: str
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.rule}: {self.where}" + (f" — {self.detail}" if self.detail else "")


@dataclass
class InvariantReport:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, rule: str, where: str, detail: str = "") -> None:
        self.violations.append(Violation(rule, where, detail))

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "violations": [asdict(v) for v in self.violations]}

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


@dataclass
class _Rows:
    """Everything the checks read, loaded once."""

    circulations: list[Circulation]
    documents: list[Document]
    numbers: list[IssuedNumber]
    counters: dict[tuple[str, int], int]
    deliveries: list[Delivery]
    registrations: list[Registration]
    items: list[ArchiveItem]
    work_items: list[WorkItem]
    files: list[CirculationFile]
    step_events: list[AuditEvent]
    not_filed: set[int]


def _load(session: Session) -> _Rows:
    return _Rows(
        circulations=list(session.exec(select(Circulation).order_by(col(Circulation.id)))),
        documents=list(session.exec(select(Document).order_by(col(Document.id)))),
        numbers=list(session.exec(select(IssuedNumber).order_by(col(IssuedNumber.id)))),
        counters={(c.sequence, c.year): c.last for c in session.exec(select(NumberCounter))},
        deliveries=list(session.exec(select(Delivery).order_by(col(Delivery.id)))),
        registrations=list(session.exec(select(Registration).order_by(col(Registration.id)))),
        items=list(session.exec(select(ArchiveItem).order_by(col(ArchiveItem.id)))),
        work_items=list(session.exec(select(WorkItem).where(WorkItem.status == WorkItemStatus.done).order_by(col(WorkItem.id)))),
        files=list(session.exec(select(CirculationFile).order_by(col(CirculationFile.id)))),
        step_events=list(session.exec(select(AuditEvent).where(AuditEvent.action.startswith(STEP_ACTION)).order_by(col(AuditEvent.id)))),
        not_filed={cid for cid in session.exec(select(AuditEvent.circulation_id).where(AuditEvent.action == "not_filed")) if cid is not None},
    )


def check_invariants(engine: Engine, root: str | None = None, expect_finished: bool = False, manifest: Path | None = None) -> InvariantReport:
    """Check every invariant of ``engine``'s database and storage (see the module docstring).

    ``root``: the organisation whose notice went down the tree (e.g. ``acwf``): every
    organisation below it must hold its share of the chain exactly once. ``expect_finished``:
    every circulation must be done. ``manifest``: a ``manifest.json`` to hold against the database."""
    report = InvariantReport()
    with Session(engine.db) as session:
        rows = _load(session)
        checked_files, problems = archive_verify(session, engine.storage)
        chain = verify_chain(session)
        verify_anchors(session, chain, checkpoint_folder(engine), engine.storage / ARCHIVE_AREA)  # the head anchored outside the database
    _circulations(report, rows, expect_finished)
    _documents(report, rows, engine.storage)
    _circulation_files(report, rows, engine.storage)
    _numbers(report, rows, engine)
    _deliveries(report, rows, engine)
    _registrations(report, rows, engine)
    _archive(report, rows, engine, checked_files, problems)
    _audit(report, rows, engine)
    for broken in chain.breaks:
        report.add(f"audit_chain_{broken.kind}", f"audit seq {broken.seq} (id {broken.id})", broken.message)
    for leftover in find_leftovers(engine.settings):
        report.add("leftover", str(leftover.path), leftover.what)
    if root:
        _chain(report, rows, engine, root, expect_finished)
    if manifest is not None:
        _manifest(report, rows, manifest, engine.storage)
    report.checked.update(
        circulations=len(rows.circulations),
        documents=sum(1 for d in rows.documents if d.doc_number),
        numbers=len(rows.numbers),
        deliveries=len(rows.deliveries),
        registrations=len(rows.registrations),
        archive_items=len(rows.items),
        archive_files=checked_files,
        audit_steps=len(rows.step_events),
        circulation_files=len(rows.files),
        audit_chain_records=chain.records,
    )
    return report


# ---- circulations ---------------------------------------------------------------------------------


def _circulations(report: InvariantReport, rows: _Rows, expect_finished: bool) -> None:
    for (org, received), n in Counter((c.org, c.received_id) for c in rows.circulations if c.received_id).items():
        if n > 1:
            report.add("circulation_duplicate", f"{org}", f"{n} circulations for received document {received}")
    for c in rows.circulations:
        if c.status == CirculationStatus.failed:
            report.add("circulation_failed", f"circulation {c.id} ({c.org})", f"step {c.step}: {c.error or ''}"[:300])
        elif expect_finished and c.status != CirculationStatus.done:
            report.add("circulation_unfinished", f"circulation {c.id} ({c.org})", f"{c.status} at step {c.step}")


# ---- documents and numbers --------------------------------------------------------------------------


def _documents(report: InvariantReport, rows: _Rows, storage: Path) -> None:
    numbers_of = defaultdict(list)
    for n in rows.numbers:
        if n.document_id is not None:
            numbers_of[n.document_id].append(n)
    for number, count in Counter(d.doc_number for d in rows.documents if d.doc_number).items():
        if count > 1:
            report.add("document_duplicate", number, f"{count} documents carry this number")
    for doc in rows.documents:
        if not doc.doc_number:
            continue
        assert doc.id is not None  # read from the database
        mine = numbers_of.get(doc.id, [])
        if doc.circulation_id is None and not mine:  # received from outside (收文): numbered by its sender
            pass
        elif len(mine) != 1 or mine[0].doc_number != doc.doc_number:  # voided and kept with its document: withdrawn (作废), accepted
            report.add("document_number_record", doc.doc_number, f"document {doc.id} has {len(mine)} number rows {[n.doc_number for n in mine]}")
        if doc.file:
            path = storage / doc.file
            if not path.is_file():
                report.add("document_file_missing", doc.doc_number, doc.file)
            elif doc.sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != doc.sha256:
                report.add("document_file_changed", doc.doc_number, f"{doc.file}: sha256 differs from the one recorded")


def _circulation_files(report: InvariantReport, rows: _Rows, storage: Path) -> None:
    """Files written outside the step's transaction (records, sealed PDFs) are what was committed."""
    for f in rows.files:
        path = storage / f.file
        where = f"circulation {f.circulation_id} {f.role}"
        if not path.is_file():
            report.add("circulation_file_missing", where, f.file)
        elif hashlib.sha256(path.read_bytes()).hexdigest() != f.sha256:
            report.add("circulation_file_changed", where, f"{f.file}: sha256 differs from the one recorded")


def _contiguous(report: InvariantReport, rule: str, where: str, serials: list[int], start: int, counter: int | None) -> None:
    """Serials of one sequence and year: no duplicate, no gap from ``start``, the counter at the last."""
    for serial, n in Counter(serials).items():
        if n > 1:
            report.add(f"{rule}_duplicate", where, f"serial {serial} {n} times")
    present = set(serials)
    last = max(present, default=start - 1)
    if counter is not None and counter != last:
        report.add(f"{rule}_counter", where, f"the counter stands at {counter}, the last serial recorded is {last}")
        last = max(last, counter)
    missing = [s for s in range(start, last + 1) if s not in present]
    if missing:
        report.add(f"{rule}_gap", where, f"missing serial(s) {_spans(missing)}")
    below = sorted(s for s in present if s < start)
    if below:
        report.add(f"{rule}_gap", where, f"serial(s) {_spans(below)} below the first serial {start}")


def _spans(values: Iterable[int]) -> str:
    out: list[str] = []
    for v in sorted(values):
        if out and out[-1].split("–")[-1] == str(v - 1):
            out[-1] = f"{out[-1].split('–')[0]}–{v}"
        else:
            out.append(str(v))
    return ", ".join(out)


def _numbers(report: InvariantReport, rows: _Rows, engine: Engine) -> None:
    by_sequence: dict[tuple[str, int], list[int]] = defaultdict(list)
    for n in rows.numbers:
        by_sequence[(n.prefix, n.year)].append(n.serial)
        if n.voided and not (n.void_reason or "").strip():
            report.add("number_voided_without_reason", n.doc_number)
        if not n.voided and n.document_id is None:
            report.add("number_unassigned", n.doc_number, "allocated, not voided, attached to no document")
    prefixes = {p for o in engine.config.organisations.values() for p in o.prefixes}
    for prefix, year in rows.counters:
        if prefix in prefixes and (prefix, year) not in by_sequence:
            by_sequence[(prefix, year)] = []  # a counter moved with no number recorded: every serial is a gap
    for (prefix, year), serials in sorted(by_sequence.items()):
        _contiguous(report, "number", f"{prefix}〔{year}〕", serials, engine.config.start_of(prefix, year), rows.counters.get((prefix, year)))


# ---- deliveries and registrations ---------------------------------------------------------------


def _done_steps(rows: _Rows) -> dict[int, Counter[str]]:
    done: dict[int, Counter[str]] = defaultdict(Counter)
    for item in rows.work_items:
        done[item.circulation_id][item.step] += 1
    return done


def _done_kinds(rows: _Rows, engine: Engine) -> dict[int, set[StepKind]]:
    """The kinds of step each circulation finished (its flow's ``kind:``, whatever the steps are named)."""
    flows = {c.id: engine.definition_of(c) if c.flow in engine.flows else None for c in rows.circulations}
    done: dict[int, set[StepKind]] = defaultdict(set)
    for item in rows.work_items:
        flow = flows.get(item.circulation_id)
        if flow is not None and item.step in flow.steps:
            done[item.circulation_id].add(flow.steps[item.step].kind)
    return done


def _deliveries(report: InvariantReport, rows: _Rows, engine: Engine) -> None:
    docs = {d.id: d for d in rows.documents}
    for (doc_id, recipient), n in Counter((d.document_id, d.recipient) for d in rows.deliveries).items():
        if n > 1:
            report.add("delivery_duplicate", _doc_label(docs, doc_id), f"delivered to {recipient} {n} times")
    delivered = {(d.document_id, d.recipient) for d in rows.deliveries}
    circulating = {(c.received_id, c.org) for c in rows.circulations if c.received_id}
    for doc_id, recipient in sorted(delivered - circulating):
        report.add("delivery_without_circulation", _doc_label(docs, doc_id), f"{recipient} received it but runs no circulation for it")
    for c in rows.circulations:
        if c.parent_id is not None and c.received_id and (c.received_id, c.org) not in delivered:
            report.add("circulation_without_delivery", f"circulation {c.id} ({c.org})", f"no delivery of {_doc_label(docs, c.received_id)}")
    done = _done_kinds(rows, engine)
    for c in rows.circulations:
        assert c.id is not None  # read from the database
        if StepKind.distribute not in done[c.id] or not c.document_id:
            continue
        doc = docs.get(c.document_id)
        if doc is None:
            continue
        resolved = of_content(engine.config, c.org, doc.content)  # the signed version's 主送 and 抄送: what must be delivered
        expected = resolved.codes
        got = {r for d, r in delivered if d == c.document_id}
        for code in sorted(expected - got):
            report.add("delivery_missing", _doc_label(docs, c.document_id), f"not delivered to {code}")
        for code in sorted(got - expected):
            report.add("delivery_unexpected", _doc_label(docs, c.document_id), f"delivered to {code}, which its 主送/抄送 do not name")
        copies = {d.recipient for d in rows.deliveries if d.document_id == c.document_id and getattr(d, "as_copy", False)}
        for code in sorted(copies ^ (resolved.copy_codes & got)):
            how = "a copy" if code in copies else "for handling"
            report.add("delivery_copy_mismatch", _doc_label(docs, c.document_id), f"{code}: delivered as {how}, printed otherwise")


def _registrations(report: InvariantReport, rows: _Rows, engine: Engine) -> None:
    for (org, doc_id), n in Counter((r.org, r.document_id) for r in rows.registrations).items():
        if n > 1:
            report.add("registration_duplicate", org, f"document {doc_id} registered {n} times")
    registered = {(r.org, r.document_id) for r in rows.registrations}
    done = _done_kinds(rows, engine)
    for c in rows.circulations:
        assert c.id is not None  # read from the database
        if StepKind.register in done[c.id] and c.received_id and (c.org, c.received_id) not in registered:
            report.add("registration_missing", f"circulation {c.id} ({c.org})", f"registered (step done) but no registration of document {c.received_id}")
    serials: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in rows.registrations:
        serials[(r.org, r.year)].append(r.serial)
    for (org, year), values in sorted(serials.items()):
        _contiguous(report, "register_number", f"{org} 收〔{year}〕", values, 1, rows.counters.get((register_sequence(org), year)))


# ---- archive --------------------------------------------------------------------------------------


def _archive(report: InvariantReport, rows: _Rows, engine: Engine, checked_files: int, problems: list) -> None:
    for cid, n in Counter(i.circulation_id for i in rows.items if i.circulation_id is not None).items():
        if n > 1:
            report.add("archive_item_duplicate", f"circulation {cid}", f"{n} archive items")
    filed = {i.circulation_id for i in rows.items}
    done = _done_kinds(rows, engine)
    for c in rows.circulations:
        assert c.id is not None  # read from the database
        if StepKind.archive in done[c.id] and c.id not in filed and c.id not in rows.not_filed:
            report.add("archive_item_missing", f"circulation {c.id} ({c.org})", "filed (step done) but no archive item and no not_filed record")
    classes: dict[tuple[str, int, str, str], list[int]] = defaultdict(list)
    for i in rows.items:
        if i.circulation_id is not None:  # items imported from a transfer package keep their sender's numbers
            classes[(i.fonds, i.year, i.retention, i.dept_code)].append(i.item_no)
    for (fonds, year, retention, dept), values in sorted(classes.items()):
        _contiguous(
            report, "archive_item_no", f"{fonds}·{year}-{retention}-{dept}", values, 1, rows.counters.get((item_sequence(fonds, retention, dept), year))
        )
    for p in problems:
        report.add(f"archive_file_{p.kind}", p.archive_code, f"{p.file} {p.detail}".strip())


# ---- audit trail --------------------------------------------------------------------------------------


def _audit(report: InvariantReport, rows: _Rows, engine: Engine) -> None:
    events: dict[int, list[AuditEvent]] = defaultdict(list)
    for e in rows.step_events:
        if e.circulation_id is not None:
            events[e.circulation_id].append(e)
    done = _done_steps(rows)
    for c in rows.circulations:
        assert c.id is not None  # read from the database
        where = f"circulation {c.id} ({c.org})"
        trail = events.get(c.id, [])
        recorded = Counter(e.step for e in trail if e.step is not None)  # every step: event names its step
        for step in sorted(set(recorded) | set(done[c.id])):
            if recorded[step] < done[c.id][step]:
                report.add("audit_step_missing", where, f"step {step}: {done[c.id][step]} done, {recorded[step]} audited")
            elif recorded[step] > done[c.id][step]:
                report.add("audit_step_duplicate", where, f"step {step}: {recorded[step]} audited, {done[c.id][step]} done")
        if c.flow not in engine.flows:
            continue
        _follows_flow(report, where, engine.definition_of(c), trail, c)


def _follows_flow(report: InvariantReport, where: str, flow, trail: list[AuditEvent], circ: Circulation) -> None:
    """The audited steps walk the flow: from its start, each to a step its outcome leads to."""
    if not trail:
        if circ.status == CirculationStatus.done:
            report.add("audit_trail_empty", where, "finished without a single audited step")
        return
    if trail[0].step != flow.start:
        report.add("audit_trail_start", where, f"first audited step {trail[0].step}, the flow starts at {flow.start}")
    expected_next: str | None = None
    for prev, event in zip([None, *trail], trail, strict=False):  # each event with the one before it (None first)
        if prev is not None and event.step != prev.step and event.step != expected_next:
            report.add("audit_trail_order", where, f"{prev.step} ({prev.detail.get('outcome')}) is followed by {event.step}, expected {expected_next}")
            return
        try:
            expected_next = flow.step(event.step).next_after(event.detail.get("outcome", "done"))
        except (KeyError, ValueError) as exc:
            report.add("audit_trail_order", where, f"step {event.step}: {exc}")
            return
    if circ.status == CirculationStatus.done and expected_next != END:
        report.add("audit_trail_end", where, f"done, but the last audited step {trail[-1].step} leads to {expected_next}")


# ---- the expected chain and the manifest ---------------------------------------------------------------


def _subtree(engine: Engine, root: str) -> list[str]:
    todo, out = [root], []
    while todo:
        code = todo.pop()
        out.append(code)
        todo.extend(c.code for c in engine.config.children(code))
    return out


def _chain(report: InvariantReport, rows: _Rows, engine: Engine, root: str, finished: bool) -> None:
    """Every organisation below ``root`` ran the chain once; those with subordinates issued once
    (not ``finished``: at most once)."""
    chain = [c for c in rows.circulations if c.flow in CHAIN_FLOWS]
    per_org = Counter(c.org for c in chain)
    chain_ids = {c.id for c in chain}
    issued = Counter(d.org for d in rows.documents if d.doc_number and d.circulation_id in chain_ids)
    for code in _subtree(engine, root):
        if per_org[code] > 1 or (finished and per_org[code] != 1):
            report.add("chain_circulations", code, f"{per_org[code]} circulations of the notice, expected 1")
        expected = 1 if (code == root or engine.config.children(code)) else 0
        if issued[code] > expected or (finished and issued[code] != expected):
            report.add("chain_documents", code, f"{issued[code]} numbered document(s) issued, expected {expected}")
    report.checked["expected_documents"] = sum(1 for code in _subtree(engine, root) if code == root or engine.config.children(code))


def _manifest(report: InvariantReport, rows: _Rows, manifest: Path, storage: Path) -> None:
    if not manifest.is_file():
        report.add("manifest_missing", str(manifest))
        return
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    for number, n in Counter(e.get("doc_number") for e in entries).items():
        if n > 1:
            report.add("manifest_duplicate", str(number), f"{n} entries")
    listed = {e.get("doc_number") for e in entries}
    rendered = {d.doc_number for d in rows.documents if d.file}
    for number in sorted(rendered - listed, key=str):
        report.add("manifest_incomplete", str(number), "rendered but not in manifest.json")
    for number in sorted(listed - rendered, key=str):
        report.add("manifest_unknown", str(number), "in manifest.json but not a rendered document")
    for e in entries:
        path = storage / e["file"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != e.get("sha256"):
            report.add("manifest_file", str(e.get("doc_number")), f"{e['file']} missing or not the digest listed")
    report.checked["manifest_entries"] = len(entries)


def _doc_label(docs: Mapping[int | None, Document], doc_id: int | None) -> str:
    doc = docs.get(doc_id) if doc_id is not None else None
    return (doc.doc_number or f"document {doc.id}") if doc else f"document {doc_id}"
