"""The filed copies (归档文件) on disk: digests (SHA-256 and SM3), the archive stamp (归档章)
drawn into a .docx, pages with text (页数), the text for the search index, file formats.

页数 is measured, not guessed: an item's .docx files are converted by the process's warm
LibreOffice (``doc_templates/pdf.py``) and pypdfium2 counts the pages that carry text (the same
counts as poppler's ``pdftotext`` on every demo and test PDF, ~10 ms instead of ~0.2–0.4 s a
file); counts are cached by the file's SHA-256 (a document received by 28 organisations is
converted once). Where LibreOffice is not installed (a bare ``pip install``), a .docx's count is
estimated from the GB/T 9704 grid (22 lines of 28 characters) and marked
``pages_method: "estimate"`` — the catalogue's 备注 says so.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
from gmssl import func as gm_func
from gmssl import sm3
from lxml import etree

from gongwen_engine.doc_templates import pdf as pdf_conversion
from gongwen_engine.doc_templates.page_bound import fits_one_page
from gongwen_engine.models.rules.archive import ArchiveStamp

log = logging.getLogger(__name__)
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}
DOCUMENT_XML = "word/document.xml"
STAMP_CAPTION = "归档章"
MM = 56.7  # twips per millimetre
_PAGE_CACHE: dict[str, tuple[int, str]] = {}  # this process's measurements, by the file's SHA-256
_shared_pages: Path | None = None  # where the processes of one GONGWEN_HOME share LibreOffice's counts (share_page_counts)


def share_page_counts(folder: Path | None) -> None:
    """Share the page counts LibreOffice measures with the other processes of this machine that
    use ``folder`` (the batch runner's helper processes: a document issued in one is filed by
    its recipients in another). A count is a file named by the .docx's digest, written whole or
    not at all; a cache, so it is not synced (a count lost is measured again). None: not shared."""
    global _shared_pages
    _shared_pages = folder


def _known_pages(sha256: str) -> tuple[int, str] | None:
    """The count of the file with this digest measured by this process or, shared, another."""
    found = _PAGE_CACHE.get(sha256)
    if found is None and _shared_pages is not None:
        try:
            pages, method = (_shared_pages / sha256[:2] / sha256).read_text(encoding="ascii").split()
            found = _PAGE_CACHE[sha256] = (int(pages), method)
        except (OSError, ValueError):  # not measured yet, or by an older gongwen whose line does not read
            return None
    return found


def _measured(sha256: str, pages: int) -> None:
    """Keep LibreOffice's count of a .docx, and share it (``share_page_counts``)."""
    _PAGE_CACHE[sha256] = (pages, "libreoffice")
    if _shared_pages is None:
        return
    path = _shared_pages / sha256[:2] / sha256
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{sha256}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{pages} libreoffice\n")
        os.replace(temporary, path)
    except OSError as exc:  # a full disk: the other processes measure it themselves
        log.warning("page count of %s not shared (%s)", sha256, exc)


@dataclass(frozen=True)
class Digests:
    """固化信息: the file's size and its SHA-256 and SM3 (GB/T 32905) digests, hex."""

    size: int
    sha256: str
    sm3: str


def sm3_hex(data: bytes) -> str:
    """SM3 (GB/T 32905): OpenSSL's through hashlib where it has it, else gmssl's pure Python (~270 KB/s)."""
    if "sm3" in hashlib.algorithms_available:
        return hashlib.new("sm3", data).hexdigest()
    digest: str = sm3.sm3_hash(gm_func.bytes_to_list(data))  # gmssl ships no type information
    return digest


def digests(data: bytes) -> Digests:
    return Digests(len(data), hashlib.sha256(data).hexdigest(), sm3_hex(data))


def ofd_pages(data: bytes) -> int:
    """Pages of an OFD package (its ``Pages/Page_N/Content.xml`` parts)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return sum(1 for n in z.namelist() if "/Pages/Page_" in n and n.endswith("/Content.xml")) or 1


def file_format(data: bytes, name: str) -> str:
    """The format the bytes really are (docx / pdf / ofd / txt), or 'unknown'."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return "unknown"
        if DOCUMENT_XML in names:
            return "docx"
        if "OFD.xml" in names:
            return "ofd"
        return "zip"
    if data[:5] == b"%PDF-":
        return "pdf"
    if name.endswith(".txt"):
        return "txt"
    return "unknown"


# ---- the archive stamp ------------------------------------------------------------------------------


