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
from docx.shared import Mm, Pt
from lxml import etree

from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates.base import DOCUMENT_PART
from gongwen_engine.doc_templates.records import RECORD_STYLE_IDS, record_bytes, record_docx_bytes, record_heading, record_rows
from gongwen_engine.models.records import DraftParticulars, Opinion, ReceivedParticulars, RecordData, RecordKind

ROWS = [
    (("文号", "妇字〔2012〕2号"), ("密级", "")),  # two cells side by side; an empty cell: a run without text
    (("标题", "关于开展2012年“三八”维权周活动的通知"),),
    (("抄送", ""),),
    (("核稿", "退回：标题请写明年度　王芳　2012年3月1日"),),
    (("会签", " 同意 & <附件> \"照办\" 'ok'\t第二段\n第三行\r\n末行　"),),  # escaping, tab, breaks, edge spaces
    (("传阅", "\u3000全角空格开头"),),
]


def python_docx_record(heading: str, rows: list[tuple[tuple[str, str], ...]]) -> bytes:
    """A record built with python-docx (the reference for the package's parts and for what XML refuses)."""
    doc = Docx()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(layout.PAGE_WIDTH_MM), Mm(layout.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(layout.MARGIN_TOP_MM), Mm(layout.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(layout.MARGIN_LEFT_MM), Mm(layout.MARGIN_RIGHT_MM)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(title, heading, layout.FONT_XIAOBIAOSONG, layout.ERHAO)
    table = doc.add_table(rows=0, cols=4)
    table.style = "Table Grid"
    for row in rows:
        cells = table.add_row().cells
        for n, (label, text) in enumerate(row):
            run(cells[2 * n].paragraphs[0], label, layout.FONT_HEITI, layout.SIHAO)
            run(cells[2 * n + 1].paragraphs[0], text, layout.FONT_FANGSONG, layout.SIHAO)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def run(paragraph, text: str, font: str, size: float) -> None:
    r = paragraph.add_run(text)
    r.font.size = Pt(size)
    r.font.name = font
    r._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_template_writes_a_package_python_docx_reads() -> None:
    heading = "山东省妇联收文处理单"
    ours, reference = parts(record_docx_bytes(heading, ROWS)), parts(python_docx_record(heading, ROWS))
    etree.fromstring(ours[DOCUMENT_PART])  # well-formed
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
    rows = doc.tables[0].rows
    assert [c.text for c in rows[0].cells] == ["文号", "妇字〔2012〕2号", "密级", ""]
    assert [c.text for c in rows[1].cells] == ["标题", *["关于开展2012年“三八”维权周活动的通知"] * 3]  # one text across three columns


def test_text_that_xml_cannot_carry_is_refused_as_python_docx_refused_it() -> None:
    with pytest.raises(ValueError) as ours:
        record_docx_bytes("稿纸", [(("意见", "同意\x0b"),)])
    with pytest.raises(ValueError) as reference:
        python_docx_record("稿纸", [(("意见", "同意\x0b"),)])
    assert str(ours.value) == str(reference.value)


def test_a_record_is_rendered_from_its_data_alone() -> None:
    """The renderer takes a RecordData (no database): the printed 收文处理单, every row kept in its order."""
    record = RecordData(
        kind=RecordKind.processing_slip,
        org_name="山东省妇女联合会",
        org_short_name="山东省妇联",
        received=ReceivedParticulars(register_number=None, received_on=None, sender="中华全国妇女联合会", doc_number="妇字〔2012〕2号", title="关于…的通知"),
        opinions=[
            Opinion(
                step_title="批办",
                step_kind="instruct",
                outcome_label="同意",
                comment="请办公室办理",
                person="徐建平",
                acting_for="周红梅",
                finished_on=date(2012, 3, 1),
            )
        ],
    )
    assert record_heading(record) == "山东省妇联收文处理单"
    assert record_rows(record) == [
        (("来文单位", "中华全国妇女联合会"), ("来文字号", "妇字〔2012〕2号")),
        (("收文日期", ""), ("收文编号", "")),
        (("标题", "关于…的通知"),),
        (("拟办意见", ""),),  # empty rows stay on the form
        (("领导批示", "同意：请办公室办理　徐建平（代周红梅）　2012年3月1日"),),
        (("承办结果", ""),),
        (("传阅", ""),),
        (("办结", ""),),
    ]
    assert record_bytes(record) == record_docx_bytes(record_heading(record), record_rows(record))


DAY = date(2012, 2, 29)


def test_the_draft_sheet_is_the_printed_form_in_its_order_without_red() -> None:
    record = RecordData(
        kind=RecordKind.draft_sheet,
        org_name="湖南省妇女联合会",
        org_short_name="湖南省妇联",
        draft=DraftParticulars(
            doc_number=None,
            title="关于进一步做好全国妇联《妇工要情》信息报送工作的通知",
            main_recipients=["各市州妇联", "省直妇工委"],
            cc=[],
            version=1,
            drafting_unit="湖南省妇联",
            drafter="张文书",
            attachments=["全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》", "2012年2—3月全国妇联《妇工要情》信息报送要点"],
        ),
        opinions=[
            Opinion(
                step_title="复核", step_kind="recheck", outcome_label="同意", comment=None, person="张文书", acting_for=None, finished_on=date(2012, 2, 29)
            ),
            Opinion(
                step_title="签发",
                step_kind="sign_off",
                outcome_label="同意",
                comment="同意印发",
                person="吴秀英",
                acting_for=None,
                finished_on=date(2012, 2, 29),
            ),
        ],
    )
    rows = record_rows(record)
    labels = [cell[0] for row in rows for cell in row]
    assert labels == ["签发", "会签", "核稿", "拟稿单位", "拟稿人", "标题", "主送", "抄送", "文号", "密级", "缓急", "印数", "附件"]
    cells = dict(cell for row in rows for cell in row)
    assert cells["签发"] == "同意：同意印发　吴秀英　2012年2月29日" and cells["会签"] == ""
    assert cells["核稿"] == "复核：同意　张文书　2012年2月29日"  # a second kind in the row says which step it was
    assert cells["主送"] == "各市州妇联、省直妇工委" and cells["附件"].startswith("1.全国妇联办公厅《") and "\n2.2012年" in cells["附件"]
    xml = parts(record_bytes(record))[DOCUMENT_PART]
    assert b"w:color" not in xml  # a record is no issued document: no red mark
