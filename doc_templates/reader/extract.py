"""Text extraction (文字提取): .docx, plain text and PDF into lines that know where they came from.

- .docx: ``word/document.xml`` parsed with a hardened lxml parser (no DTD, no entities, no
  network; a DOCTYPE is refused outright since OOXML never has one). Paragraphs, table cells
  and text boxes come out in document order; deleted revisions and field codes are left out;
  of ``mc:AlternateContent`` only the ``mc:Choice`` is read (the fallback repeats it).
- plain text: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK
  and GB2312); anything else is refused as an unknown encoding.
- PDF: pypdf's text layer, page by page; encrypted files and files without text are refused.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass

from lxml import etree

from gongwen_engine.doc_templates.reader.errors import IntakeError
from gongwen_engine.doc_templates.reader.loading import DOCX, OFD, PDF, TEXT, ReadLimits, open_zip, read_part

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_W = f"{{{W}}}"
_SKIP = {f"{_W}del", f"{_W}delText", f"{_W}instrText", f"{_W}rPr", f"{_W}pPr", f"{{{MC}}}Fallback"}
_MISPLACED_QUOTES = re.compile(r"“\s*”|[“”]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Line:
    """One line of text and where it is in the file (e.g. 第12段, 表格1第2行, 文本框1, 第3页第4行)."""

    text: str
    source: str


def extract_lines(data: bytes, name: str, fmt: str, limits: ReadLimits) -> tuple[list[Line], list[str]]:
    """The file's lines and any warnings about the extraction itself."""
    if fmt == DOCX:
        lines = _docx_lines(data, name, limits)
        warnings: list[str] = []
    elif fmt == PDF:
        lines, warnings = _pdf_lines(data, name, limits)
    elif fmt == TEXT:
        lines, warnings = _text_lines(data, name)
    elif fmt == OFD:
        lines, warnings = _ofd_lines(data, name, limits), []
    else:  # pragma: no cover - sniff_format returns only these
        raise ValueError(fmt)
    if len(lines) > limits.max_lines:
        raise IntakeError(name, f"超过 {limits.max_lines} 行，不像一份公文", "请确认文件内容，或把公文部分单独保存后再收文")
    return lines, warnings


# ---- plain text ------------------------------------------------------------------------------
def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding name). Refuses binary data and unknown encodings."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return _plausible(data.decode(encoding), name), encoding
            except UnicodeDecodeError:
                break
    if b"\x00" in data:
        raise IntakeError(name, "含有二进制内容，不是文本文件", "请确认文件格式；Word 文件请用 .docx，版式文件请用带文字层的 PDF")
    for encoding in ("utf-8", "gb18030"):
        try:
            return _plausible(data.decode(encoding), name), encoding
        except UnicodeDecodeError:
            continue
    raise IntakeError(
        name, "的文字编码无法识别（既不是 UTF-8，也不是 GB18030/GBK）", "请用记事本或 WPS 打开后另存为 UTF-8 编码的 .txt，或另存为 .docx，再重新收文"
    )


def _plausible(text: str, name: str) -> str:
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise IntakeError(name, "含有大量控制字符，不像文本文件", "请确认文件格式；可另存为 UTF-8 编码的 .txt 或 .docx 后再收文")
    return text


def _text_lines(data: bytes, name: str) -> tuple[list[Line], list[str]]:
    text, encoding = decode_text(data, name)
    warnings = [] if encoding.startswith("utf-8") else [f"文本编码按 {encoding.upper()} 读取"]
    return [Line(_clean(line), f"第{i}行") for i, line in enumerate(text.splitlines(), 1)], warnings


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).replace("\u3000", " ").replace("\xa0", " ").rstrip()


# ---- .docx -----------------------------------------------------------------------------------
def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True, remove_pis=True
    )


