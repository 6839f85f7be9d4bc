"""The text lines of a PDF's pages, read in-process with pdfium (pypdfium2).

One reading of a page's lines serves the GB/T 9704 checks (``checks.py``), the pagination of
印制 (``pages.py``) and 用印's search for the signature (``seal.py``). pdfium gives each
character's code, origin, size, font and fill colour in C; grouping them into lines here takes
a few milliseconds a page, where pdfplumber's layout analysis took 25–100 ms a page — most of
the CPU of 印制 and 用印 in the national cascade (docs/performance.md).

The geometry is pdfplumber's for the PDFs LibreOffice writes (tests/test_pdf_lines.py compares
the two on the demo's documents): a character's box is its em square standing on the baseline
(``bottom`` = baseline, ``top`` = baseline − size, in points from the top left of the page),
from its origin to the right edge of its advance; characters whose tops are within
``Y_TOLERANCE`` of the previous one's form one line, read left to right.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gongwen_engine.doc_templates.pdf import PDFIUM_LOCK

if TYPE_CHECKING:
    from pypdfium2 import PdfPage

Y_TOLERANCE = 3.0  # points: characters whose tops differ by no more belong to one line (pdfplumber's default)
_SPACES = re.compile(r"\s+")
_SUBSET_PREFIX = re.compile(r"^[A-Z]{6}\+")
_CID_SUFFIX = re.compile(r"-(VKana|Ideographs|Generic\w*|Dingbats|Proportional|HKana|Alphabetic)$")

RGB = tuple[float, float, float]


def squash(text: str) -> str:
    """``text`` without any white space (how lines are compared: PDF text extraction puts spaces
    between digits and Chinese)."""
    return _SPACES.sub("", text)


def face_name(fontname: str) -> str:
    """An embedded font's face: subset prefix and CID sub-font suffix dropped
    ("BAAAAA+NotoSerifCJKjp-Bold-VKana" -> "NotoSerifCJKjp-Bold")."""
    return _CID_SUFFIX.sub("", _SUBSET_PREFIX.sub("", fontname))


def is_chinese(ch: str) -> bool:
    """A character set in the Chinese face of its run (hanzi, full-width punctuation), not in the
    Latin face (digits, Latin letters, half-width punctuation)."""
    return any(ord(c) >= 0x2E80 for c in ch)


def is_red(color: object) -> bool:
    """A fill colour (RGB 0–1, or a CMYK tuple) that is red."""
    if not isinstance(color, (tuple, list)):
        return False
    values = [float(v) for v in color]
    if len(values) == 3:
        return values[0] > 0.8 and values[1] < 0.3 and values[2] < 0.3
    if len(values) == 4:
        return values[1] > 0.7 and values[2] > 0.7 and values[3] < 0.3
    return False


@dataclass(frozen=True)
class Line:
    """One text line of a page: its text without spaces, its vertical and horizontal extent
    (points from the top left of the page), the faces its Chinese characters are set in (as
    embedded, see :func:`face_name`) and whether all its characters are red."""

    text: str
    top: float
    bottom: float
    x0: float = 0.0
    x1: float = 0.0
    faces: frozenset[str] = frozenset()
    red: bool = False


@dataclass(frozen=True)
class PageLines:
    """A page's height (points) and its text lines, top to bottom (page numbers included)."""

    height: float
    lines: list[Line]


@dataclass(frozen=True)
class _Char:
    top: float
    bottom: float
    x0: float
    x1: float
    text: str
    font: str
    color: RGB


def read_pages(pdf: bytes, pages: Iterable[int] | None = None) -> dict[int, PageLines]:
    """The lines of the pages ``pages`` (0-based; all when None) by page index; indexes past
    the end are left out. Raises ``pypdfium2.PdfiumError`` for bytes that are not a PDF."""
    return _read(pdf, lambda count: range(count) if pages is None else pages)[1]


