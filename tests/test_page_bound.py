"""The one-page bound (doc_templates/page_bound.py) against LibreOffice: varied process records
(tests/record_corpus.py) are converted for real, and the bound never calls one page a record
that LibreOffice lays out on more; the ordinary ones (the cascade's) it settles without converting."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from record_corpus import varied_records

from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates import pdf as pdf_conversion
from gongwen_engine.doc_templates.archive_files import text_pages_of_pdf
from gongwen_engine.doc_templates.page_bound import FONT_HEIGHT_EM, body_height_bound, count_lines, fits_one_page
from gongwen_engine.doc_templates.records import record_bytes, record_docx_bytes

CORPUS = 45  # the first third ordinary, the rest long and very long (two to five pages)


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_the_bound_never_says_one_page_where_libreoffice_finds_more(tmp_path: Path) -> None:
    records = varied_records(CORPUS)
    files = []
    for n, record in enumerate(records):
        files.append(tmp_path / f"r{n:02d}.docx")
        files[-1].write_bytes(record_bytes(record))
    pages = [text_pages_of_pdf(pdf) for pdf in pdf_conversion.docx_files_to_pdf_bytes(files)]
    settled = [fits_one_page(f.read_bytes()) for f in files]
    wrong = [f.name for f, one, real in zip(files, settled, pages, strict=True) if one and real != 1]
    assert wrong == []
    assert set(pages) > {1, 2}, f"the corpus should hold one-page and longer records: {pages}"
    ordinary = CORPUS // 3
    assert all(settled[:ordinary]) and pages[:ordinary] == [1] * ordinary, "every ordinary record is settled without LibreOffice"
    one_page = sum(1 for real in pages if real == 1)
    assert sum(settled) >= 0.9 * one_page, f"the bound settles {sum(settled)} of {one_page} one-page records"


def _with_document(data: bytes, edit) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info, edit(body.decode()).encode() if info.filename == "word/document.xml" else body)
    return out.getvalue()


def test_the_bound_follows_the_rows_and_lines_of_the_record() -> None:
    """An empty form is its rows' heights and the heading; each line a text adds past a row's
    height adds a line of 14 pt × FONT_HEIGHT_EM; what the bound does not model is not settled."""
    empty = body_height_bound(record_docx_bytes("收文处理单", [(("标题", ""),)]))
    two = body_height_bound(record_docx_bytes("收文处理单", [(("标题", "一\n二"),)]))
    five = body_height_bound(record_docx_bytes("收文处理单", [(("标题", "一\n二\n三\n四\n五"),)]))
    assert empty is not None and two is not None and five is not None
    assert empty[1] == pytest.approx(637.8, abs=0.1)  # A4 less the GB/T 9704 margins
    assert two[0] - empty[0] == pytest.approx(2 * 14 * FONT_HEIGHT_EM - 10 * 72 / 25.4, abs=0.1)  # two lines past the 10 mm row
    assert five[0] - two[0] == pytest.approx(3 * 14 * FONT_HEIGHT_EM, abs=0.1)
    tall = record_docx_bytes("收文处理单", [(("标题", "\n".join("行" * 30)),)])
    assert not fits_one_page(tall)
    plain = record_docx_bytes("收文处理单", [(("标题", "关于…的通知"),)])
    assert fits_one_page(plain)
    assert body_height_bound(_with_document(plain, lambda xml: xml)) is not None
    assert not fits_one_page(_with_document(plain, lambda xml: xml.replace("<w:t>关于", '<w:t>关于</w:t><w:br w:type="page"/><w:t>')))
    assert not fits_one_page(_with_document(plain, lambda xml: xml.replace("<w:pgSz", '<w:footerReference w:type="default" r:id="x"/><w:pgSz', 1)))


def test_lines_are_filled_first_fit_with_fewer_breaks_than_libreoffice() -> None:
    assert count_lines([("一二三四", 10.0)], 40.0) == 1
    assert count_lines([("一二三四五", 10.0)], 40.0) == 2
    assert count_lines([("一二\n三", 10.0)], 40.0) == 2
    assert count_lines([("一，二三", 10.0)], 30.0) == 2  # "一，二" stays together: no break before the comma nor after it in the bound
    assert count_lines([("一 ABCDEFGH", 10.0)], 50.0) == 3  # the word moves to a new line and is then cut
    assert count_lines([("同意 （请办理）", 10.0)], 40.0) == 3  # "意 （请" one piece: no break around punctuation in the bound
    assert count_lines([("", 14.0)], 100.0) == 1


def _face_height_em(path: str, index: int) -> float:
    """The face's line height in em: the largest of its hhea and OS/2 (typo, win) ascent + descent (+ gap)."""
    data = Path(path).read_bytes()
    offset = struct.unpack(">I", data[12 + 4 * index : 16 + 4 * index])[0] if data[:4] == b"ttcf" else 0
    count = struct.unpack(">H", data[offset + 4 : offset + 6])[0]
    tables = {}
    for n in range(count):
        tag, _, start, _ = struct.unpack(">4sIII", data[offset + 12 + 16 * n : offset + 28 + 16 * n])
        tables[tag] = start
    upm = struct.unpack(">H", data[tables[b"head"] + 18 : tables[b"head"] + 20])[0]
    ascent, descent, gap = struct.unpack(">hhh", data[tables[b"hhea"] + 4 : tables[b"hhea"] + 10])
    typo_a, typo_d, typo_g = struct.unpack(">hhh", data[tables[b"OS/2"] + 68 : tables[b"OS/2"] + 74])
    win_a, win_d = struct.unpack(">HH", data[tables[b"OS/2"] + 74 : tables[b"OS/2"] + 78])
    return max(ascent - descent + gap, typo_a - typo_d + typo_g, win_a + win_d) / upm


@pytest.mark.skipif(not shutil.which("fc-match"), reason="fontconfig is not installed")
def test_the_faces_libreoffice_uses_are_no_taller_than_the_bound_assumes() -> None:
    """FONT_HEIGHT_EM holds for the faces fonts.conf puts in place of those the documents name."""
    env = {**os.environ, "FONTCONFIG_FILE": str(pdf_conversion.FONTS_CONF)}
    for family in (layout.FONT_FANGSONG, layout.FONT_HEITI, layout.FONT_XIAOBIAOSONG, layout.FONT_KAITI, layout.FONT_SONGTI):
        found = subprocess.run(["fc-match", "-f", "%{file}:%{index}", family], env=env, capture_output=True, text=True, check=True).stdout
        path, index = found.rsplit(":", 1)
        assert _face_height_em(path, int(index)) <= FONT_HEIGHT_EM, (family, path)


def test_records_with_the_same_styles_share_their_answers_and_get_the_same_bounds() -> None:
    """The styles part is parsed and asked once per content (every record of a run carries the
    template's); each record's bound is what a fresh reading of its own styles gives."""
    from lxml import etree

    from gongwen_engine.doc_templates import page_bound

    records = [record_bytes(r) for r in varied_records(12)]
    page_bound._styles_of.cache_clear()
    shared = [body_height_bound(data) for data in records]
    assert page_bound._styles_of.cache_info().misses == 1 and page_bound._styles_of.cache_info().hits == len(records) - 1
    for data, bound in zip(records, shared, strict=True):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            try:
                fresh = page_bound.Bound(etree.fromstring(z.read("word/document.xml")), etree.fromstring(z.read("word/styles.xml"))).body()
            except page_bound.Unmodelled:
                fresh = None
        assert bound == fresh
