"""Micro-benchmark: the jinja2 fast path against a plain python-docx build, per document.

Both paths write the seed-001 forwarding document (cover letter + forwarded 妇字〔2012〕2号)
to a file, N times. The baseline is what one writes with python-docx alone: a fresh
``Document()`` per file, page setup, styles, footers with the PAGE field, then every
paragraph and run with its fonts, sizes, colour, indents, borders and the colophon table —
the same layout decisions (:func:`part_views`), so the same paragraphs in the same fonts.

    python benchmarks/render_bench.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt, RGBColor, Twips
from docx.text.paragraph import Paragraph

from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.base import page_number_runs_xml
from gongwen_engine.doc_templates.elements import BodyParagraph, ColophonRow, PartView
from gongwen_engine.doc_templates.render import part_views, render_docx
from gongwen_engine.models.content import DocumentContent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from samples import forwarding_sample  # the sample documents are test data (tests/samples.py)

_PPR_AFTER_PBDR = ("w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc")
_RPR_AFTER_W = ("w:kern", "w:position", "w:sz", "w:szCs")


# --- the plain python-docx baseline ----------------------------------------------------------


def _run(
    paragraph: Paragraph, text: str, font: str = L.FONT_FANGSONG, size: float = L.SANHAO, color: str | None = None, scale: int = 100, latin: str = L.FONT_LATIN
) -> None:
    """Add one run with its Latin and East-Asian faces, size, colour and scaling."""
    if not text:
        return
    run = paragraph.add_run(text)
    run.font.name = latin
    run.font.size = Pt(size)
    rpr = run._r.get_or_add_rPr()
    rpr.rFonts.set(qn("w:eastAsia"), font)
    rpr.rFonts.set(qn("w:cs"), latin)
    if color:
        run.font.color.rgb = RGBColor.from_string(color)
    if scale != 100:
        rpr.insert_element_before(parse_xml(f'<w:w {nsdecls("w")} w:val="{scale}"/>'), *_RPR_AFTER_W)


def _para(
    document,
    alignment=None,
    *,
    first_line=None,
    first_line_chars=False,
    left=None,
    right=None,
    hanging=None,
    before=None,
    after=None,
    line=None,
    page_break=False,
    right_tab=None,
) -> Paragraph:
    paragraph = document.add_paragraph()
    fmt = paragraph.paragraph_format
    if alignment is not None:
        fmt.alignment = alignment
    if page_break:
        fmt.page_break_before = True
    if left is not None:
        fmt.left_indent = Twips(left)
    if right is not None:
        fmt.right_indent = Twips(right)
    if first_line is not None:
        fmt.first_line_indent = Twips(first_line)
    if hanging is not None:
        fmt.first_line_indent = Twips(-hanging)
    if first_line_chars:
        paragraph._p.pPr.ind.set(qn("w:firstLineChars"), "200")
    if before is not None:
        fmt.space_before = Twips(before)
    if after is not None:
        fmt.space_after = Twips(after)
    if line is not None:
        fmt.line_spacing = Twips(line)
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    if right_tab is not None:
        fmt.tab_stops.add_tab_stop(Twips(right_tab), WD_TAB_ALIGNMENT.RIGHT)
    return paragraph


def _blank(document, count: int = 1) -> None:
    for _ in range(count):
        document.add_paragraph()


def _red_line(paragraph: Paragraph) -> None:
    paragraph._p.get_or_add_pPr().insert_element_before(
        parse_xml(f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="{L.RED_LINE_SZ}" w:space="{L.RED_LINE_SPACE}" w:color="{L.RED}"/></w:pBdr>'),
        *_PPR_AFTER_PBDR,
    )


def _setup(document) -> None:
    """Page, grid, Normal style, even/odd footers: what the fast path's base package holds."""
    section = document.sections[0]
    section.page_width, section.page_height = Twips(L.PAGE_WIDTH), Twips(L.PAGE_HEIGHT)
    section.top_margin, section.bottom_margin = Twips(L.MARGIN_TOP), Twips(L.MARGIN_BOTTOM)
    section.left_margin, section.right_margin = Twips(L.MARGIN_LEFT), Twips(L.MARGIN_RIGHT)
    section.footer_distance = Twips(L.FOOTER_DISTANCE)
    grid = section._sectPr.find(qn("w:docGrid"))
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(L.LINE_PITCH))
    grid.set(qn("w:charSpace"), str(L.CHAR_SPACE))
    normal = document.styles["Normal"]
    normal.font.name = L.FONT_LATIN
    normal.font.size = Pt(L.BODY_SIZE)
    normal.element.get_or_add_rPr().rFonts.set(qn("w:eastAsia"), L.FONT_FANGSONG)
    normal.paragraph_format.line_spacing = Twips(L.LINE_PITCH)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.space_after = Twips(0)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    normal.element.get_or_add_pPr().insert_element_before(parse_xml(f'<w:snapToGrid {nsdecls("w")} w:val="0"/>'), "w:spacing", "w:ind", "w:jc")
    normal.element.get_or_add_rPr().insert_element_before(parse_xml(f'<w:spacing {nsdecls("w")} w:val="{L.BODY_CHAR_SPACING}"/>'), *_RPR_AFTER_W)
    document.settings.odd_and_even_pages_header_footer = True
    for footer, odd in ((section.footer, True), (section.even_page_footer, False)):
        paragraph = footer.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
        if odd:
            paragraph.paragraph_format.right_indent = Twips(L.SIHAO_CHAR)
        else:
            paragraph.paragraph_format.left_indent = Twips(L.SIHAO_CHAR)
        for run in parse_xml(f"<w:p {nsdecls('w')}>{page_number_runs_xml()}</w:p>"):
            paragraph._p.append(run)