def pdf_lines(pdf: bytes, last: int | None = None) -> list[list[Line]]:
    """The text lines of every page, top to bottom (page numbers included). ``last``: read only
    the last so many pages; the others are left empty."""
    count, read = _read(pdf, lambda count: range(0 if last is None else max(0, count - last), count))
    return [read[i].lines if i in read else [] for i in range(count)]


def _read(pdf: bytes, pages_of: Callable[[int], Iterable[int]]) -> tuple[int, dict[int, PageLines]]:
    """The document's page count and the lines of the pages ``pages_of(count)`` names (opened once)."""
    import pypdfium2

    with PDFIUM_LOCK:  # pdfium is not thread-safe
        document = pypdfium2.PdfDocument(pdf)
        try:
            count = len(document)
            found = {}
            for index in sorted({i for i in pages_of(count) if 0 <= i < count}):
                page = document[index]
                try:
                    found[index] = PageLines(page.get_height(), _lines(_chars(page)))
                finally:
                    page.close()
            return count, found
        finally:
            document.close()


def _chars(page: PdfPage) -> list[_Char]:
    """The characters of a page that print (no spaces, none pdfium generated), with their boxes."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    raw = textpage.raw
    height = page.get_height()
    styles: dict[tuple[int | None, float], tuple[str, RGB]] = {}
    x, y = ctypes.c_double(), ctypes.c_double()
    box = pdfium_c.FS_RECTF()
    chars = []
    try:
        for i in range(pdfium_c.FPDFText_CountChars(raw)):
            code = pdfium_c.FPDFText_GetUnicode(raw, i)
            text = chr(code)
            if not code or text.isspace() or pdfium_c.FPDFText_IsGenerated(raw, i) == 1:
                continue
            size = pdfium_c.FPDFText_GetFontSize(raw, i)
            font, color = _style(pdfium_c.FPDFText_GetTextObject(raw, i), size, styles)
            pdfium_c.FPDFText_GetCharOrigin(raw, i, x, y)
            pdfium_c.FPDFText_GetLooseCharBox(raw, i, box)
            baseline = height - y.value
            chars.append(_Char(baseline - size, baseline, x.value, box.right, text, font, color))
    finally:
        textpage.close()
    return chars


def _style(text_object: Any, size: float, known: dict[tuple[int | None, float], tuple[str, RGB]]) -> tuple[str, RGB]:
    """A text object's font name and fill colour, read once per object (``text_object``: an
    FPDF_PAGEOBJECT, the ctypes pointer pdfium hands out)."""
    import pypdfium2.raw as pdfium_c

    key = (ctypes.cast(text_object, ctypes.c_void_p).value, size)
    if key not in known:
        font = pdfium_c.FPDFTextObj_GetFont(text_object)
        length = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
        name = ctypes.create_string_buffer(max(length, 1))
        pdfium_c.FPDFFont_GetBaseFontName(font, name, length)
        r, g, b, a = (ctypes.c_uint() for _ in range(4))
        pdfium_c.FPDFPageObj_GetFillColor(text_object, r, g, b, a)
        known[key] = (name.value.decode("utf-8", "replace"), (r.value / 255, g.value / 255, b.value / 255))
    return known[key]


def _lines(chars: list[_Char]) -> list[Line]:
    """Characters clustered into lines by their tops (pdfplumber's rule), each read left to right."""
    clusters: list[list[_Char]] = []
    last_top = 0.0
    for char in sorted(chars, key=lambda c: c.top):
        if not clusters or char.top > last_top + Y_TOLERANCE:
            clusters.append([])
        clusters[-1].append(char)
        last_top = char.top
    lines = []
    for cluster in clusters:
        cluster.sort(key=lambda c: c.x0)
        lines.append(
            Line(
                squash("".join(c.text for c in cluster)),
                min(c.top for c in cluster),
                max(c.bottom for c in cluster),
                min(c.x0 for c in cluster),
                max(c.x1 for c in cluster),
                frozenset(face_name(c.font) for c in cluster if is_chinese(c.text)),
                all(is_red(c.color) for c in cluster),
            )
        )
    return lines
