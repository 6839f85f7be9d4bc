"""The archive's outputs: the catalogue (归档文件目录) as .docx and .xlsx, and the transfer
package (移交包) per fonds and year with DA/T 46-2009 metadata, which another system — or an
empty gongwen database — can read back (``import_package``)."""

from __future__ import annotations

import json
import zipfile
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.shared import Mm, Pt
from openpyxl import Workbook
from sqlalchemy import event
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Retention
from gongwen_engine.doc_templates.archive_files import digests, docx_paragraphs, file_format
from gongwen_engine.flows.actions.archiving import CATALOGUE_COLUMNS, catalogue_rows, item_folder
from gongwen_engine.models.archive_search import index_item
from gongwen_engine.models.rules.archive import RETENTION_LABELS, item_sequence, parse_archive_code
from gongwen_engine.models.tables import ArchiveItem, FiledFile, NumberCounter

PACKAGE_FORMAT = "gongwen-transfer/1"
PACKAGE_MANIFEST = "package.json"
ITEM_METADATA = "metadata.json"


def _retention_label(retention: str) -> str:
    return RETENTION_LABELS[Retention(retention)]


def catalogue_title(fonds: str, year: int, retention: str | None) -> str:
    label = f" {_retention_label(retention)}" if retention else ""
    return f"归档文件目录（全宗号 {fonds} · {year}年度{label}）"


def write_catalogue(
    items: list[ArchiveItem], fonds: str, year: int, retention: str | None, out: Path, classification: str = "year-retention-dept"
) -> tuple[Path, Path]:
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
    document.add_paragraph(
        f"全宗号：{fonds}    年度：{year}" + (f"    保管期限：{_retention_label(retention)}" if retention else "") + f"    件数：{len(rows)}"
    )
    document.add_page_break()
    table = document.add_table(rows=1, cols=len(CATALOGUE_COLUMNS))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, CATALOGUE_COLUMNS, strict=True):  # a column per name
        cell.text = name
    for row in rows:
        for cell, name in zip(table.add_row().cells, CATALOGUE_COLUMNS, strict=True):
            cell.text = str(row[name])
    docx_path = out / f"{stem}.docx"
    document.save(str(docx_path))  # python-docx declares str | IO[bytes]
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
        "档号": item.archive_code,
        "全宗号": item.fonds,
        "年度": item.year,
        "保管期限": item.retention,
        "机构或问题": item.dept_code,
        "室编件号": item.item_no,
        "题名": item.title,
        "文件编号": item.doc_number,
        "责任者": item.responsible,
        "日期": item.dated.strftime("%Y%m%d"),
        "密级": item.security,
        "页数": item.pages,
        "文种": item.doc_type,
        "备注": item.note,
        "机构代码": item.org,
        "归档时间": item.filed_at.isoformat(),
        "电子文件": [
            {
                "顺序号": f.seq,
                "角色": f.role,
                "格式": f.format,
                "计算机文件名": Path(f.file).name,
                "大小": f.size,
                "页数": f.pages,
                "页数来源": f.pages_method,
                "加盖归档章": f.stamped,
                "固化信息": [{"算法": "SHA-256", "值": f.sha256}, {"算法": "SM3", "值": f.sm3}],
            }
            for f in item.filed_files()
        ],
        "处理过程": item.history,
        # the audit head this item anchored in the sending system (its 'archived' record); informative,
        # an importing system keeps its own chain (None: filed before anchors, or itself imported)
        "审计锚点": {"审计序号": item.anchor_seq, "链哈希": item.anchor_hash} if item.anchor_seq is not None else None,
    }


