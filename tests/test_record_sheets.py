"""Process records (发文稿纸 / 收文处理单) rendered from a template: the same document as the
python-docx object building they replaced (the same body XML, the styles it uses; the template's
unused parts left out — LibreOffice lays both out alike), and the same bytes for the same record."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date

import pytest
from docx import Document as Docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates.base import DOCUMENT_PART
from gongwen_engine.doc_templates.records import RECORD_STYLE_IDS, record_bytes, record_docx_bytes, record_heading, record_rows
from gongwen_engine.models.records import Opinion, ReceivedParticulars, RecordData, RecordKind

ROWS = [
    ("发文字号", "妇字〔2012〕2号"),
    ("标题", "关于开展2012年“三八”维权周活动的通知"),
    ("抄送", ""),  # an empty cell: a run without text
    ("核稿", "退回：标题请写明年度　王芳　2012年3月1日"),
    ("会签", " 同意 & <附件> \"照办\" 'ok'\t第二段\n第三行\r\n末行　"),  # escaping, tab, breaks, edge spaces
    ("传阅", "\u3000全角空格开头"),
    ("单位", "中华全国妇女联合会"),
]


def python_docx_record(heading: str, rows: list[tuple[str, str]]) -> bytes:
    """The record as python-docx built it before the template (the reference)."""
    doc = Docx()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(layout.PAGE_WIDTH_MM), Mm(layout.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(layout.MARGIN_TOP_MM), Mm(layout.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(layout.MARGIN_LEFT_MM), Mm(layout.MARGIN_RIGHT_MM)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(title, heading, layout.FONT_XIAOBIAOSONG, layout.ERHAO, color=True)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, text in rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Mm(30), Mm(126)
        run(cells[0].paragraphs[0], label, layout.FONT_HEITI, layout.SIHAO)
        run(cells[1].paragraphs[0], text, layout.FONT_FANGSONG, layout.SIHAO)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def run(paragraph, text: str, font: str, size: float, color: bool = False) -> None:
    r = paragraph.add_run(text)
    r.font.size = Pt(size)
    r.font.name = font
    r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
    if color:
        r.font.color.rgb = RGBColor.from_string(layout.RED)


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_template_writes_the_xml_python_docx_wrote() -> None:
    heading = "山东省妇联收文处理单"
    ours, reference = parts(record_docx_bytes(heading, ROWS)), parts(python_docx_record(heading, ROWS))
    assert ours[DOCUMENT_PART] == reference[DOCUMENT_PART]  # the body, byte for byte
    assert b"&amp; &lt;\xe9\x99\x84\xe4\xbb\xb6&gt;" in ours[DOCUMENT_PART] and b"<w:tab/>" in ours[DOCUMENT_PART]
    dropped = {
        "word/stylesWithEffects.xml",
        "word/webSettings.xml",
        "word/numbering.xml",
        "docProps/thumbnail.jpeg",
        "customXml/item1.xml",
        "customXml/_rels/item1.xml.rels",
        "customXml/itemProps1.xml",
    }
    assert set(reference) - set(ours) == dropped and set(ours) <= set(reference)
    for name in ("docProps/core.xml", "docProps/app.xml", "word/settings.xml", "word/fontTable.xml", "word/theme/theme1.xml"):
        assert ours[name] == reference[name], name
    # styles: the ones a record uses, each exactly as python-docx's template defines it
    assert styles(ours["word/styles.xml"]) == {k: v for k, v in styles(reference["word/styles.xml"]).items() if k in RECORD_STYLE_IDS | {"docDefaults"}}


def styles(xml: bytes) -> dict[str, bytes]:
    root = etree.fromstring(xml)
    found = {s.get(qn("w:styleId")): etree.tostring(s) for s in root.iter(qn("w:style"))}
    return {**found, "docDefaults": etree.tostring(root.find(qn("w:docDefaults")))}


def test_a_record_is_readable_and_its_bytes_depend_only_on_its_content() -> None:
    first = record_docx_bytes("全国妇联发文稿纸", ROWS)
    assert record_docx_bytes("全国妇联发文稿纸", ROWS) == first  # no clock in the zip
    assert hashlib.sha256(record_docx_bytes("全国妇联发文稿纸", ROWS[:-1])).digest() != hashlib.sha256(first).digest()
    doc = Docx(io.BytesIO(first))
    assert doc.paragraphs[0].text == "全国妇联发文稿纸"
    assert [(r.cells[0].text, r.cells[1].text) for r in doc.tables[0].rows][:2] == ROWS[:2]


def test_text_that_xml_cannot_carry_is_refused_as_python_docx_refused_it() -> None:
    with pytest.raises(ValueError) as ours:
        record_docx_bytes("稿纸", [("意见", "同意\x0b")])
    with pytest.raises(ValueError) as reference:
        python_docx_record("稿纸", [("意见", "同意\x0b")])
    assert str(ours.value) == str(reference.value)


def test_a_record_is_rendered_from_its_data_alone() -> None:
    """The renderer takes a RecordData (no database): particulars, then each opinion as written, then the unit."""
    record = RecordData(
        kind=RecordKind.processing_slip,
        org_name="山东省妇女联合会",
        org_short_name="山东省妇联",
        received=ReceivedParticulars(register_number=None, received_on=None, sender="中华全国妇女联合会", doc_number="妇字〔2012〕2号", title="关于…的通知"),
        opinions=[Opinion(step_title="批办", outcome_label="同意", comment="请办公室办理", person="徐主席", acting_for="周主席", finished_on=date(2012, 3, 1))],
    )
    assert record_heading(record) == "山东省妇联收文处理单"
    assert record_rows(record) == [
        ("收文登记号", "（待登记）"),
        ("收文日期", ""),
        ("来文单位", "中华全国妇女联合会"),
        ("来文字号", "妇字〔2012〕2号"),
        ("标题", "关于…的通知"),
        ("批办", "同意：请办公室办理　徐主席（代周主席）　2012年3月1日"),
        ("单位", "山东省妇女联合会"),
    ]
    assert record_bytes(record) == record_docx_bytes(record_heading(record), record_rows(record))