def parse_xml(data: bytes, name: str, part: str) -> etree._Element:
    """Parse one XML part with the hardened parser."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise IntakeError(
            name, f"的部件 {part} 含有 DTD/实体声明（可被用于实体膨胀或读取外部文件的攻击）", "请向发文单位核实，并用 Word 或 WPS 重新另存为 .docx"
        )
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise IntakeError(name, f"已损坏（部件 {part} 不是合法的 XML：{exc}）", "请向发文单位重新索取文件") from None


def _docx_lines(data: bytes, name: str, limits: ReadLimits) -> list[Line]:
    archive = open_zip(data, name, limits)
    xml = read_part(archive, "word/document.xml", name, limits)
    if xml is None:
        raise IntakeError(name, "缺少正文部件 word/document.xml", "请向发文单位重新索取文件")
    root = parse_xml(xml, name, "word/document.xml")
    body = root.find(f"{_W}body")
    if body is None:
        raise IntakeError(name, "的正文部件没有 w:body", "请用 Word 或 WPS 打开后重新另存为 .docx")
    reader = _DocxReader()
    reader.block(body)
    return reader.lines


class _DocxReader:
    """Walks the body in document order; counts paragraphs, tables and text boxes for sources."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.paragraphs = self.tables = self.boxes = 0

    def block(self, element: etree._Element, where: str | None = None) -> None:
        for child in element:
            if child.tag == f"{_W}p":
                self.paragraph(child, where)
            elif child.tag == f"{_W}tbl":
                self.table(child)
            elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins", f"{_W}smartTag"):
                self.block(child, where)

    def paragraph(self, p: etree._Element, where: str | None) -> None:
        self.paragraphs += 1
        pieces: list[str] = []
        boxes: list[etree._Element] = []
        self._runs(p, pieces, boxes)
        for box in boxes:  # a text box's paragraphs come before the anchoring paragraph's text
            self.boxes += 1
            self.block(box, f"文本框{self.boxes}")
        source = where or f"第{self.paragraphs}段"
        for i, text in enumerate("".join(pieces).split("\n")):
            self.lines.append(Line(_clean(text), source if i == 0 else f"{source}（换行{i}）"))

    def _runs(self, element: etree._Element, pieces: list[str], boxes: list[etree._Element]) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == f"{_W}t":
                pieces.append(child.text or "")
            elif tag == f"{_W}tab":
                pieces.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                pieces.append("\n")
            elif tag == f"{_W}txbxContent":
                boxes.append(child)
            else:
                self._runs(child, pieces, boxes)

    def table(self, tbl: etree._Element) -> None:
        self.tables += 1
        for r, row in enumerate(tbl.iterfind(f"{_W}tr"), 1):
            for c, cell in enumerate(row.iterfind(f"{_W}tc"), 1):
                self.block(cell, f"表格{self.tables}第{r}行第{c}列")


# ---- PDF -------------------------------------------------------------------------------------
def _pdf_lines(data: bytes, name: str, limits: ReadLimits) -> tuple[list[Line], list[str]]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # hostile files make it chatty
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise IntakeError(name, "是加密的 PDF", "请发文单位提供未加密的文件，或用 PDF 阅读器去除密码后另存，再重新收文")
        pages = len(reader.pages)
        if pages > limits.max_pdf_pages:
            raise IntakeError(name, f"有 {pages} 页，超过上限 {limits.max_pdf_pages} 页", "请确认文件内容，或把公文部分单独导出后再收文")
        lines: list[Line] = []
        for number, page in enumerate(reader.pages, 1):
            text = page.extract_text() or ""
            lines.extend(Line(_clean(t), f"第{number}页第{i}行") for i, t in enumerate(text.splitlines(), 1))
            if len(lines) > limits.max_lines:
                break
    except IntakeError:
        raise
    except RecursionError:
        raise IntakeError(name, "的 PDF 结构嵌套过深（疑似恶意文件）", "请向发文单位核实并重新索取文件") from None
    except Exception as exc:  # pypdf raises many kinds on hostile input; none may escape as a crash
        raise IntakeError(name, f"已损坏或不完整（PDF 无法读取：{type(exc).__name__}）", "请向发文单位重新索取文件，或请其另存为 .docx") from None
    if not any(line.text.strip() for line in lines):
        raise IntakeError(name, "是没有文字层的 PDF（扫描件）", "请先做文字识别（OCR），或向发文单位索取 .docx 或带文字层的 PDF，再重新收文")
    misplaced = [line.source for line in lines if _MISPLACED_QUOTES.search(line.text)]
    warnings = [f"PDF 文字层中引号的位置可能错乱（{'、'.join(misplaced[:5])}；引号用了另一种字体时常见），请核对标题和正文中的引号"] if misplaced else []
    return lines, warnings


# ---- OFD (GB/T 33190) ------------------------------------------------------------------------
_OFD = "{http://www.ofdspec.org/2016}"


def _ofd_part(archive: zipfile.ZipFile, part: str, name: str, limits: ReadLimits) -> etree._Element:
    data = read_part(archive, part, name, limits)
    if data is None:
        raise IntakeError(name, f"已损坏（OFD 缺少部件 {part}）", "请向发文单位重新索取文件")
    return parse_xml(data, name, part)