def _colophon(document, rows: list[ColophonRow]) -> None:
    table = document.add_table(rows=len(rows), cols=1)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    tbl_pr.insert(0, parse_xml(f'<w:tblpPr {nsdecls("w")} w:vertAnchor="margin" w:horzAnchor="page" w:tblpX="{L.MARGIN_LEFT}" w:tblpYSpec="bottom"/>'))
    for row, spec in zip(table.rows, rows, strict=True):
        cell = row.cells[0]
        cell.width = Twips(L.TYPE_AREA_WIDTH)
        borders = "".join(
            f'<w:{side} w:val="single" w:sz="{size}" w:space="0" w:color="000000"/>'
            for side, size in (("top", spec.border_top), ("bottom", spec.border_bottom))
            if size
        )
        cell._tc.get_or_add_tcPr().append(parse_xml(f"<w:tcBorders {nsdecls('w')}>{borders}</w:tcBorders>"))
        paragraph = cell.paragraphs[0]
        if spec.kind == "subject":
            _run(paragraph, spec.label, L.FONT_HEITI)
            _run(paragraph, spec.text, L.FONT_XIAOBIAOSONG, latin=L.FONT_XIAOBIAOSONG)
        elif spec.kind == "printing":
            paragraph.paragraph_format.left_indent = Twips(spec.left)
            paragraph.paragraph_format.tab_stops.add_tab_stop(Twips(L.TYPE_AREA_WIDTH - L.SIHAO_CHAR), WD_TAB_ALIGNMENT.RIGHT)
            _run(paragraph, f"{spec.text}\t{spec.right_text}", size=L.COLOPHON_SIZE)
        elif spec.kind == "copies":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.paragraph_format.right_indent = Twips(L.SIHAO_CHAR)
            _run(paragraph, spec.text, size=L.COLOPHON_SIZE)
        else:
            fmt = paragraph.paragraph_format
            fmt.left_indent, fmt.right_indent = Twips(spec.left), Twips(L.SIHAO_CHAR)
            fmt.first_line_indent = Twips(-spec.hanging)
            _run(paragraph, spec.label, size=L.COLOPHON_SIZE)
            _run(paragraph, spec.text, size=L.COLOPHON_SIZE)
    _para(document, line=20)  # the colophon's anchor


def _body_paragraph(document, p: BodyParagraph) -> None:
    paragraph = _para(document, first_line=2 * L.CHAR, first_line_chars=True)
    _run(paragraph, p.lead, p.lead_font)
    _run(paragraph, p.rest)


