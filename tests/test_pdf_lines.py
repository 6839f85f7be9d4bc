"""doc_templates/pdf_lines.py reads the lines of LibreOffice's PDFs as pdfplumber's line layout
does (the reading the page checks and 用印 used before, ~10 × slower): the same lines with the same
text, the same faces and colour, positions within a point. Real documents, real LibreOffice."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from test_layout import render_pdf, shandong_notice

from gongwen_engine.doc_templates.pdf_lines import Line, face_name, is_chinese, is_red, pdf_lines, read_pages, squash

POSITION_TOLERANCE_PT = 1.5  # pdfium's advance of a line's last glyph differs from pdfminer's by up to 1.25 pt


def pdfplumber_lines(pdf: bytes) -> list[list[Line]]:
    """The reference: pdfplumber's text lines as the page checks read them until pdf_lines.py."""
    pages = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            lines = []
            for found in page.extract_text_lines(layout=False, strip=True):
                chars = found.get("chars") or []
                if not squash(found["text"]):
                    continue
                lines.append(
                    Line(
                        squash(found["text"]),
                        float(found["top"]),
                        float(found["bottom"]),
                        float(found["x0"]),
                        float(found["x1"]),
                        frozenset(face_name(c["fontname"]) for c in chars if is_chinese(c["text"])),
                        bool(chars) and all(is_red(c.get("non_stroking_color")) for c in chars if not c["text"].isspace()),
                    )
                )
            pages.append(lines)
    return pages


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A one-page notice, a long one with attachments, notes and headings (blank page + 版记 page)."""
    return [
        render_pdf(shandong_notice(1), tmp_path_factory.mktemp("one")),
        render_pdf(shandong_notice(14, long=True, attachments=True, notes=True, headings=True), tmp_path_factory.mktemp("long")),
    ]


def test_the_lines_are_pdfplumbers(documents: list[bytes]) -> None:
    for pdf in documents:
        ours, reference = pdf_lines(pdf), pdfplumber_lines(pdf)
        assert len(ours) == len(reference)
        for page, (mine, theirs) in enumerate(zip(ours, reference, strict=True), start=1):
            assert [line.text for line in mine] == [line.text for line in theirs], f"page {page}"
            for a, b in zip(mine, theirs, strict=True):
                assert (a.faces, a.red) == (b.faces, b.red), (page, a.text)
                for ours_at, theirs_at in ((a.top, b.top), (a.bottom, b.bottom), (a.x0, b.x0), (a.x1, b.x1)):
                    assert abs(ours_at - theirs_at) <= POSITION_TOLERANCE_PT, (page, a, b)


def test_the_mark_is_red_and_the_text_is_not(documents: list[bytes]) -> None:
    first = pdf_lines(documents[0])[0]
    assert first[0].text == "山东省妇女联合会文件" and first[0].red
    assert not any(line.red for line in first[1:])


def test_last_pages_only_and_chosen_pages(documents: list[bytes]) -> None:
    pdf = documents[1]
    whole = pdf_lines(pdf)
    tail = pdf_lines(pdf, last=2)
    assert len(tail) == len(whole) and tail[:-2] == [[] for _ in whole[:-2]] and tail[-2:] == whole[-2:]
    chosen = read_pages(pdf, [0, len(whole) - 1, len(whole) + 5])
    assert sorted(chosen) == [0, len(whole) - 1]  # an index past the end is left out
    assert chosen[0].lines == whole[0] and chosen[0].height == pytest.approx(841.9, abs=0.5)  # A4


def test_not_a_pdf_is_refused() -> None:
    import pypdfium2

    with pytest.raises(pypdfium2.PdfiumError):
        pdf_lines(b"not a pdf")