def export_package(items: list[ArchiveItem], storage: Path, fonds: str, year: int, out: Path) -> Path:
    """One zip per fonds and year: package.json, then per item {档号}/metadata.json and its files."""
    if not items:
        raise Refusal(f"全宗 {fonds} {year} 年度没有归档文件，无可移交（nothing filed for that year）")
    path = out / f"移交-{fonds}-WS-{year}.zip"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for item in items:
            z.writestr(f"{item.archive_code}/{ITEM_METADATA}", json.dumps(item_metadata(item), ensure_ascii=False, indent=1))
            for f in item.filed_files():
                data = (storage / f.file).read_bytes()
                total += len(data)
                z.writestr(f"{item.archive_code}/{Path(f.file).name}", data)
        manifest = {
            "format": PACKAGE_FORMAT,
            "standard": "DA/T 22-2015, DA/T 46-2009",
            "全宗号": fonds,
            "年度": year,
            "件数": len(items),
            "字节数": total,
            "档号": [i.archive_code for i in items],
            "created": datetime.now(UTC).isoformat(),
        }
        z.writestr(PACKAGE_MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return path


# What a transfer package may hold. A package is read from outside: every name, size and field is
# checked before anything is written, and a package that breaks any rule is refused whole.
MAX_PACKAGE_ENTRIES = 100_000
MAX_ENTRY_BYTES = 1024 * 1024 * 1024  # one file, uncompressed (1 GiB)
MAX_PACKAGE_BYTES = 8 * 1024 * 1024 * 1024  # all files, uncompressed (8 GiB)
MAX_METADATA_BYTES = 16 * 1024 * 1024  # package.json, one metadata.json
MAX_RATIO = 200  # uncompressed / compressed for an entry over 1 MiB: more is a zip bomb, not a document
RATIO_FLOOR = 1024 * 1024


class PackageError(Refusal):
    """A transfer package refused: what is wrong, where, and that nothing was imported (Chinese)."""

    def __init__(self, package: Path, problem: str) -> None:
        super().__init__(f"移交包 {package.name} 被拒绝，未导入任何内容：{problem}")


class _Refused(Exception):
    """A problem inside the package (turned into PackageError with the package's name)."""


def import_package(session: Session, storage: Path, config: Config, package: Path, fonds: str) -> list[ArchiveItem]:
    """Read a transfer package into this database: every name, size and digest is checked first; an
    archive code that exists already is refused; nothing is written unless the whole package is
    sound. The files are written last and removed again if anything fails, the transaction's
    commit included (its rollback removes them)."""
    try:
        z = zipfile.ZipFile(package)
    except FileNotFoundError:
        raise Refusal(f"移交包 {package} 不存在（请检查路径）") from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError, EOFError) as exc:
        raise PackageError(package, f"不是有效的 zip 文件（{exc}）；应为 `gongwen archive export` 写出的移交包") from None
    try:
        with z:
            manifest, staged = _read_package(z, fonds)
    except _Refused as exc:
        raise PackageError(package, str(exc)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:  # CRC, truncation, compression
        raise PackageError(package, f"zip 内容损坏或无法解压（{exc}）") from None
    taken = session.exec(select(ArchiveItem.archive_code).where(col(ArchiveItem.archive_code).in_(manifest["档号"]))).all()
    if taken:
        raise Refusal(f"档号已存在，未导入任何文件：{'、'.join(taken[:5])}（这些件已在数据库中）")
    targets = {(meta["档号"], name): _target(storage, meta, name) for meta, files in staged for name in files}
    present = [str(path) for path in targets.values() if path.exists()]
    if present:
        raise PackageError(package, f"存储目录中已有同名文件（{present[0]} 等 {len(present)} 个）；请先核对存储目录（`gongwen archive verify`）")
    items = [_file_imported(session, meta, files) for meta, files in staged]
    session.flush()
    written: list[Path] = []
    try:
        for meta, files in staged:
            for name, data in files.items():
                write_atomically(data, targets[(meta["档号"], name)])
                written.append(targets[(meta["档号"], name)])
    except BaseException:
        _remove(written)
        raise
    _remove_unless_committed(session, written)
    return items


def _read_package(z: zipfile.ZipFile, fonds: str) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, bytes]]]]:
    """The manifest and every item (metadata, file name -> bytes), all checked; or _Refused."""
    infos = z.infolist()
    if len(infos) > MAX_PACKAGE_ENTRIES:
        raise _Refused(f"条目过多（{len(infos)} 个，上限 {MAX_PACKAGE_ENTRIES}）")
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if not _safe_entry_name(info.filename):
            raise _Refused(f"含有不安全的路径“{info.filename}”（绝对路径、“..”或反斜杠）")
        if info.filename in entries:
            raise _Refused(f"条目“{info.filename}”重复出现")
        if info.file_size > MAX_ENTRY_BYTES or (info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise _Refused(f"条目“{info.filename}”解压后 {info.file_size} 字节（压缩 {info.compress_size} 字节），超出上限（疑似 zip 炸弹）")
        entries[info.filename] = info
    if sum(i.file_size for i in infos) > MAX_PACKAGE_BYTES:
        raise _Refused(f"解压后总大小超过 {MAX_PACKAGE_BYTES // 1024**3} GiB 的上限")
    manifest = _json(z, entries, PACKAGE_MANIFEST)
    _check_manifest(manifest, fonds)
    expected = {PACKAGE_MANIFEST}
    staged = []
    for code in manifest["档号"]:
        meta = _json(z, entries, f"{code}/{ITEM_METADATA}")
        _check_metadata(meta, code, manifest)
        files = {}
        for f in meta["电子文件"]:
            name = f["计算机文件名"]
            data = _entry(z, entries, f"{code}/{name}", MAX_ENTRY_BYTES)
            d = digests(data)
            want = {x["算法"]: x["值"] for x in f["固化信息"]}
            if d.size != f["大小"] or d.sha256 != want.get("SHA-256") or d.sm3 != want.get("SM3"):
                raise _Refused(f"{code}/{name} 的摘要或大小与元数据不符（digest mismatch）")
            if file_format(data, name) == "docx":
                try:
                    docx_paragraphs(data)
                except Exception as exc:
                    raise _Refused(f"{code}/{name} 不是可读的 .docx（{type(exc).__name__}）") from None
            files[name] = data
        expected |= {f"{code}/{ITEM_METADATA}", *(f"{code}/{name}" for name in files)}
        staged.append((meta, files))
    extra = sorted(set(entries) - expected - {n for n in entries if n.endswith("/") and n.rstrip("/") in manifest["档号"]})
    if extra:
        raise _Refused(f"含有清单之外的文件：{'、'.join(extra[:5])}")
    if len(staged) != manifest["件数"] or sum(len(d) for _, files in staged for d in files.values()) != manifest["字节数"]:
        raise _Refused("件数或字节数与 package.json 不符（the package is incomplete）")
    return manifest, staged


def _safe_entry_name(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and "\x00" not in name
        and ":" not in parts[0]
        and not any(p in ("", ".", "..") for p in parts)
    )


def _entry(z: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], name: str, limit: int) -> bytes:
    info = entries.get(name)
    if info is None:
        raise _Refused(f"缺少文件“{name}”")
    if info.file_size > limit:
        raise _Refused(f"“{name}”过大（{info.file_size} 字节，上限 {limit}）")
    with z.open(info) as handle:  # zipfile reads at most the declared size and checks the CRC
        return handle.read(limit + 1)


