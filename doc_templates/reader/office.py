"""Files a person gives with a draft (拟稿): an attachment file (附件: PDF, .docx, .xlsx, an image)
and the 正文 drafted in Word/WPS (.docx) to be laid out in the red-header template (套红).

Both are hostile until read, like a received file: the size is checked first, a zip container
(.docx, .xlsx) goes through the receipt reader's limits (:func:`.loading.open_zip`: parts, sizes,
ratios, encryption), and the format is decided by the content, not the name. Refusals are
:class:`Refusal` with the Chinese text and what to do.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from docx import Document as open_docx  # python-docx
from docx.text.paragraph import Paragraph

from gongwen_engine.config.errors import Refusal
from gongwen_engine.doc_templates.elements import heading_level
from gongwen_engine.doc_templates.reader.errors import IntakeError
from gongwen_engine.doc_templates.reader.loading import ReadLimits, open_zip

# The attachment formats (by content) and the extensions that may name them.
ATTACHMENT_FORMATS: dict[str, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "docx": (".docx",),
    "xlsx": (".xlsx",),
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg"),
}
FORMAT_WORDS = {"pdf": "PDF", "docx": "Word（.docx）", "xlsx": "Excel（.xlsx）", "png": "PNG 图片", "jpeg": "JPEG 图片"}
OLD_OFFICE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 .doc, .xls, WPS .wps (OLE compound file)
SAVE_AS_DOCX = "请在 Word 或 WPS 中打开，“另存为”Word 文档（.docx）后再上传"
ALLOWED_WORDS = "PDF、Word（.docx）、Excel（.xlsx）、PNG 或 JPEG 图片"


def _refusal(what: str, name: str, problem: str, todo: str) -> Refusal:
    return Refusal(f"{what}“{name}”{problem}。{todo}。")


def _zip_names(data: bytes, name: str, what: str, limits: ReadLimits) -> set[str]:
    try:
        return {info.filename for info in open_zip(data, name, limits).infolist()}
    except IntakeError as exc:  # the zip library's own words (English) are left out of a damaged file's message
        problem = "已损坏或不完整，无法打开" if exc.what.startswith("已损坏") else exc.what
        raise _refusal(what, name, problem, "请检查文件后重新上传") from None


def attachment_format(data: bytes, name: str, max_bytes: int) -> str:
    """The format of an attachment file (pdf, docx, xlsx, png, jpeg), decided by its content and
    agreeing with its extension; anything else, an empty or too large file, is refused."""
    what = "附件"
    if not data:
        raise _refusal(what, name, "是空文件（0 字节）", "请选择有内容的文件")
    if len(data) > max_bytes:
        raise _refusal(what, name, f"大小 {len(data) / 1048576:.1f} MB，超过附件上限 {max_bytes / 1048576:.0f} MB", "请压缩或拆分后再上传")
    ext = Path(name).suffix.lower()
    if data.startswith(OLD_OFFICE):
        raise _refusal(what, name, "是旧版 Office（.doc、.xls）或 WPS 格式", "请“另存为” .docx 或 .xlsx 后再上传")
    if data.startswith(b"%PDF-"):
        fmt = "pdf"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        fmt = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        fmt = "jpeg"
    elif data.startswith(b"PK\x03\x04"):
        parts = _zip_names(data, name, what, ReadLimits(max_bytes=max_bytes))
        if "word/document.xml" in parts:
            fmt = "docx"
        elif "xl/workbook.xml" in parts:
            fmt = "xlsx"
        else:
            raise _refusal(what, name, "是压缩包，不是 Word 或 Excel 文件", f"附件可以是{ALLOWED_WORDS}")
    else:
        raise _refusal(what, name, "的格式不能作为附件上传", f"附件可以是{ALLOWED_WORDS}")
    if ext not in ATTACHMENT_FORMATS[fmt]:
        raise _refusal(what, name, f"扩展名是 {ext or '（无）'}，内容却是{FORMAT_WORDS[fmt]}", f"请把扩展名改为 {ATTACHMENT_FORMATS[fmt][0]} 后再上传")
    return fmt


# ---- the 正文 drafted in Word (套红) ------------------------------------------------------------------

_CN_DIGITS = "零一二三四五六七八九"
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-4])$", re.IGNORECASE)
_TITLE_STYLES = {"title", "标题"}


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 23 → 二十三 (heading numbers stay below a hundred)."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def heading_mark(level: int, n: int) -> str:
    """层次序数 of the ``n``-th heading of ``level``: 一、 /（一）/ 1. /（1）(GB/T 9704 §7.3.3)."""
    return {1: f"{chinese_number(n)}、", 2: f"（{chinese_number(n)}）", 3: f"{n}.", 4: f"（{n}）"}[level]


@dataclass
class WordDraft:
    """What a Word draft gives the template: its title (a paragraph in the 标题/Title style, if any)
    and the 正文 paragraphs, headings starting with their 层次序数."""

    title: str | None
    body: list[str]


def _style_level(style_name: str, outline: int | None) -> int:
    if match := _HEADING_STYLE.match(style_name.strip()):
        return int(match.group(1))
    return outline + 1 if outline is not None and 0 <= outline < 4 else 0


def _outline_level(paragraph: Paragraph) -> int | None:
    """A paragraph's own outline level (大纲级别, ``w:outlineLvl``) as WPS writes it for headings
    (python-docx has no public name for it)."""
    ppr = paragraph._p.pPr
    if ppr is None:
        return None
    found = ppr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl")
    if found is None:
        return None
    value = found.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val")
    return int(value) if value and value.isdigit() else None


def word_draft(data: bytes, name: str, max_bytes: int) -> WordDraft:
    """The 正文 of a .docx drafted in Word/WPS: every non-empty paragraph of the body in order; a
    heading (style 标题 1–4 / Heading 1–4, or an outline level 1–4) starts with its 层次序数,
    counted as Word numbers them when the text does not carry it; a paragraph in the Title style is
    the title. A .doc or .wps is refused with the hint to save it as .docx."""
    what = "正文文件"
    ext = Path(name).suffix.lower()
    if data.startswith(OLD_OFFICE) or ext in (".doc", ".wps", ".wpt", ".dot"):
        raise _refusal(what, name, "是旧版 Word 97-2003（.doc）或 WPS（.wps）格式，不能直接套红", SAVE_AS_DOCX)
    if not data:
        raise _refusal(what, name, "是空文件（0 字节）", "请选择起草好的正文文件")
    if len(data) > max_bytes:
        raise _refusal(what, name, f"大小 {len(data) / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB", "请删去正文中的大图片后再上传")
    if not data.startswith(b"PK\x03\x04") or "word/document.xml" not in _zip_names(data, name, what, ReadLimits(max_bytes=max_bytes)):
        raise _refusal(what, name, "不是 Word 文档（.docx）", SAVE_AS_DOCX)
    if ext != ".docx":
        raise _refusal(what, name, f"扩展名是 {ext or '（无）'}，内容却是 Word 文档", "请把扩展名改为 .docx 后再上传")
    try:
        document = open_docx(io.BytesIO(data))
    except Exception:  # python-docx raises many kinds on a damaged package
        raise _refusal(what, name, "已损坏，无法打开", SAVE_AS_DOCX) from None
    title: str | None = None
    body: list[str] = []
    counters = [0, 0, 0, 0, 0]
    for paragraph in document.paragraphs:
        text = paragraph.text.strip(" \t\u3000\r\n")
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None and paragraph.style.name else ""
        if style.strip().lower() in _TITLE_STYLES and title is None and not body:
            title = text
            continue
        level = _style_level(style, _outline_level(paragraph))
        written = heading_level(text)
        if written:
            counters[written] += 1
            counters[written + 1 :] = [0] * (4 - written)
        elif level:
            counters[level] += 1
            counters[level + 1 :] = [0] * (4 - level)
            text = heading_mark(level, counters[level]) + text
        body.append(text)
    if not body:
        raise _refusal(what, name, "没有正文文字", "请确认上传的是起草好的正文")
    return WordDraft(title, body)
