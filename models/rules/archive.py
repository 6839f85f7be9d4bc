"""Archive codes (档号), retention (保管期限), the order of files inside an item and the archive
stamp's cells, per DA/T 22-2015 — each rule in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gongwen_engine.config.schema import Retention, RetentionFile

CATEGORY_DOCUMENTS = "WS"  # 门类代码: 文书
YEAR_RETENTION_DEPT = "year-retention-dept"  # 年度-保管期限-机构 (the default classification)
YEAR_DEPT_RETENTION = "year-dept-retention"  # 年度-机构-保管期限
_RETENTION = r"(?P<retention>Y|D30|D10)"
_DEPT = r"(?P<dept>[A-Z]{3})"
ARCHIVE_CODE_RE = re.compile(
    rf"^(?P<fonds>[A-Z0-9]+)-WS·(?P<year>\d{{4}})-"
    rf"(?:{_RETENTION}-{_DEPT}|{_DEPT.replace('dept', 'dept2')}-{_RETENTION.replace('retention', 'retention2')})-(?P<item>\d{{4}})$"
)

# DA/T 22-2015 §5.1, the order of files inside an item (件), in ONE place. Outgoing: the issued
# copy (正本, which already carries the document it forwards: cover letter first) before its
# sealed fixed-layout copy, the draft sheet (发文稿纸) and the final draft (定稿). Incoming:
# the processing slip (文件处理单) first, then the received document — the received original
# when one was kept byte for byte, otherwise the sender's issued copy. A forwarding item puts
# the forwarding document before what it forwards, so its outgoing files come first.
FILE_ROLE_ORDER: tuple[str, ...] = (
    "issued_copy",  # 正本
    "signed_pdf",  # 正本的版式文件（签章）
    "signed_ofd",  # 正本的 OFD 版式文件（电子印章）
    "draft_sheet",  # 发文稿纸
    "final_draft",  # 定稿
    "processing_slip",  # 收文处理单
    "received_original",  # 来文原件
    "received_document",  # 来文（发文机关的正本）
)
RETENTION_LABELS = {Retention.permanent: "永久", Retention.years30: "30年", Retention.years10: "10年"}
DEPARTMENT_NAMES = {"BGS": "办公室", "ZZB": "组织部", "XCB": "宣传部", "CWC": "财务处"}  # 机构（问题）名称 on the stamp


ATTACHMENT_ROLE = "attachment_"  # attachment_1, attachment_2 …: the document's attachment files (附件1 …), filed last, in order


def role_rank(role: str) -> int:
    """Position of a file role inside an item; unknown roles go last (after every known one)."""
    return FILE_ROLE_ORDER.index(role) if role in FILE_ROLE_ORDER else len(FILE_ROLE_ORDER)


def format_archive_code(fonds: str, year: int, retention: Retention | str, dept_code: str, item_no: int, classification: str = YEAR_RETENTION_DEPT) -> str:
    """全宗号-门类·年度-保管期限-机构-件号, e.g. Z109-WS·2012-Y-BGS-0001 (or 年度-机构-保管期限)."""
    if not 1 <= item_no <= 9999:
        raise ValueError(f"item number {item_no} outside 1..9999")
    code = Retention(retention).value
    classes = f"{code}-{dept_code}" if classification == YEAR_RETENTION_DEPT else f"{dept_code}-{code}"
    return f"{fonds}-{CATEGORY_DOCUMENTS}·{year}-{classes}-{item_no:04d}"


@dataclass(frozen=True)
class ArchiveCode:
    """A parsed 档号."""

    fonds: str
    year: int
    retention: str
    dept_code: str
    item_no: int


def parse_archive_code(code: str) -> ArchiveCode:
    """'Z109-WS·2012-Y-BGS-0001' -> ArchiveCode; anything else is refused with the expected form."""
    match = ARCHIVE_CODE_RE.match(code.strip())
    if not match:
        raise ValueError(f"档号“{code}”格式不对，应为 全宗号-WS·年度-保管期限-机构-件号，如 Z109-WS·2012-Y-BGS-0001")
    return ArchiveCode(match["fonds"], int(match["year"]), match["retention"] or match["retention2"], match["dept"] or match["dept2"], int(match["item"]))


def item_sequence(fonds: str, retention: Retention | str, dept_code: str) -> str:
    """The name of the gap-free item-number sequence of one lowest class (per year)."""
    return f"archive:{fonds}:{Retention(retention).value}:{dept_code}"


def retention_for(schedule: RetentionFile, item: str, from_level: str, doc_type: str | None = None) -> tuple[Retention | None, str]:
    """First matching rule of the configured schedule: (retention, why); None = not filed (不归档)."""
    for rule in schedule.rules:
        if rule.when.item not in (None, item):
            continue
        if rule.when.from_level not in (None, from_level):
            continue
        if rule.when.doc_type is not None and doc_type not in rule.when.doc_type:
            continue
        return rule.keep, rule.why
    raise LookupError(f"no retention rule matches item={item}, from_level={from_level}, doc_type={doc_type}; add a catch-all rule to retention.yaml")


@dataclass(frozen=True)
class ArchiveStamp:
    """归档章: six cells, 全宗号 · 年度 · 件号 over 机构（问题）· 保管期限 · 页数."""

    fonds: str
    year: int
    item_no: int
    department: str
    retention: str
    pages: int

    LABELS = (("全宗号", "年度", "件号"), ("机构（问题）", "保管期限", "页数"))

    def rows(self) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        return (
            (self.fonds, str(self.year), f"{self.item_no:04d}"),
            (self.department, RETENTION_LABELS[Retention(self.retention)], str(self.pages)),
        )


def stamp_for(fonds: str, year: int, item_no: int, dept_code: str, retention: str, pages: int) -> ArchiveStamp:
    return ArchiveStamp(fonds, year, item_no, DEPARTMENT_NAMES.get(dept_code, dept_code), retention, pages)