def stamp_xml(stamp: ArchiveStamp) -> str:
    """A 45 × 16 mm floating table of six 15 × 8 mm cells, centred 12 mm below the top edge of the
    first page (the blank 天头 above the type area), red like an ink stamp."""
    cell_w, row_h = round(15 * MM), round(8 * MM)
    border = "".join(f'<w:{side} w:val="single" w:sz="8" w:space="0" w:color="FF0000"/>' for side in ("top", "left", "bottom", "right", "insideH", "insideV"))
    rows = []
    for values in stamp.rows():
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="{cell_w}" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr>'
            f'<w:p><w:pPr><w:snapToGrid w:val="0"/><w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
            f'<w:ind w:firstLine="0" w:firstLineChars="0"/><w:jc w:val="center"/></w:pPr>'
            f'<w:r><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:eastAsia="宋体"/>'
            f'<w:color w:val="FF0000"/><w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'
            f"<w:t>{_escape(v)}</w:t></w:r></w:p></w:tc>"
            for v, size in ((v, stamp_size(v)) for v in values)
        )
        rows.append(f'<w:tr><w:trPr><w:trHeight w:val="{row_h}" w:hRule="exact"/><w:jc w:val="center"/></w:trPr>{cells}</w:tr>')
    labels = " / ".join("·".join(r) for r in ArchiveStamp.LABELS)
    grid = f'<w:gridCol w:w="{cell_w}"/>' * 3
    return (
        '<w:tbl><w:tblPr><w:tblpPr w:leftFromText="0" w:rightFromText="0" w:topFromText="0" w:bottomFromText="0" '
        f'w:vertAnchor="page" w:horzAnchor="page" w:tblpXSpec="center" w:tblpY="{round(12 * MM)}"/><w:tblOverlap w:val="overlap"/>'
        f'<w:tblW w:w="{3 * cell_w}" w:type="dxa"/><w:tblBorders>{border}</w:tblBorders><w:tblLayout w:type="fixed"/>'
        '<w:tblCellMar><w:left w:w="0" w:type="dxa"/><w:right w:w="0" w:type="dxa"/></w:tblCellMar>'
        f'<w:tblCaption w:val="{STAMP_CAPTION}"/><w:tblDescription w:val="{_escape(labels)}"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
    )


STAMP_SIZE_PT = 10.0  # the stamp's lettering, where a value fits its cell at it
STAMP_CELL_TEXT_PT = 40.5  # a 15 mm cell (42.5 pt) less its red lines and a little air


def stamp_size(value: str) -> int:
    """The size (half-points, w:sz) of one stamp cell's value: 10 pt, or less so that it stays on
    one line of its 15 mm cell (an eight-character 全宗号 such as S0370102 wrapped at 10 pt),
    reckoning an ideograph 1 em and any other character 0.6 em (wider than Times' digits and most
    capitals); never below 6 pt."""
    ems = sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6 for ch in value) or 1.0
    return max(12, min(round(2 * STAMP_SIZE_PT), int(2 * STAMP_CELL_TEXT_PT / ems)))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def stamp_docx(data: bytes, stamp: ArchiveStamp) -> bytes:
    """The .docx with the archive stamp as the first element of its body (the first page's top).
    Other parts are copied unchanged, entry by entry, with their original zip metadata."""
    return stamp_docx_with_paragraphs(data, stamp, paragraphs=False)[0]


def stamp_docx_with_paragraphs(data: bytes, stamp: ArchiveStamp, paragraphs: bool = True) -> tuple[bytes, list[str]]:
    """``stamp_docx`` and, from the same reading of the .docx, its ``docx_paragraphs`` before the
    stamp (归档 takes both from the item's first .docx; [] when ``paragraphs`` is False)."""
    out = io.BytesIO(b"")
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == DOCUMENT_XML:
                if paragraphs:
                    texts = _paragraphs(etree.fromstring(body))
                xml = body.decode("utf-8")
                match = re.search(r"<w:body>", xml)
                if match is None:
                    raise ValueError("the .docx has no <w:body>: not a WordprocessingML document")
                xml = xml[: match.end()] + stamp_xml(stamp) + xml[match.end() :]
                body = xml.encode("utf-8")
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue(), texts


def read_stamp(data: bytes) -> tuple[tuple[str, ...], ...] | None:
    """The six cells of the archive stamp in a filed .docx (rows of values), or None."""
    root = _document_root(data)
    for tbl in root.iter(f"{{{W}}}tbl"):
        caption = tbl.find("w:tblPr/w:tblCaption", NS)
        if caption is not None and caption.get(f"{{{W}}}val") == STAMP_CAPTION:
            return tuple(tuple("".join(tc.itertext()) for tc in tr.findall("w:tc", NS)) for tr in tbl.findall("w:tr", NS))
    return None