def _json(z: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], name: str) -> Any:
    try:
        return json.loads(_entry(z, entries, name, MAX_METADATA_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Refused(f"“{name}”不是 UTF-8 的 JSON（{exc}）") from None


def _need(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise _Refused(f"{where} 缺少字段“{key}”")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Refused(f"{where} 缺少字段“{key}”或其类型不对")
    return value


def _check_manifest(manifest: Any, fonds: str) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise _Refused(f"不是 gongwen 移交包（format {got!r}，应为 {PACKAGE_FORMAT}）")
    owner = _need(manifest, "全宗号", str, PACKAGE_MANIFEST)
    if owner != fonds:
        raise Refusal(f"移交包属于全宗 {owner}，您只能接收本全宗（{fonds}）的档案")
    year = _need(manifest, "年度", int, PACKAGE_MANIFEST)
    for key in ("件数", "字节数"):
        if _need(manifest, key, int, PACKAGE_MANIFEST) < 0:
            raise _Refused(f"{PACKAGE_MANIFEST} 的“{key}”为负数")
    codes = _need(manifest, "档号", list, PACKAGE_MANIFEST)
    if len(set(map(str, codes))) != len(codes):
        raise _Refused(f"{PACKAGE_MANIFEST} 中有重复的档号")
    for code in codes:
        parsed = _archive_code(code)
        if parsed.fonds != owner or parsed.year != year:
            raise _Refused(f"档号 {code} 不属于全宗 {owner} {year} 年度")


def _archive_code(code: Any) -> Any:
    if not isinstance(code, str) or code != code.strip():
        raise _Refused(f"档号 {code!r} 格式不对")
    try:
        return parse_archive_code(code)
    except ValueError as exc:
        raise _Refused(str(exc)) from None


FILE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "顺序号": int,
    "角色": str,
    "格式": str,
    "计算机文件名": str,
    "大小": int,
    "页数": (int, type(None)),
    "页数来源": (str, type(None)),
    "加盖归档章": bool,
    "固化信息": list,
}
ITEM_FIELDS: dict[str, type | tuple[type, ...]] = {
    "档号": str,
    "题名": str,
    "文件编号": (str, type(None)),
    "责任者": str,
    "日期": str,
    "页数": (int, type(None)),
    "文种": (str, type(None)),
    "密级": (str, type(None)),
    "备注": (str, type(None)),
    "机构代码": (str, type(None)),
    "处理过程": list,
    "电子文件": list,
}


def _check_metadata(meta: Any, code: str, manifest: dict[str, Any]) -> None:
    where = f"{code}/{ITEM_METADATA}"
    for key, kind in ITEM_FIELDS.items():
        _need(meta, key, kind, where)
    if meta["档号"] != code:
        raise _Refused(f"{where} 的档号“{meta['档号']}”与所在目录不符")
    try:
        date(int(meta["日期"][:4]), int(meta["日期"][4:6]), int(meta["日期"][6:8]))
    except ValueError:
        raise _Refused(f"{where} 的日期“{meta['日期']}”应为 YYYYMMDD") from None
    if len(meta["日期"]) != 8:
        raise _Refused(f"{where} 的日期“{meta['日期']}”应为 YYYYMMDD")
    names = []
    for i, f in enumerate(meta["电子文件"]):
        for key, kind in FILE_FIELDS.items():
            _need(f, key, kind, f"{where} 电子文件第 {i + 1} 项")
        name = f["计算机文件名"]
        if not name or name in (".", "..") or any(c in name for c in "/\\\x00:") or len(name.encode("utf-8")) > 255:
            raise _Refused(f"{where} 的文件名“{name}”不安全（只能是一个文件名，不能含路径）")
        if not all(isinstance(x, dict) and isinstance(x.get("算法"), str) and isinstance(x.get("值"), str) for x in f["固化信息"]):
            raise _Refused(f"{where} 电子文件第 {i + 1} 项的固化信息格式不对")
        names.append(name)
    if len(set(names)) != len(names):
        raise _Refused(f"{where} 中有重名的文件")
    if not all(isinstance(e, dict) for e in meta["处理过程"]):
        raise _Refused(f"{where} 的处理过程格式不对")


def _target(storage: Path, meta: dict[str, Any], name: str) -> Path:
    code = parse_archive_code(meta["档号"])
    root = storage.resolve()
    path = (root / item_folder(code.fonds, code.year, meta["档号"]) / name).resolve()
    if not path.is_relative_to(root):  # the checks above make this impossible; never write outside storage
        raise Refusal(f"移交包中的文件 {name} 会写到存储目录之外，拒绝导入")
    return path


def _remove_unless_committed(session: Session, written: list[Path]) -> None:
    """Remove the written files when the session's transaction ends without a commit (an error
    after the import, or the COMMIT itself failing): the database and the storage agree."""
    state = {"committed": False, "ended": False}

    def committed(_session: Session) -> None:
        state["committed"] = True

    def ended(_session: Session, transaction: Any) -> None:
        if transaction.parent is None and not state["ended"]:
            state["ended"] = True
            if not state["committed"]:
                _remove(written)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _file_imported(session: Session, meta: dict[str, Any], files: dict[str, bytes]) -> ArchiveItem:
    code = parse_archive_code(meta["档号"])
    folder = item_folder(code.fonds, code.year, meta["档号"])
    records, texts = [], []
    for f in meta["电子文件"]:
        data = files[f["计算机文件名"]]
        relative = f"{folder}/{f['计算机文件名']}"
        d = digests(data)
        if file_format(data, relative) == "docx":
            texts.extend(docx_paragraphs(data))
        records.append(
            FiledFile(
                seq=f["顺序号"],
                role=f["角色"],
                file=relative,
                source=f"transfer:{f['计算机文件名']}",
                format=f["格式"],
                size=d.size,
                sha256=d.sha256,
                sm3=d.sm3,
                pages=f["页数"],
                pages_method=f["页数来源"],
                stamped=f["加盖归档章"],
            ).model_dump()
        )
    item = ArchiveItem(
        org=meta.get("机构代码") or code.fonds,
        circulation_id=None,
        fonds=code.fonds,
        year=code.year,
        retention=code.retention,
        dept_code=code.dept_code,
        item_no=code.item_no,
        archive_code=meta["档号"],
        doc_number=meta["文件编号"],
        title=meta["题名"],
        responsible=meta["责任者"],
        dated=date(int(meta["日期"][:4]), int(meta["日期"][4:6]), int(meta["日期"][6:])),
        files=records,
        doc_type=meta["文种"],
        security=meta["密级"],
        pages=meta["页数"],
        note=meta["备注"],
        history=meta["处理过程"],
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
    return len(items), sum(f.size for i in items for f in i.filed_files())