def _ofd_lines(data: bytes, name: str, limits: ReadLimits) -> list[Line]:
    """The text of an OFD's pages (OFD.xml → DocRoot → Pages), one line per baseline: the
    TextCodes of a page grouped by their Y (within 1 mm), each line ordered by X."""
    archive = open_zip(data, name, limits)
    root = (_ofd_part(archive, "OFD.xml", name, limits).findtext(f"{_OFD}DocBody/{_OFD}DocRoot") or "").strip().lstrip("/")
    if not root:
        raise IntakeError(name, "已损坏（OFD.xml 没有指明文档 DocRoot）", "请向发文单位重新索取文件")
    folder = root.rsplit("/", 1)[0] if "/" in root else ""
    pages = _ofd_part(archive, root, name, limits).findall(f"{_OFD}Pages/{_OFD}Page")
    if len(pages) > limits.max_pdf_pages:
        raise IntakeError(name, f"有 {len(pages)} 页，超过上限 {limits.max_pdf_pages} 页", "请确认文件内容，或把公文部分单独导出后再收文")
    lines: list[Line] = []
    for number, page in enumerate(pages, 1):
        location = (page.get("BaseLoc") or "").lstrip("/")
        content = _ofd_part(archive, location if (page.get("BaseLoc") or "").startswith("/") else f"{folder}/{location}".lstrip("/"), name, limits)
        codes: list[tuple[float, float, str]] = []
        for obj in content.iter(f"{_OFD}TextObject"):
            try:
                box = [float(v) for v in (obj.get("Boundary") or "0 0 0 0").split()]
                for code in obj.iter(f"{_OFD}TextCode"):
                    codes.append((box[1] + float(code.get("Y") or 0), box[0] + float(code.get("X") or 0), code.text or ""))
            except (ValueError, IndexError):
                raise IntakeError(name, f"已损坏（第{number}页的文字位置不是数字）", "请向发文单位重新索取文件") from None
        rows: list[list[tuple[float, float, str]]] = []
        for code in sorted(codes):
            if rows and abs(code[0] - rows[-1][0][0]) <= 1.0:
                rows[-1].append(code)
            else:
                rows.append([code])
        lines.extend(Line(_clean("".join(c[2] for c in sorted(row, key=lambda c: c[1]))), f"第{number}页第{i}行") for i, row in enumerate(rows, 1))
        if len(lines) > limits.max_lines:
            break
    if not any(line.text.strip() for line in lines):
        raise IntakeError(name, "是没有文字的 OFD（扫描件）", "请先做文字识别（OCR），或向发文单位索取 .docx 或带文字层的版式文件，再重新收文")
    return lines


# PDF names that make a file do something when opened: what each is, for the person registering it.
_ACTIVE_NAMES = {
    "/JavaScript": "JavaScript 脚本",
    "/JS": "JavaScript 脚本",
    "/OpenAction": "打开文件即执行的动作（/OpenAction）",
    "/AA": "自动触发的动作（/AA）",
    "/Launch": "启动外部程序的动作（/Launch）",
    "/EmbeddedFiles": "内嵌文件（/EmbeddedFiles）",
    "/EmbeddedFile": "内嵌文件（/EmbeddedFiles）",
    "/RichMedia": "富媒体（/RichMedia）",
    "/SubmitForm": "提交表单到外部地址的动作（/SubmitForm）",
}
_ACTIVE_WALK_LIMIT = 50_000  # objects visited at most: a hostile file cannot make the walk endless


def pdf_active_content(data: bytes) -> list[str]:
    """What in a PDF acts when it is opened (JavaScript, launch and open actions, embedded
    files), each said once in Chinese; [] for a PDF without any (or one pypdf cannot walk: the
    text extraction refuses those). The file is never run: its object tree is only walked."""
    import logging

    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    found: dict[str, None] = {}
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        todo: list[object] = [reader.trailer]
        seen: set[tuple[int, int]] = set()
        visited = 0
        while todo and visited < _ACTIVE_WALK_LIMIT:
            node = todo.pop()
            visited += 1
            if isinstance(node, IndirectObject):
                key = (node.idnum, node.generation)
                if key in seen:
                    continue
                seen.add(key)
                node = node.get_object()
            if isinstance(node, DictionaryObject):
                for name, value in node.items():
                    if name in _ACTIVE_NAMES:
                        found[_ACTIVE_NAMES[name]] = None
                    if name == "/S" and isinstance(value, NameObject) and str(value) in _ACTIVE_NAMES:
                        found[_ACTIVE_NAMES[str(value)]] = None
                    if name not in ("/Parent", "/P"):  # back references: the tree is walked downwards
                        todo.append(value)
            elif isinstance(node, ArrayObject):
                todo.extend(node)
    except Exception:  # pypdf on hostile input: the reader refuses the file elsewhere
        return list(found)
    return list(found)
