"""The archive's outputs: the catalogue (归档文件目录) as .docx and .xlsx, and the transfer
package (移交包) per fonds and year with DA/T 46-2009 metadata, which another system — or an
empty gongwen database — can read back (``import_package``)."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.shared import Mm, Pt
from openpyxl import Workbook

from sqlmodel import Session, select

from gongwen_engine.config.loader import Config
from gongwen_engine.doc_templates.render import write_atomically
from gongwen_engine.models.archive import RETENTION_LABELS, item_sequence, parse_archive_code
from gongwen_engine.models.archive_files import digests, docx_paragraphs, file_format
from gongwen_engine.models.archive_search import index_item
from gongwen_engine.models.tables import ArchiveItem, NumberCounter

from .archiving import CATALOGUE_COLUMNS, catalogue_rows, item_folder
from .engine import FlowError

PACKAGE_FORMAT = "gongwen-transfer/1"
PACKAGE_MANIFEST = "package.json"
ITEM_METADATA = "metadata.json"


def catalogue_title(fonds: str, year: int, retention: str | None) -> str:
    label = f" {RETENTION_LABELS[retention]}" if retention else ""  # type: ignore[index]
    return f"归档文件目录（全宗号 {fonds} · {year}年度{label}）"


def write_catalogue(items: list[ArchiveItem], fonds: str, year: int, retention: str | None, out: Path, classification: str = "year-retention-dept") -> tuple[Path, Path]:
    """The catalogue as .docx (cover + table, A4 landscape) and .xlsx; returns both paths."""
    rows = catalogue_rows(items, classification)
    title = catalogue_title(fonds, year, retention)
    stem = f"归档文件目录-{fonds}-{year}" + (f"-{retention}" if retention else "")
    out.mkdir(parents=True, exist_ok=True)
    document = docx.Document()
    section = document.sections[0]
    section.orientation, section.page_width, section.page_height = WD_ORIENT.LANDSCAPE, Mm(297), Mm(210)
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Mm(20))
    cover = document.add_paragraph()
    cover.add_run("归档文件目录").font.size = Pt(26)
    document.add_paragraph(f"全宗号：{fonds}    年度：{year}" + (f"    保管期限：{RETENTION_LABELS[retention]}" if retention else "") + f"    件数：{len(rows)}")  # type: ignore[index]
    document.add_page_break()
    table = document.add_table(rows=1, cols=len(CATALOGUE_COLUMNS))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, CATALOGUE_COLUMNS):
        cell.text = name
    for row in rows:
        for cell, name in zip(table.add_row().cells, CATALOGUE_COLUMNS):
            cell.text = str(row[name])
    docx_path = out / f"{stem}.docx"
    document.save(docx_path)
    book = Workbook()
    sheet = book.active
    sheet.title = str(year)
    sheet.append([title])
    sheet.append(list(CATALOGUE_COLUMNS))
    for row in rows:
        sheet.append([row[name] for name in CATALOGUE_COLUMNS])
    xlsx_path = out / f"{stem}.xlsx"
    book.save(xlsx_path)
    return docx_path, xlsx_path


# ---- transfer package ---------------------------------------------------------------------------------

def item_metadata(item: ArchiveItem) -> dict[str, Any]:
    """DA/T 46-2009 metadata of one item (Chinese element names), plus digests and 处理过程."""
    return {
        "档号": item.archive_code, "全宗号": item.fonds, "年度": item.year, "保管期限": item.retention, "机构或问题": item.dept_code,
        "室编件号": item.item_no, "题名": item.title, "文件编号": item.doc_number, "责任者": item.responsible,
        "日期": item.dated.strftime("%Y%m%d"), "密级": item.security, "页数": item.pages, "文种": item.doc_type, "备注": item.note,
        "机构代码": item.org, "归档时间": item.filed_at.isoformat(),
        "电子文件": [
            {"顺序号": f["seq"], "角色": f["role"], "格式": f["format"], "计算机文件名": Path(f["file"]).name, "大小": f["size"],
             "页数": f["pages"], "页数来源": f["pages_method"], "加盖归档章": f.get("stamped", False),
             "固化信息": [{"算法": "SHA-256", "值": f["sha256"]}, {"算法": "SM3", "值": f["sm3"]}]}
            for f in item.files
        ],
        "处理过程": item.history,
    }


def export_package(items: list[ArchiveItem], storage: Path, fonds: str, year: int, out: Path) -> Path:
    """One zip per fonds and year: package.json, then per item {档号}/metadata.json and its files."""
    if not items:
        raise FlowError(f"全宗 {fonds} {year} 年度没有归档文件，无可移交（nothing filed for that year）")
    path = out / f"移交-{fonds}-WS-{year}.zip"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for item in items:
            z.writestr(f"{item.archive_code}/{ITEM_METADATA}", json.dumps(item_metadata(item), ensure_ascii=False, indent=1))
            for f in item.files:
                data = (storage / f["file"]).read_bytes()
                total += len(data)
                z.writestr(f"{item.archive_code}/{Path(f['file']).name}", data)
        manifest = {"format": PACKAGE_FORMAT, "standard": "DA/T 22-2015, DA/T 46-2009", "全宗号": fonds, "年度": year, "件数": len(items),
                    "字节数": total, "档号": [i.archive_code for i in items], "created": datetime.now(timezone.utc).isoformat()}
        z.writestr(PACKAGE_MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return path


def import_package(session: Session, storage: Path, config: Config, package: Path, fonds: str) -> list[ArchiveItem]:
    """Read a transfer package into this database: every digest is checked first; an archive code
    that exists already is refused; nothing is written unless the whole package is sound."""
    try:
        z = zipfile.ZipFile(package)
    except (FileNotFoundError, zipfile.BadZipFile) as exc:
        raise FlowError(f"移交包 {package} 无法打开：{exc}（expected a zip written by `gongwen archive export`）") from None
    with z:
        manifest = json.loads(z.read(PACKAGE_MANIFEST))
        if manifest.get("format") != PACKAGE_FORMAT:
            raise FlowError(f"{package}: 不是 gongwen 移交包（format {manifest.get('format')!r}, expected {PACKAGE_FORMAT}）")
        if manifest["全宗号"] != fonds:
            raise FlowError(f"移交包属于全宗 {manifest['全宗号']}，您只能接收本全宗（{fonds}）的档案")
        staged = [_read_item(z, code) for code in manifest["档号"]]
        if len(staged) != manifest["件数"] or sum(len(d) for _, files in staged for d in files.values()) != manifest["字节数"]:
            raise FlowError(f"{package}: 件数或字节数与 package.json 不符（the package is incomplete）")
        taken = session.exec(select(ArchiveItem.archive_code).where(ArchiveItem.archive_code.in_(manifest["档号"]))).all()
        if taken:
            raise FlowError(f"档号已存在，未导入任何文件：{'、'.join(taken[:5])}（these items are in the database already）")
        return [_file_imported(session, storage, config, meta, files) for meta, files in staged]


def _read_item(z: zipfile.ZipFile, code: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    meta = json.loads(z.read(f"{code}/{ITEM_METADATA}"))
    parse_archive_code(meta["档号"])
    files = {}
    for f in meta["电子文件"]:
        data = z.read(f"{code}/{f['计算机文件名']}")
        d = digests(data)
        want = {x["算法"]: x["值"] for x in f["固化信息"]}
        if d.size != f["大小"] or d.sha256 != want["SHA-256"] or d.sm3 != want["SM3"]:
            raise FlowError(f"移交包中 {code}/{f['计算机文件名']} 的摘要或大小与元数据不符，拒绝导入（digest mismatch）")
        files[f["计算机文件名"]] = data
    return meta, files


def _file_imported(session: Session, storage: Path, config: Config, meta: dict[str, Any], files: dict[str, bytes]) -> ArchiveItem:
    code = parse_archive_code(meta["档号"])
    folder = item_folder(code.fonds, code.year, meta["档号"])
    records, texts = [], []
    for f in meta["电子文件"]:
        data = files[f["计算机文件名"]]
        relative = f"{folder}/{f['计算机文件名']}"
        write_atomically(data, storage / relative)
        d = digests(data)
        if file_format(data, relative) == "docx":
            texts.extend(docx_paragraphs(data))
        records.append({"seq": f["顺序号"], "role": f["角色"], "file": relative, "source": f"transfer:{f['计算机文件名']}", "format": f["格式"],
                        "size": d.size, "sha256": d.sha256, "sm3": d.sm3, "pages": f["页数"], "pages_method": f["页数来源"], "stamped": f["加盖归档章"]})
    item = ArchiveItem(
        org=meta.get("机构代码") or code.fonds, circulation_id=None, fonds=code.fonds, year=code.year, retention=code.retention,
        dept_code=code.dept_code, item_no=code.item_no, archive_code=meta["档号"], doc_number=meta["文件编号"], title=meta["题名"],
        responsible=meta["责任者"], dated=date(int(meta["日期"][:4]), int(meta["日期"][4:6]), int(meta["日期"][6:])), files=records,
        doc_type=meta["文种"], security=meta["密级"], pages=meta["页数"], note=meta["备注"], history=meta["处理过程"],
    )
    session.add(item)
    session.flush()
    _advance_counter(session, item)
    index_item(session, item, "\n".join(t for t in texts if t != item.title))
    return item


def _advance_counter(session: Session, item: ArchiveItem) -> None:
    """Later filing in the same class continues after the imported item numbers, without gaps."""
    sequence = item_sequence(item.fonds, item.retention, item.dept_code)
    counter = session.get(NumberCounter, (sequence, item.year))
    if counter is None:
        session.add(NumberCounter(sequence=sequence, year=item.year, last=item.item_no))
    elif counter.last < item.item_no:
        counter.last = item.item_no
        session.add(counter)
    session.flush()


def filed_totals(session: Session, fonds: str, year: int) -> tuple[int, int]:
    """(items, bytes) recorded for a fonds and year."""
    items = session.exec(select(ArchiveItem).where(ArchiveItem.fonds == fonds, ArchiveItem.year == year)).all()
    return len(items), sum(f["size"] for i in items for f in i.files)



