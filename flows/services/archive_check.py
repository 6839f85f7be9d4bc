"""四性检测 (DA/T 70-2018): authenticity, integrity, usability and security of one fonds' items of
one year. Each check names what it looked at and every failure (by archive code)."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlmodel import Session, col, select

from gongwen_engine.config.loader import Config
from gongwen_engine.doc_templates.archive_files import digests, docx_paragraphs, file_format
from gongwen_engine.flows.actions.sealing import SIGNED_OFD, SIGNED_PDF, filed_seal_problem, sealed_fingerprints
from gongwen_engine.models.rules.archive import ARCHIVE_CODE_RE, format_archive_code, parse_archive_code
from gongwen_engine.models.rules.permissions import Action, Fonds, allowed
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, RetrievalLog

PROPERTIES = {"authenticity": "真实性", "integrity": "完整性", "usability": "可用性", "security": "安全性"}
REQUIRED = ("archive_code", "title", "responsible", "dated", "retention", "doc_type")


@dataclass
class Check:
    prop: str
    name: str
    looked_at: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Report:
    fonds: str
    year: int
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def as_dict(self) -> dict:
        return {
            "fonds": self.fonds,
            "year": self.year,
            "passed": self.passed,
            "checks": [
                {"property": c.prop, "属性": PROPERTIES[c.prop], "check": c.name, "looked_at": c.looked_at, "passed": c.passed, "failures": c.failures}
                for c in self.checks
            ],
        }


def four_properties(session: Session, storage: Path, config: Config, fonds: str, year: int) -> Report:
    items = list(session.exec(select(ArchiveItem).where(ArchiveItem.fonds == fonds, ArchiveItem.year == year).order_by(col(ArchiveItem.id))))
    files = [(i, f) for i in items for f in i.filed_files()]
    return Report(
        fonds,
        year,
        [
            _metadata_well_formed(items),
            _codes_valid(items),
            _files_match_metadata(storage, files),
            _digests_verify(storage, files),
            _seals_verify(storage, files),
            _totals_match(storage, items),
            _required_metadata(items),
            _item_numbers_continuous(items),
            _process_records(items),
            _files_open(storage, files),
            _access_rules(config, fonds),
            _filing_recorded(session, items),
        ],
    )


def _metadata_well_formed(items: list[ArchiveItem]) -> Check:
    c = Check("authenticity", "metadata well-formed (日期 8 digits, 页数 > 0, 保管期限 Y/D30/D10, files listed)", f"{len(items)} items")
    for i in items:
        if len(i.dated.strftime("%Y%m%d")) != 8 or i.pages <= 0 or i.retention not in ("Y", "D30", "D10") or not i.files:
            c.failures.append(f"{i.archive_code}: dated={i.dated} pages={i.pages} retention={i.retention} files={len(i.files)}")
    return c


def _codes_valid(items: list[ArchiveItem]) -> Check:
    c = Check("authenticity", "archive codes valid and agree with the item's fields", f"{len(items)} archive codes")
    for i in items:
        if not ARCHIVE_CODE_RE.match(i.archive_code):
            c.failures.append(f"{i.archive_code}: not of the form 全宗号-WS·年度-保管期限-机构-件号")
            continue
        code = parse_archive_code(i.archive_code)
        if (code.fonds, code.year, code.retention, code.dept_code, code.item_no) != (i.fonds, i.year, i.retention, i.dept_code, i.item_no):
            c.failures.append(f"{i.archive_code}: fields say {format_archive_code(i.fonds, i.year, i.retention, i.dept_code, i.item_no)}")
    return c


def _present(storage: Path, files: list, missing_to: Check | None = None):
    """(item, file entry, path, bytes) of each filed file that exists; a missing one is reported to ``missing_to``."""
    for item, f in files:
        path = storage / f.file
        if not path.is_file():
            if missing_to is not None:
                missing_to.failures.append(f"{item.archive_code}: {f.file} missing")
            continue
        yield item, f, path, path.read_bytes()


def _files_match_metadata(storage: Path, files: list) -> Check:
    c = Check("authenticity", "file name, size and format match the metadata", f"{len(files)} files")
    for item, f, path, data in _present(storage, files, c):
        if path.parent.name != item.archive_code:
            c.failures.append(f"{item.archive_code}: {f.file} is not in the item's folder")
        if len(data) != f.size:
            c.failures.append(f"{item.archive_code}: {f.file} size {len(data)} ≠ {f.size}")
        if file_format(data, path.name) != f.format:
            c.failures.append(f"{item.archive_code}: {f.file} is {file_format(data, path.name)}, metadata says {f.format}")
    return c


def _digests_verify(storage: Path, files: list) -> Check:
    c = Check("authenticity", "SHA-256 and SM3 digests verify (固化信息有效性)", f"{len(files)} files, 2 digests each")
    for item, f, _path, data in _present(storage, files):
        d = digests(data)
        if d.sha256 != f.sha256 or d.sm3 != f.sm3:
            c.failures.append(f"{item.archive_code}: {f.file} digest differs")
    return c


def _seals_verify(storage: Path, files: list) -> Check:
    """签章有效 (用印): every filed signed PDF's signature is intact and made with the certificate its item's 处理过程 recorded."""
    sealed = [(item, f) for item, f in files if f.role in (SIGNED_PDF, SIGNED_OFD)]
    c = Check("authenticity", "electronic seals verify (signature intact, certificate as recorded at 用印)", f"{len(sealed)} signed PDFs and OFDs")
    for item, f, _path, data in _present(storage, sealed):
        if problem := filed_seal_problem(data, sealed_fingerprints(item.history)):
            c.failures.append(f"{item.archive_code}: {f.file} {problem}")
    return c


def _totals_match(storage: Path, items: list[ArchiveItem]) -> Check:
    recorded = sum(f.size for i in items for f in i.filed_files())
    on_disk = sum((storage / f.file).stat().st_size for i in items for f in i.filed_files() if (storage / f.file).is_file())
    folders = {p.name for p in (storage / "archive" / items[0].fonds / str(items[0].year)).iterdir()} if items else set()
    c = Check(
        "integrity", "item and byte totals match", f"{len(items)} items / {recorded} bytes recorded; {len(folders)} item folders / {on_disk} bytes on disk"
    )
    if on_disk != recorded:
        c.failures.append(f"bytes on disk {on_disk} ≠ recorded {recorded}")
    codes = {i.archive_code for i in items}
    if folders != codes:
        c.failures.append(f"item folders without an item: {sorted(folders - codes)}; items without a folder: {sorted(codes - folders)}")
    return c


def _required_metadata(items: list[ArchiveItem]) -> Check:
    c = Check("integrity", "required metadata present (" + ", ".join(REQUIRED) + ", 页数)", f"{len(items)} items")
    for i in items:
        missing = [name for name in REQUIRED if not getattr(i, name)] + (["pages"] if not i.pages else [])
        if missing:
            c.failures.append(f"{i.archive_code}: missing {', '.join(missing)}")
    return c


def _item_numbers_continuous(items: list[ArchiveItem]) -> Check:
    classes: dict[tuple, list[int]] = defaultdict(list)
    for i in items:
        classes[(i.retention, i.dept_code)].append(i.item_no)
    c = Check("integrity", "item numbers (件号) continuous from 1 within each class", f"{len(classes)} classes")
    for (retention, dept), numbers in sorted(classes.items()):
        gaps = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if gaps:
            c.failures.append(f"{retention}-{dept}: missing 件号 {', '.join(f'{n:04d}' for n in gaps)}")
    return c


def _process_records(items: list[ArchiveItem]) -> Check:
    c = Check("integrity", "process records (处理过程) present, ending with the filing", f"{len(items)} items")
    for i in items:
        if not i.history or i.history[-1].get("action") != "archived":
            c.failures.append(f"{i.archive_code}: {len(i.history)} process records, last {i.history[-1].get('action') if i.history else None}")
    return c


def _files_open(storage: Path, files: list) -> Check:
    c = Check("usability", "every file opens and parses (.docx: its XML and text; .pdf: header and trailer)", f"{len(files)} files")
    for item, f, _path, data in _present(storage, files, c):
        try:
            if f.format == "docx":
                if not docx_paragraphs(data):
                    c.failures.append(f"{item.archive_code}: {f.file} has no text")
            elif f.format == "pdf" and (not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]):
                c.failures.append(f"{item.archive_code}: {f.file} is not a complete PDF")
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as exc:
            c.failures.append(f"{item.archive_code}: {f.file} does not open: {exc}")
    return c


def _access_rules(config: Config, fonds: str) -> Check:
    keepers = [u.id for u in config.users.values() if allowed(config, u, Action.archive_search, Fonds(fonds))]  # the one access rule (permissions)
    c = Check(
        "security",
        "access rules in force: the fonds has its archivist(s); retrieval is logged (retrievallog)",
        f"archivists of {fonds}: {', '.join(keepers) or 'none'}",
    )
    if not keepers:
        c.failures.append(f"no archivist is configured for fonds {fonds} (config/users.yaml)")
    _ = RetrievalLog  # the log table every retrieval writes to (see archiving.log_retrieval)
    return c


def _filing_recorded(session: Session, items: list[ArchiveItem]) -> Check:
    circulations = [i.circulation_id for i in items if i.circulation_id is not None]
    recorded = (
        set(session.exec(select(AuditEvent.circulation_id).where(AuditEvent.action == "archived", col(AuditEvent.circulation_id).in_(circulations))).all())
        if circulations
        else set()
    )
    c = Check(
        "security",
        "the filing process recorded (an 'archived' audit event per item; imported items: in their 处理过程)",
        f"{len(items)} items, {len(recorded)} audit events",
    )
    for i in items:
        in_history = bool(i.history) and i.history[-1].get("action") == "archived"
        if (i.circulation_id is not None and i.circulation_id not in recorded) or not in_history:
            c.failures.append(f"{i.archive_code}: no record of the filing")
    return c
