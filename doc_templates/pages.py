"""印制 with the 版记 on an even page: render, look at the pages LibreOffice lays out, re-render
once when needed (GB/T 9704-2012 §7.4; domain README §3.3–3.4).

Where the 版记 falls is known only after pagination, so the first rendering puts it where it
would go (at the bottom of the last page of text, or alone on a new page after a forwarded
original's own 版记) and is converted to PDF. When the 版记 page is odd:

* the 版记 shares that page with text: it moves alone to the next page, which is even and keeps
  its page number (``ColophonPlace.new_page``);
* it is alone on the odd page (the even page before it was full): an unnumbered blank page goes
  before it, and the 版记 page after it is unnumbered too (``ColophonPlace.after_blank``).

Before that, the text must start on page 1 (GB/T 9704-2012 §7.3.3). The keep-together chain
(keepNext from the last paragraph of text down to the 成文日期) makes LibreOffice move the whole
last paragraph to the next page when the chain does not fit; when that paragraph is also the
first, page 1 is left without text. Then the document is rendered again with the paragraph split
in two at a line break read from the PDF, only its last two lines (one, for a paragraph of two)
kept with the signature (``tail``; elements.split_last_paragraph): the first lines stay on
page 1 and the signature's page still holds text. (LibreOffice does not split a kept paragraph
even with widow and orphan control.)

The conversion is not wasted: it is cached by the .docx's digest, and the 用印 step that follows
reuses it. The extra cost, a second rendering and conversion, is paid only by documents whose
版记 page came out odd (docs/performance.md).

One placement can be tried before converting at all (``predicted_place``): when the
document ends with a forwarded original (or an attachment) that carries its own 版记, the whole's
版记 goes alone on a page of its own after a forced break, so the pages before it do not depend
on where it goes, and it can only need ``after_blank`` or nothing. That document is rendered
with ``after_blank`` first and converted once; ``after_blank_confirmed`` checks on that PDF that
the rendering without the move would have put the 版记 alone on an odd page (the page before the
blank one holds something, the 版记 page is even) and the text starts on page 1: then the first
rendering of the two-pass way would have led to exactly this .docx. Otherwise the document takes
the two-pass way (``render_measured``), so the result never depends on the prediction. Every
forward of the national cascade needs the move: one conversion each instead of two; a forward
that needs none pays one wasted conversion (docs/performance.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from gongwen_engine.config.schema import HouseStyle
from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.checks import colophon_marker, colophon_page, holds_more_than_colophon, needs_even_page, paragraph_lines
from gongwen_engine.doc_templates.elements import ColophonPlace, document_view
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf, page_texts
from gongwen_engine.doc_templates.pdf_lines import pdf_lines, squash
from gongwen_engine.doc_templates.render import RenderResult, house_pitch, render_docx
from gongwen_engine.models.content import DocumentContent

TAIL_PAGES = 3  # the 版记 of the whole is on one of the last pages: lay out only those
KEPT_LINES = 2  # the lines of a split last paragraph kept with the signature
FIRST_CHARS = 8  # page 1 holds the text when it holds the first so many characters of it


def kept_tail(pdf: bytes, whole: DocumentContent) -> int | None:
    """When the text left page 1 with the last paragraph (the keep-together chain moved it
    whole), how many of that paragraph's last characters (white space not counted) to keep with
    the signature: those of its last lines, as LibreOffice broke them. None: the text starts on
    page 1 (or the paragraph has a single line, or its lines cannot be read)."""
    if text_on_page_one(pdf, whole):  # pdfium's plain text: cheap, read for every document
        return None
    found = paragraph_lines(pdf_lines(pdf), whole.body[-1])
    if found is None:
        return None
    page, lines = found
    if page == 0 or len(lines) < 2 or "".join(line.text for line in lines) != squash(whole.body[-1]):
        return None
    kept = lines[-KEPT_LINES:] if len(lines) > KEPT_LINES else lines[-1:]
    return sum(len(line.text) for line in kept)


def even_colophon_place(pdf: bytes, whole: DocumentContent) -> ColophonPlace | None:
    """The placement that puts the 版记 on an even page, or None when it is on one already
    (or the document has no 版记)."""
    marker = colophon_marker(whole)
    if marker is None or not needs_even_page(whole):
        return None
    # pdfium's plain text (~1 ms a page) says where the 版记 is; the lines with their positions
    # (pdf_lines, a few ms a page) are read only when it is on an odd page
    texts = [squash(text) for text in page_texts(pdf)]
    found = [index for index, text in enumerate(texts) if marker in text]
    if found and (found[-1] + 1) % 2 == 0:
        return None
    pages = pdf_lines(pdf, last=TAIL_PAGES)
    index = colophon_page(pages, whole)
    if index is None or (index + 1) % 2 == 0:
        return None
    return ColophonPlace.new_page if holds_more_than_colophon(pages[index], whole) else ColophonPlace.after_blank


def text_on_page_one(pdf: bytes, whole: DocumentContent) -> bool:
    """Does page 1 hold the first characters of the text (or is there no text)?"""
    return not whole.body or squash(whole.body[0])[:FIRST_CHARS] in squash(page_texts(pdf)[0])


def breaks_before_colophon(parts: Sequence[DocumentContent], style: HouseStyle | None = None) -> bool:
    """Does the rendering without a move put the whole's 版记 on a page of its own after a forced
    break (the last part ends with a 版记 of its own: ``document_view``'s default is
    ``new_page``)? Then the pages before it are the same wherever it goes."""
    return document_view(parts, style=style).colophon_place is ColophonPlace.new_page


def predicted_place(parts: Sequence[DocumentContent], style: HouseStyle | None = None) -> ColophonPlace | None:
    """The placement to try first, before any conversion: ``after_blank`` when the whole's 版记
    must be on an even page and comes after a forced break (``breaks_before_colophon``), so
    that only ``after_blank`` or no move can be right; None (nothing to predict: render and
    measure) otherwise. Trying ``after_blank`` there costs no more than the two-pass way on
    average (one conversion when right, two when wrong, where that way takes two when the move is
    needed and one when not) and is right for every forward of the national cascade."""
    whole = parts[0]
    if colophon_marker(whole) is None or not needs_even_page(whole) or not breaks_before_colophon(parts, style):
        return None
    return ColophonPlace.after_blank


def after_blank_confirmed(pdf: bytes, parts: Sequence[DocumentContent], style: HouseStyle | None = None) -> bool:
    """Does the PDF of the rendering of ``parts`` with ``after_blank`` show what the two-pass way
    would have chosen it for? The 版记 comes after a forced break (``breaks_before_colophon``), the
    text starts on page 1, and the 版记 of the whole is on an even page right after a blank page
    that follows a page holding something: the rendering without the move has the same pages
    up to that one and its 版记 alone on the next, odd page, for which ``even_colophon_place``
    chooses ``after_blank``."""
    whole = parts[0]
    if not breaks_before_colophon(parts, style) or not text_on_page_one(pdf, whole) or even_colophon_place(pdf, whole) is not None:
        return False
    marker = colophon_marker(whole)
    texts = [squash(text) for text in page_texts(pdf)]
    found = [index for index, text in enumerate(texts) if marker and marker in text]
    if not found:
        return False
    page = found[-1]  # 0-based: an even page has an odd index
    return page % 2 == 1 and page >= 2 and not texts[page - 1] and bool(texts[page - 2])


def render_issued(parts: Sequence[DocumentContent], path: Path, style: HouseStyle | None = None) -> RenderResult:
    """Render the issued copy (正本) at ``path`` with its 版记 on an even page (``style``: the
    issuer's house style) and its text starting on page 1: the predicted placement converted
    once when its PDF confirms it (``predicted_place``, ``after_blank_confirmed``), else the
    two-pass way (``render_measured``); the same .docx either way."""
    place = predicted_place(parts, style)
    if place is ColophonPlace.after_blank:
        result = render_docx(parts, path, place, style)
        confirmed = _CONFIRMED.get(result.sha256)
        if confirmed is None:
            confirmed = _CONFIRMED[result.sha256] = after_blank_confirmed(docx_bytes_to_pdf(path), parts, style)
            while len(_CONFIRMED) > CONFIRMED_ENTRIES:
                _CONFIRMED.popitem(last=False)  # the oldest (one call: safe beside the other batch slot)
        if confirmed:
            return result
    return render_measured(parts, path, style)


# What ``after_blank_confirmed`` said of a rendering, by the .docx's SHA-256 (the same bytes
# convert to the same PDF): the batch runner renders each issued copy outside the lock first
# (``prepare_printing``), so the 印制 step under the lock renders the same bytes and does not look
# at the PDF again: neither its lookup by the .docx's digest nor the checks' squashed texts (the
# pdfium readings themselves are kept by ``pdf.page_texts`` too, for fewer PDFs) nor, where the
# 版记 fell on an odd page, its lines with their positions.
CONFIRMED_ENTRIES = 512
_CONFIRMED: OrderedDict[str, bool] = OrderedDict()


def render_measured(parts: Sequence[DocumentContent], path: Path, style: HouseStyle | None = None) -> RenderResult:
    """The two-pass way of :func:`render_issued`: render, convert, look where the text and the
    版记 fall, and render again where needed.

    When the last paragraph cannot be split (one line) and its move with the signature leaves
    page 1 without text, the line pitch is tightened (调整行距, GB/T 9704-2012 §7.3.5) step by step
    (layout.SQUEEZES of the grid's or the house style's pitch) until page 1 holds the text; none fitting, the grid's pitch stays and
    the 正文 check reports it."""
    result = render_docx(parts, path, style=style)
    pdf = docx_bytes_to_pdf(path)
    tail = kept_tail(pdf, parts[0])
    if tail is not None:
        result = render_docx(parts, path, style=style, tail=tail)
        pdf = docx_bytes_to_pdf(path)
    pitch = None
    if not text_on_page_one(pdf, parts[0]):
        base = house_pitch(style) or L.LINE_PITCH
        for squeezed in (round(base * fraction) for fraction in L.SQUEEZES):
            tried = render_docx(parts, path, style=style, tail=tail, pitch=squeezed)
            tried_pdf = docx_bytes_to_pdf(path)
            if text_on_page_one(tried_pdf, parts[0]):
                result, pdf, pitch = tried, tried_pdf, squeezed
                break
        else:
            result = render_docx(parts, path, style=style, tail=tail)
            pdf = docx_bytes_to_pdf(path)
    place = even_colophon_place(pdf, parts[0])
    if place is None:
        return result
    return render_docx(parts, path, place, style, tail, pitch)
