"""印制 with the 版记 on an even page: render, look at the pages LibreOffice lays out, re-render
once when needed (GB/T 9704-2012 §7.4; domain README §3.3–3.4).

Where the 版记 falls is known only after pagination, so the first rendering puts it where it
would go (at the bottom of the last page of text, or alone on a new page after a forwarded
original's own 版记) and is converted to PDF. When the 版记 page is odd:

* the 版记 shares that page with text: it moves alone to the next page, which is even and keeps
  its page number (``ColophonPlace.new_page``);
* it is alone on the odd page (the even page before it was full): an unnumbered blank page goes
  before it, and the 版记 page after it is unnumbered too (``ColophonPlace.after_blank``).

The conversion is not wasted: it is cached by the .docx's digest, and the 用印 step that follows
reuses it. The extra cost, a second rendering and conversion, is paid only by documents whose
版记 page came out odd (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gongwen_engine.config.schema import HouseStyle
from gongwen_engine.doc_templates.checks import colophon_marker, colophon_page, holds_more_than_colophon, needs_even_page, pdf_lines, squash
from gongwen_engine.doc_templates.elements import ColophonPlace
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf, page_texts
from gongwen_engine.doc_templates.render import RenderResult, render_docx
from gongwen_engine.models.content import DocumentContent

TAIL_PAGES = 3  # the 版记 of the whole is on one of the last pages: lay out only those


def even_colophon_place(pdf: bytes, whole: DocumentContent) -> ColophonPlace | None:
    """The placement that puts the 版记 on an even page, or None when it is on one already
    (or the document has no 版记)."""
    marker = colophon_marker(whole)
    if marker is None or not needs_even_page(whole):
        return None
    # pdfium's plain text (~1 ms a page) says where the 版记 is; pdfplumber's lines (~25 ms a
    # page) are read only when it is on an odd page
    texts = [squash(text) for text in page_texts(pdf)]
    found = [index for index, text in enumerate(texts) if marker in text]
    if found and (found[-1] + 1) % 2 == 0:
        return None
    pages = pdf_lines(pdf, last=TAIL_PAGES)
    index = colophon_page(pages, whole)
    if index is None or (index + 1) % 2 == 0:
        return None
    return ColophonPlace.new_page if holds_more_than_colophon(pages[index], whole) else ColophonPlace.after_blank


def render_issued(parts: Sequence[DocumentContent], path: Path, style: HouseStyle | None = None) -> RenderResult:
    """Render the issued copy (正本) at ``path`` with its 版记 on an even page (``style``: the
    issuer's house style)."""
    result = render_docx(parts, path, style=style)
    place = even_colophon_place(docx_bytes_to_pdf(path), parts[0])
    if place is None:
        return result
    return render_docx(parts, path, place, style)
