"""四性检测 (DA/T 70-2018): authenticity, integrity, usability and security of one fonds' items of
one year. Each check names, in Chinese, what it checked and looked at and every failure (by archive code)."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlmodel import Session, col, select

from gongwen_engine.config.loader import Config
from gongwen_engine.doc_templates.archive_files import digests, docx_paragraphs, file_format
from gongwen_engine.flows.actions.archiving import anchor_problem
from gongwen_engine.flows.actions.sealing import SIGNED_OFD, SIGNED_PDF, filed_seal_problem, sealed_fingerprints
from gongwen_engine.models.rules.archive import ARCHIVE_CODE_RE, format_archive_code, parse_archive_code
from gongwen_engine.models.rules.permissions import Action, Fonds, allowed
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, RetrievalLog

PROPERTIES = {"authenticity": "真实性", "integrity": "完整性", "usability": "可用性", "security": "安全性"}
REQUIRED = ("archive_code", "title", "responsible", "dated", "retention", "doc_type")
REQUIRED_WORDS = {"archive_code": "档号", "title": "题名", "responsible": "责任者", "dated": "日期", "retention": "保管期限", "doc_type": "文种"}


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
            _anchors_agree(storage, items),
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
    c = Check("authenticity", "著录项目格式正确（日期 8 位、页数大于 0、保管期限为 Y/D30/D10、列有电子文件）", f"{len(items)} 件")
    for i in items:
        if len(i.dated.strftime("%Y%m%d")) != 8 or i.pages <= 0 or i.retention not in ("Y", "D30", "D10") or not i.files:
            c.failures.append(f"{i.archive_code}：日期 {i.dated}，页数 {i.pages}，保管期限 {i.retention}，电子文件 {len(i.files)} 个")
    return c


def _codes_valid(items: list[ArchiveItem]) -> Check:
    c = Check("authenticity", "档号格式正确且与著录项目一致", f"{len(items)} 个档号")
    for i in items:
        if not ARCHIVE_CODE_RE.match(i.archive_code):
            c.failures.append(f"{i.archive_code}：不是“全宗号-WS·年度-保管期限-机构-件号”的形式")
            continue
        code = parse_archive_code(i.archive_code)
        if (code.fonds, code.year, code.retention, code.dept_code, code.item_no) != (i.fonds, i.year, i.retention, i.dept_code, i.item_no):
            c.failures.append(f"{i.archive_code}：按著录项目应为 {format_archive_code(i.fonds, i.year, i.retention, i.dept_code, i.item_no)}")
    return c


def _present(storage: Path, files: list, missing_to: Check | None = None):
    """(item, file entry, path, bytes) of each filed file that exists; a missing one is reported to ``missing_to``."""
    for item, f in files:
        path = storage / f.file
        if not path.is_file():
            if missing_to is not None:
                missing_to.failures.append(f"{item.archive_code}：{f.file} 缺失")
            continue
        yield item, f, path, path.read_bytes()


def _files_match_metadata(storage: Path, files: list) -> Check:
    c = Check("authenticity", "文件名、大小和格式与著录一致", f"{len(files)} 个文件")
    for item, f, path, data in _present(storage, files, c):
        if path.parent.name != item.archive_code:
            c.failures.append(f"{item.archive_code}：{f.file} 不在该件的文件夹中")
        if len(data) != f.size:
            c.failures.append(f"{item.archive_code}：{f.file} 大小 {len(data)} 字节，著录为 {f.size} 字节")
        if file_format(data, path.name) != f.format:
            c.failures.append(f"{item.archive_code}：{f.file} 实为 {file_format(data, path.name)} 格式，著录为 {f.format}")
    return c


def _digests_verify(storage: Path, files: list) -> Check:
    c = Check("authenticity", "固化信息有效（SHA-256 与 SM3 摘要相符）", f"{len(files)} 个文件，各 2 个摘要")
    for item, f, _path, data in _present(storage, files):
        d = digests(data)
        if d.sha256 != f.sha256 or d.sm3 != f.sm3:
            c.failures.append(f"{item.archive_code}：{f.file} 摘要不符")
    return c


def _seals_verify(storage: Path, files: list) -> Check:
    """签章有效 (用印): every filed signed PDF's signature is intact and made with the certificate its item's 处理过程 recorded."""
    sealed = [(item, f) for item, f in files if f.role in (SIGNED_PDF, SIGNED_OFD)]
    c = Check("authenticity", "电子印章有效（签名完好，证书与用印时记录的一致）", f"{len(sealed)} 个签章 PDF 和 OFD")
    for item, f, _path, data in _present(storage, sealed):
        if problem := filed_seal_problem(data, sealed_fingerprints(item.history)):
            c.failures.append(f"{item.archive_code}：{f.file} {problem}")
    return c


def _anchors_agree(storage: Path, items: list[ArchiveItem]) -> Check:
    """审计锚点: each item's anchor file (its 'archived' audit record's seq and hash) agrees with its record."""
    anchored = [i for i in items if i.anchor_seq is not None]
    without = len(items) - len(anchored)
    looked_at = f"{len(anchored)} 件的审计锚点" + (f"（另 {without} 件归档于锚点启用前或由移交接收，无锚点）" if without else "")
    c = Check("authenticity", "审计锚点与归档记录一致（归档时的审计记录序号与哈希）", looked_at)
    for item in anchored:
        if problem := anchor_problem(storage, item):
            c.failures.append(f"{item.archive_code}：{problem.file} {problem.detail}")
    return c


def _totals_match(storage: Path, items: list[ArchiveItem]) -> Check:
    recorded = sum(f.size for i in items for f in i.filed_files())
    on_disk = sum((storage / f.file).stat().st_size for i in items for f in i.filed_files() if (storage / f.file).is_file())
    folders = {p.name for p in (storage / "archive" / items[0].fonds / str(items[0].year)).iterdir()} if items else set()
    c = Check("integrity", "件数与字节总数相符", f"著录 {len(items)} 件、{recorded} 字节；存储中 {len(folders)} 个件文件夹、{on_disk} 字节")
    if on_disk != recorded:
        c.failures.append(f"存储中 {on_disk} 字节，著录为 {recorded} 字节")
    codes = {i.archive_code for i in items}
    if folders != codes:
        c.failures.append(f"无对应件的文件夹：{'、'.join(sorted(folders - codes)) or '无'}；无文件夹的件：{'、'.join(sorted(codes - folders)) or '无'}")
    return c


def _required_metadata(items: list[ArchiveItem]) -> Check:
    c = Check("integrity", "必备著录项目齐全（" + "、".join(REQUIRED_WORDS[n] for n in REQUIRED) + "、页数）", f"{len(items)} 件")
    for i in items:
        missing = [REQUIRED_WORDS[name] for name in REQUIRED if not getattr(i, name)] + (["页数"] if not i.pages else [])
        if missing:
            c.failures.append(f"{i.archive_code}：缺少{'、'.join(missing)}")
    return c


def _item_numbers_continuous(items: list[ArchiveItem]) -> Check:
    classes: dict[tuple, list[int]] = defaultdict(list)
    for i in items:
        classes[(i.retention, i.dept_code)].append(i.item_no)
    c = Check("integrity", "件号在每一类中从 1 起连续", f"{len(classes)} 类")
    for (retention, dept), numbers in sorted(classes.items()):
        gaps = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if gaps:
            c.failures.append(f"{retention}-{dept}：缺件号 {'、'.join(f'{n:04d}' for n in gaps)}")
    return c


def _process_records(items: list[ArchiveItem]) -> Check:
    c = Check("integrity", "处理过程齐全，以归档结束", f"{len(items)} 件")
    for i in items:
        if not i.history or i.history[-1].get("action") != "archived":
            c.failures.append(f"{i.archive_code}：处理过程 {len(i.history)} 条，最后一条不是归档")
    return c


def _files_open(storage: Path, files: list) -> Check:
    c = Check("usability", "每个文件都能打开和解析（.docx 查其 XML 与文字，.pdf 查文件头与文件尾）", f"{len(files)} 个文件")
    for item, f, _path, data in _present(storage, files, c):
        try:
            if f.format == "docx":
                if not docx_paragraphs(data):
                    c.failures.append(f"{item.archive_code}：{f.file} 没有文字")
            elif f.format == "pdf" and (not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]):
                c.failures.append(f"{item.archive_code}：{f.file} 不是完整的 PDF")
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as exc:
            c.failures.append(f"{item.archive_code}：{f.file} 无法打开（{type(exc).__name__}）")
    return c


def _access_rules(config: Config, fonds: str) -> Check:
    keepers = [u.id for u in config.users.values() if allowed(config, u, Action.archive_search, Fonds(fonds))]  # the one access rule (permissions)
    c = Check(
        "security",
        "利用规则有效：本全宗配有档案员，每次利用都有利用登记",
        f"全宗 {fonds} 的档案员：{'、'.join(config.users[k].name for k in keepers) or '无'}",
    )
    if not keepers:
        c.failures.append(f"全宗 {fonds} 没有配置档案员（用户名单中添加）")
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
        "归档过程有记录（每件有一条归档审计记录；移交接收的件在其处理过程中）",
        f"{len(items)} 件，{len(recorded)} 条审计记录",
    )
    for i in items:
        in_history = bool(i.history) and i.history[-1].get("action") == "archived"
        if (i.circulation_id is not None and i.circulation_id not in recorded) or not in_history:
            c.failures.append(f"{i.archive_code}：没有归档记录")
    return c