def _document_root(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return etree.fromstring(z.read(DOCUMENT_XML))


def docx_paragraphs(data: bytes) -> list[str]:
    """The text of every paragraph of the body, the archive stamp left out (the usability check
    parses every filed .docx through this)."""
    return _paragraphs(_document_root(data))


def _paragraphs(root: etree._Element) -> list[str]:
    out = []
    for p in root.iter(f"{{{W}}}p"):
        if any(_is_stamp(a) for a in p.iterancestors(f"{{{W}}}tbl")):
            continue
        text = "".join(t.text or "" for t in p.iter(f"{{{W}}}t"))
        if text.strip():
            out.append(text)
    return out


def _is_stamp(tbl: etree._Element) -> bool:
    caption = tbl.find("w:tblPr/w:tblCaption", NS)
    return caption is not None and caption.get(f"{{{W}}}val") == STAMP_CAPTION


# ---- pages with text (页数) ----------------------------------------------------------------------------


def pages_with_text(files: list[tuple[Path, str]]) -> list[tuple[int, str]]:
    """(pages that carry text, method) for each (path, sha256). Measured: 'pdfium' for a PDF
    (records filed before pypdfium2 counted say 'pdftotext', which gave the same counts),
    'libreoffice' for a .docx — every .docx not yet measured is converted in one call
    of the warm LibreOffice, and counts are cached by digest (a document received by 28
    organisations is converted once). A .docx whose height, bounded from above (``page_bound.py``),
    fits on one page (a processing slip, a draft sheet) is 1 without converting it: 'bound' (the
    tests check such documents, the demo chain's and varied records, against LibreOffice). 'estimate' (the 22 × 28
    grid) only where LibreOffice is missing, or for a PDF pdfium cannot read."""
    tools = bool(shutil.which("soffice"))
    for path, sha in files:
        if _known_pages(sha) is None and path.suffix.lower() == ".docx" and fits_one_page(path.read_bytes()):
            _PAGE_CACHE[sha] = (1, "bound")
    todo = {sha: path for path, sha in files if sha not in _PAGE_CACHE and path.suffix.lower() == ".docx" and tools}
    if todo:
        for sha, pages in zip(todo, _libreoffice_pages(list(todo.values())), strict=True):
            _measured(sha, pages)
    out = []
    for path, sha in files:
        if sha not in _PAGE_CACHE:
            data = path.read_bytes()
            kind = file_format(data, path.name)
            try:
                if kind == "ofd":
                    _PAGE_CACHE[sha] = (ofd_pages(data), "ofd")
                else:
                    _PAGE_CACHE[sha] = (text_pages_of_pdf(data), "pdfium") if kind == "pdf" else (estimate_pages(data) if kind == "docx" else 1, "estimate")
            except pypdfium2.PdfiumError:
                _PAGE_CACHE[sha] = (1, "estimate")
        out.append(_PAGE_CACHE[sha])
    return out


def text_pages_of_pdf(pdf: bytes) -> int:
    """Pages whose text layer has anything but white space (what ``pdftotext`` shows between
    form feeds), read with pypdfium2 in-process."""
    return text_pages(pdf_conversion.page_texts(pdf))


def text_pages(texts: list[str]) -> int:
    """How many of the pages' text layers have anything but white space."""
    return sum(1 for text in texts if text.strip())


def _libreoffice_pages(docx_files: list[Path]) -> list[int]:
    """Convert the files with the process's LibreOffice (doc_templates/pdf.py) and count their pages."""
    return [text_pages_of_pdf(data) for data in pdf_conversion.docx_files_to_pdf_bytes(docx_files)]


def grid_sections(data: bytes) -> list[int]:
    """Grid lines (22 a page, 28 characters a line) per run of pages between explicit page
    breaks: a paragraph takes ceil(width / 28) lines, a table row at least its fixed height."""
    root = _document_root(data)
    sections, lines = [], 0
    for p in root.iter(f"{{{W}}}p"):
        if p.find("w:pPr/w:pageBreakBefore", NS) is not None or p.find(".//w:br[@w:type='page']", NS) is not None:
            sections.append(lines)
            lines = 0
        text = "".join(t.text or "" for t in p.iter(f"{{{W}}}t"))
        lines += max(1, math.ceil(sum(1 if ord(ch) > 0x2E80 else 0.5 for ch in text) / 28))
    for height in root.iterfind(".//w:trPr/w:trHeight", NS):
        lines += math.ceil(int(height.get(f"{{{W}}}val", "0")) / 579)
    sections.append(lines)
    return sections


def estimate_pages(data: bytes) -> int:
    """Pages from the grid alone; only used where LibreOffice is missing (marked 'estimate')."""
    return sum(max(1, math.ceil(lines / 22)) for lines in grid_sections(data) if lines) or 1


def remember_pages_of_conversion(docx_sha256: str, texts: list[str]) -> None:
    """Pages with text of a .docx whose LibreOffice PDF was made elsewhere (用印 converts the issued
    copy; ``texts``: its pages' text layers, ``pdf.page_texts``): same measurement, no second conversion."""
    if docx_sha256 not in _PAGE_CACHE:
        _measured(docx_sha256, text_pages(texts))