def _part(document, part: PartView) -> None:
    for index, (text, font) in enumerate(part.top_lines):
        _run(_para(document, WD_ALIGN_PARAGRAPH.LEFT, page_break=part.new_page and index == 0), text, font)
    mark = _para(
        document,
        WD_ALIGN_PARAGRAPH.CENTER,
        before=part.mark_space_before,
        after=part.mark_space_after,
        line=part.mark_fit.line,
        page_break=part.new_page and not part.top_lines,
    )
    _run(mark, part.mark, L.FONT_XIAOBIAOSONG, part.mark_fit.size, L.RED, part.mark_fit.scale, L.FONT_XIAOBIAOSONG)
    _blank(document, 2)
    if part.upward:
        number = _para(document, WD_ALIGN_PARAGRAPH.LEFT, left=L.CHAR, right_tab=L.TYPE_AREA_WIDTH - L.CHAR)
        _run(number, part.doc_number + "\t")
        _run(number, "签发人：")
        _run(number, part.signer or "", L.FONT_KAITI)
    else:
        number = _para(document, WD_ALIGN_PARAGRAPH.CENTER)
        _run(number, part.doc_number)
    _red_line(number)
    _para(document, line=L.LINE_UNDER_RED_LINE)
    _blank(document)
    _run(_para(document, WD_ALIGN_PARAGRAPH.CENTER), part.title, L.FONT_XIAOBIAOSONG, L.ERHAO, latin=L.FONT_XIAOBIAOSONG)
    if part.recipients:
        _blank(document)
        _run(document.add_paragraph(), part.recipients)
    for p in part.paragraphs:
        _body_paragraph(document, p)
    if part.attachment_notes:
        _blank(document)
        for note in part.attachment_notes:
            _run(_para(document, WD_ALIGN_PARAGRAPH.LEFT, left=note.left, hanging=note.hanging), note.text)
    _blank(document)
    signature = part.signature
    if signature.organisation:
        _run(_para(document, WD_ALIGN_PARAGRAPH.RIGHT, right=signature.organisation_right), signature.organisation)
    _run(_para(document, WD_ALIGN_PARAGRAPH.RIGHT, right=signature.date_right), signature.date)
    for note in part.notes:
        _run(_para(document, first_line=2 * L.CHAR, first_line_chars=True), note)
    for attachment in part.attachments:
        _run(_para(document, WD_ALIGN_PARAGRAPH.LEFT, page_break=True), attachment.label, L.FONT_HEITI)
        _blank(document)
        _run(_para(document, WD_ALIGN_PARAGRAPH.CENTER), attachment.title, L.FONT_XIAOBIAOSONG, L.ERHAO, latin=L.FONT_XIAOBIAOSONG)
        _blank(document)
        for p in attachment.paragraphs:
            _body_paragraph(document, p)
    if part.colophon:
        _colophon(document, part.colophon)


def python_docx_baseline(parts: list[DocumentContent], path: Path) -> None:
    """The same document built run by run with python-docx and saved."""
    document = docx.Document()
    _setup(document)
    for part in part_views(parts):
        _part(document, part)
    document.save(str(path))


# --- timing ----------------------------------------------------------------------------------


def per_document_ms(write: Callable[[Path], None], folder: Path, count: int) -> float:
    """Median of 5 rounds of ``count // 5`` writes, in ms per document."""
    rounds = []
    per_round = max(1, count // 5)
    for round_number in range(5):
        start = time.perf_counter()
        for index in range(per_round):
            write(folder / f"{round_number}-{index}.docx")
        rounds.append((time.perf_counter() - start) * 1000 / per_round)
    return statistics.median(rounds)


def same_text(first: Path, second: Path) -> bool:
    """Both files hold the same paragraphs (body and colophon table) with the same text."""

    def texts(path: Path) -> list[str]:
        document = docx.Document(str(path))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        return [p.text for p in document.paragraphs] + cells

    return texts(first) == texts(second)


def main(count: int = 200) -> None:
    parts = forwarding_sample()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        render_docx(parts, folder / "warm-fast.docx")  # builds the base package once
        python_docx_baseline(parts, folder / "warm-baseline.docx")
        assert same_text(folder / "warm-fast.docx", folder / "warm-baseline.docx")
        fast = per_document_ms(lambda path: render_docx(parts, path), folder, count)
        baseline = per_document_ms(lambda path: python_docx_baseline(parts, path), folder, count)
    print(f"seed-001 forwarding document, N={count}")
    print(f"jinja2 into the prepared package (render_docx): {fast:.2f} ms/doc")
    print(f"plain python-docx, run by run:                  {baseline:.2f} ms/doc")
    print(f"ratio: {baseline / fast:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
