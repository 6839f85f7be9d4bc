"""GB/T 9704-2012 .docx renderer: layout read back with python-docx, bytes, files, PDF."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.shared import Length
from docx.text.paragraph import Paragraph
from samples import attachments_sample, forwarding_sample

from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.elements import body_paragraph, fit_mark, heading_level
from gongwen_engine.doc_templates.render import render_docx, render_docx_bytes
from gongwen_engine.models.content import DocumentContent

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


# --- helpers ---------------------------------------------------------------------------------


def east_asia(run) -> str | None:
    """The run's East-Asian font name (w:rFonts/@w:eastAsia)."""
    rfonts = run._r.rPr.find(qn("w:rFonts"))
    return None if rfonts is None else rfonts.get(qn("w:eastAsia"))


def find(document, text: str, start: int = 0) -> Paragraph:
    """The first body paragraph (from index ``start``) whose text contains ``text``."""
    for paragraph in document.paragraphs[start:]:
        if text in paragraph.text:
            return paragraph
    raise AssertionError(f"no paragraph with {text!r}")


def index_of(document, text: str, start: int = 0) -> int:
    """Index of the first body paragraph (from ``start``) containing ``text``."""
    return next(i for i, p in enumerate(document.paragraphs) if i >= start and text in p.text)


def ppr_value(paragraph: Paragraph, path: str, attribute: str) -> str | None:
    """An attribute of a pPr descendant, e.g. ("w:ind", "w:firstLineChars")."""
    element = paragraph._p.find(f"w:pPr/{path}", {"w": W_NS})
    return None if element is None else element.get(qn(attribute))


def cell_paragraph_texts(table) -> list[str]:
    return [cell.paragraphs[0].text for row in table.rows for cell in row.cells]


def request_sample() -> DocumentContent:
    """An upward 请示 with every header element, notes, cc and XML special characters."""
    return DocumentContent(
        doc_type="请示",
        direction="up",
        copy_number="000001",
        security="秘密★1年",
        urgency="特急",
        issuer_mark="山东省妇女联合会文件",
        doc_number="鲁妇〔2012〕3号",
        signer="王某某",
        title="关于<&>“妇女之家”建设经费的请示",
        main_recipients=["全国妇联"],
        body=["为做好<&>工作，现请示如下。", "（一）经费来源。拟由省财政列支。", "1.用于阵地建设。", "（1）按妇女人均1.5元计。"],
        signature="山东省妇女联合会",
        issued_on=date(2012, 3, 5),
        notes=["联系人：李某，电话：0531-00000000"],
        cc=["省委办公厅", "省政府办公厅"],
        printed_by="山东省妇女联合会办公室",
        printed_on=date(2012, 3, 6),
    )


@pytest.fixture(scope="module")
def forwarding_docx(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("render") / "forwarding.docx"
    render_docx(forwarding_sample(), path)
    return path


@pytest.fixture(scope="module")
def forwarding(forwarding_docx):
    return docx.Document(str(forwarding_docx))


@pytest.fixture(scope="module")
def with_attachments(tmp_path_factory):
    path = tmp_path_factory.mktemp("render") / "attachments.docx"
    render_docx(attachments_sample(), path)
    return docx.Document(str(path))


@pytest.fixture(scope="module")
def request_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("render") / "request.docx"
    render_docx([request_sample()], path)
    return docx.Document(str(path))


# --- pure layout functions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("一、充分认识开展活动的重要性。", 1),
        ("十二、其他。", 1),
        ("（一）经费来源。", 2),
        ("(三)组织领导", 2),
        ("1.用于阵地建设。", 3),
        ("2．全国“两会”召开之际", 3),
        ("（1）按人均计。", 4),
        ("    三、缩进的标题", 1),
        ("1.5万名妇女参加。", 0),
        ("2012年是重要的一年。", 0),
        ("各省区市妇联要在2月底前报送。", 0),
        ("一是高度关注。", 0),
    ],
)
def test_heading_level(text, level):
    assert heading_level(text) == level


def test_heading_sentence_takes_the_heading_font_rest_stays_fangsong():
    paragraph = body_paragraph("一、充分认识开展活动的重要性。2012年是重要的一年。")
    assert (paragraph.lead, paragraph.rest) == ("一、充分认识开展活动的重要性。", "2012年是重要的一年。")
    assert paragraph.lead_font == L.FONT_HEITI
    assert body_paragraph("（二）组织领导").lead_font == L.FONT_KAITI
    assert body_paragraph("（二）组织领导").rest == ""


def test_mark_never_wider_than_the_type_area():
    assert fit_mark("山东省妇女联合会文件").scale == 100  # 10 × 42 pt = 148 mm
    long = fit_mark("中华全国妇女联合会文件")  # 11 × 42 pt = 163 mm
    assert long.size == L.CHUHAO and long.scale == 95
    joint = fit_mark("中华全国妇女联合会中华人民共和国教育部文件")
    assert joint.scale >= L.MARK_MIN_SCALE and joint.size < L.CHUHAO
    for fit, chars in ((long, 11), (joint, 21)):
        assert chars * fit.size * fit.scale / 100 <= L.TYPE_AREA_WIDTH / 20


# --- page ------------------------------------------------------------------------------------


def test_page_margins_and_grid(forwarding):
    section = forwarding.sections[0]
    assert section.page_width.mm == pytest.approx(210, abs=0.05)
    assert section.page_height.mm == pytest.approx(297, abs=0.05)
    assert section.top_margin.mm == pytest.approx(37, abs=0.05)
    assert section.bottom_margin.mm == pytest.approx(35, abs=0.05)
    assert section.left_margin.mm == pytest.approx(28, abs=0.05)
    assert section.right_margin.mm == pytest.approx(26, abs=0.05)
    width = Length(section.page_width - section.left_margin - section.right_margin)
    assert width.mm == pytest.approx(156, abs=0.05)
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    assert grid.get(qn("w:linePitch")) == "579"
    pitch_pt = L.BODY_SIZE + int(grid.get(qn("w:charSpace"))) / 4096
    assert int(width.pt / pitch_pt) == 28
    assert len(forwarding.sections) == 1  # one section: page numbers run on


def test_default_font_is_sanhao_fangsong(forwarding):
    normal = forwarding.styles["Normal"]
    assert normal.font.size.pt == 16
    assert normal.element.rPr.rFonts.get(qn("w:eastAsia")) == L.FONT_FANGSONG


# --- header 版头 -------------------------------------------------------------------------------


def test_issuing_authority_marks_are_red_xiaobiaosong_centred(forwarding):
    for text, scale in (("山东省妇女联合会文件", None), ("中华全国妇女联合会文件", "95")):
        paragraph = find(forwarding, text)
        run = paragraph.runs[0]
        assert paragraph.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
        assert east_asia(run) == L.FONT_XIAOBIAOSONG
        assert run.font.size.pt == L.CHUHAO
        assert str(run.font.color.rgb) == "FF0000"
        w = run._r.rPr.find(qn("w:w"))
        assert (w.get(qn("w:val")) if w is not None else None) == scale
    first_mark = find(forwarding, "山东省妇女联合会文件")
    before = int(ppr_value(first_mark, "w:spacing", "w:before"))
    assert before == L.mm_to_twips(35)  # top edge 35 mm below the type area's top
    second_mark = find(forwarding, "中华全国妇女联合会文件")
    assert second_mark.paragraph_format.page_break_before  # the forwarded part: a new page


def test_doc_number_centred_two_lines_below_mark_with_red_line(forwarding):
    index = index_of(forwarding, "鲁妇发〔2012〕10号")
    number = forwarding.paragraphs[index]
    assert number.text == "鲁妇发〔2012〕10号"
    assert number.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
    assert [p.text for p in forwarding.paragraphs[index - 3 : index]] == ["山东省妇女联合会文件", "", ""]
    assert east_asia(number.runs[0]) == L.FONT_FANGSONG and number.runs[0].font.size.pt == 16
    bottom = number._p.find("w:pPr/w:pBdr/w:bottom", {"w": W_NS})
    assert bottom.get(qn("w:val")) == "single"
    assert bottom.get(qn("w:color")) == "FF0000"
    second = index_of(forwarding, "中华全国妇女联合会文件")
    assert forwarding.paragraphs[second + 3].text == "妇字〔2012〕2号"


def test_title_erhao_xiaobiaosong_centred_two_lines_below_red_line(forwarding):
    index = index_of(forwarding, "关于转发全国妇联")
    title = forwarding.paragraphs[index]
    assert title.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
    assert title.runs and all(east_asia(r) == L.FONT_XIAOBIAOSONG and r.font.size.pt == 22 for r in title.runs)
    assert "\n" in title.text  # the author's line breaks kept
    assert forwarding.paragraphs[index - 3].text == "鲁妇发〔2012〕10号"
    assert [p.text for p in forwarding.paragraphs[index - 2 : index]] == ["", ""]


def test_recipients_flush_left_one_line_below_title(forwarding):
    index = index_of(forwarding, "各省、自治区")
    recipients = forwarding.paragraphs[index]
    assert recipients.text == "各省、自治区、直辖市妇联，新疆生产建设兵团妇联："
    assert recipients.text.endswith("：")
    assert ppr_value(recipients, "w:ind", "w:firstLine") is None
    assert forwarding.paragraphs[index - 1].text == ""
    assert "活动的意见" in forwarding.paragraphs[index - 2].text


def test_upward_document_number_left_and_signer(request_doc):
    number = find(request_doc, "鲁妇〔2012〕3号")
    assert number.text == "鲁妇〔2012〕3号\t签发人：王某某"
    assert ppr_value(number, "w:ind", "w:left") == str(L.CHAR)
    tab = number._p.find("w:pPr/w:tabs/w:tab", {"w": W_NS})
    assert tab.get(qn("w:val")) == "right"
    assert int(tab.get(qn("w:pos"))) == L.TYPE_AREA_WIDTH - L.CHAR
    label, signer = number.runs[-2], number.runs[-1]
    assert (label.text, east_asia(label)) == ("签发人：", L.FONT_FANGSONG)
    assert (signer.text, east_asia(signer)) == ("王某某", L.FONT_KAITI)
    assert number._p.find("w:pPr/w:pBdr/w:bottom", {"w": W_NS}).get(qn("w:color")) == "FF0000"


def test_copy_number_security_urgency_stacked_top_left(request_doc):
    top = request_doc.paragraphs[:4]
    assert [p.text for p in top] == ["000001", "秘密★1年", "特急", "山东省妇女联合会文件"]
    assert [east_asia(p.runs[0]) for p in top[1:3]] == [L.FONT_HEITI, L.FONT_HEITI]
    before = int(ppr_value(top[3], "w:spacing", "w:before"))
    assert before + 3 * L.LINE_PITCH == L.mm_to_twips(35)


# --- body 主体 ---------------------------------------------------------------------------------


def test_body_paragraphs_and_heading_fonts(forwarding):
    paragraphs = [p for p in forwarding.paragraphs if ppr_value(p, "w:ind", "w:firstLineChars") == "200" and p.runs]
    headed = [p for p in paragraphs if heading_level(p.text) == 1]
    assert len(headed) == 5
    for paragraph in headed:
        lead, rest = paragraph.runs
        assert east_asia(lead) == L.FONT_HEITI and lead.text.endswith("。")
        assert east_asia(rest) == L.FONT_FANGSONG
        assert {lead.font.size.pt, rest.font.size.pt} == {16}
    plain = find(forwarding, "为深入贯彻")
    assert [east_asia(r) for r in plain.runs] == [L.FONT_FANGSONG]
    assert ppr_value(plain, "w:ind", "w:firstLineChars") == "200"


def test_lower_heading_levels(request_doc):
    second = find(request_doc, "（一）经费来源")
    assert [(r.text, east_asia(r)) for r in second.runs] == [("（一）经费来源。", L.FONT_KAITI), ("拟由省财政列支。", L.FONT_FANGSONG)]
    for text in ("1.用于阵地建设。", "（1）按妇女人均1.5元计。"):
        assert [east_asia(r) for r in find(request_doc, text).runs] == [L.FONT_FANGSONG]


def test_sealed_signature_and_date(forwarding):
    index = index_of(forwarding, "2012年1月31日")
    date_paragraph = forwarding.paragraphs[index]
    assert date_paragraph.text == "2012年1月31日"
    assert date_paragraph.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    assert ppr_value(date_paragraph, "w:ind", "w:right") == str(4 * L.CHAR)  # 4 chars in
    organisation = forwarding.paragraphs[index - 1]
    assert organisation.text == "山东省妇女联合会"
    # centred over the date: 8 characters over 6.5 → 0.75 character less from the right
    assert int(ppr_value(organisation, "w:ind", "w:right")) == round(3.25 * L.CHAR)
    assert forwarding.paragraphs[index - 2].text == ""  # one blank line below the text


def test_unsealed_signature_date_two_characters_right_of_organisation(forwarding):
    index = index_of(forwarding, "2012年1月6日")
    assert forwarding.paragraphs[index].text == "2012年1月6日"
    organisation = forwarding.paragraphs[index - 1]
    assert organisation.text == "全国妇联"
    org_right = int(ppr_value(organisation, "w:ind", "w:right"))
    date_right = int(ppr_value(forwarding.paragraphs[index], "w:ind", "w:right"))
    assert date_right == 2 * L.CHAR  # the date (6 em) is longer than 全国妇联 (4 em)
    # first characters: organisation at W - org_right - 4, date at W - date_right - 6
    assert (org_right + 4 * L.CHAR) - (date_right + 6 * L.CHAR) == 2 * L.CHAR


def test_notes_in_parentheses_after_the_date(request_doc):
    index = index_of(request_doc, "2012年3月5日")
    note = request_doc.paragraphs[index + 1]
    assert note.text == "（联系人：李某，电话：0531-00000000）"
    assert ppr_value(note, "w:ind", "w:firstLineChars") == "200"


def test_attachment_note_and_pages(with_attachments):
    index = index_of(with_attachments, "附件：1.")
    first, second = with_attachments.paragraphs[index : index + 2]
    assert first.text.startswith("附件：1.全国妇联办公厅")
    assert second.text == "2.2012年2—3月全国妇联《妇工要情》信息报送要点"
    assert with_attachments.paragraphs[index - 1].text == ""  # one blank line below the text
    left_1 = int(ppr_value(first, "w:ind", "w:left"))
    hanging_1 = int(ppr_value(first, "w:ind", "w:hanging"))
    left_2 = int(ppr_value(second, "w:ind", "w:left"))
    hanging_2 = int(ppr_value(second, "w:ind", "w:hanging"))
    assert left_1 - hanging_1 == 2 * L.CHAR  # "附件：" two characters in
    assert left_2 - hanging_2 == left_1 - hanging_1 + 3 * L.CHAR  # "2." under "1."
    assert left_1 == left_2  # wrapped names continue under their first character
    for number, title_start in ((1, "关于进一步做好《妇工要情》"), (2, "2012年2—3月全国妇联")):
        label_index = index_of(with_attachments, f"附件{number}", index + 2)
        label = with_attachments.paragraphs[label_index]
        assert label.text == f"附件{number}"
        assert label.paragraph_format.page_break_before
        assert east_asia(label.runs[0]) == L.FONT_HEITI and label.runs[0].font.size.pt == 16
        title = with_attachments.paragraphs[label_index + 2]  # line three
        assert title.text.startswith(title_start)
        assert title.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
        assert {east_asia(r) for r in title.runs} == {L.FONT_XIAOBIAOSONG}
        assert {r.font.size.pt for r in title.runs} == {22}


# --- colophon 版记 -----------------------------------------------------------------------------


def border(cell, side: str) -> str | None:
    element = cell._tc.find(f"w:tcPr/w:tcBorders/w:{side}", {"w": W_NS})
    return None if element is None else element.get(qn("w:sz"))


def test_legacy_colophon(forwarding):
    (table,) = forwarding.tables
    texts = cell_paragraph_texts(table)
    assert texts == [
        "主题词：“下基层、访妇情、办实事”活动  意见",
        "报：中办、国办",
        "送：全国妇联名誉主席、主席、副主席、书记处书记",
        "发：中直机关妇工委、中央国家机关妇工委，解放军总政组织部，全国妇联机关各部门、各直属单位",
        "全国妇联办公厅\t2012年1月6日印发",
    ]
    cells = [row.cells[0] for row in table.rows]
    subject = cells[0].paragraphs[0].runs
    assert (subject[0].text, east_asia(subject[0]), subject[0].font.size.pt) == ("主题词：", L.FONT_HEITI, 16)
    for cell in cells[1:]:
        assert {r.font.size.pt for r in cell.paragraphs[0].runs} == {L.SIHAO}
        assert {east_asia(r) for r in cell.paragraphs[0].runs} == {L.FONT_FANGSONG}
    # first and last lines thick (0.35 mm), the ones between thin (0.25 mm)
    assert border(cells[0], "bottom") is None and border(cells[0], "top") is None
    assert border(cells[1], "top") == str(L.COLOPHON_THICK_SZ)
    assert [border(c, "bottom") for c in cells[1:]] == ["6", "6", "6", "8"]
    position = table._tbl.find("w:tblPr/w:tblpPr", {"w": W_NS})
    assert position.get(qn("w:tblpYSpec")) == "bottom"  # on the bottom of the type area
    assert position.get(qn("w:vertAnchor")) == "margin"


def test_colophon_cc_and_printing_line(with_attachments):
    (table,) = with_attachments.tables
    cc, printing = (row.cells[0].paragraphs[0] for row in table.rows)
    assert cc.text == "抄送：全国妇联办公厅。"
    assert int(ppr_value(cc, "w:ind", "w:left")) - int(ppr_value(cc, "w:ind", "w:hanging")) == L.SIHAO_CHAR  # one character in
    assert ppr_value(cc, "w:ind", "w:right") == str(L.SIHAO_CHAR)
    assert printing.text == "湖南省妇联办公室\t2012年2月29日印发"
    assert ppr_value(printing, "w:ind", "w:left") == str(L.SIHAO_CHAR)
    tab = printing._p.find("w:pPr/w:tabs/w:tab", {"w": W_NS})
    assert (tab.get(qn("w:val")), int(tab.get(qn("w:pos")))) == ("right", L.TYPE_AREA_WIDTH - L.SIHAO_CHAR)
    assert {r.font.size.pt for r in printing.runs} == {14}


def test_cc_joined_with_comma_ending_with_full_stop(request_doc):
    (table,) = request_doc.tables
    assert table.rows[0].cells[0].paragraphs[0].text == "抄送：省委办公厅，省政府办公厅。"


# --- page numbers --------------------------------------------------------------------------


def test_even_and_odd_footers_with_page_field(forwarding):
    assert forwarding.settings.odd_and_even_pages_header_footer
    section = forwarding.sections[0]
    for footer, alignment, indent in ((section.footer, "right", "w:right"), (section.even_page_footer, "left", "w:left")):
        assert not footer.is_linked_to_previous
        (paragraph,) = footer.paragraphs
        xml = paragraph._p.xml
        assert "PAGE" in "".join(paragraph._p.itertext())
        assert 'w:fldCharType="begin"' in xml
        assert paragraph.text.startswith("— ") and paragraph.text.endswith(" —")
        assert paragraph.alignment == getattr(docx.enum.text.WD_ALIGN_PARAGRAPH, alignment.upper())
        assert ppr_value(paragraph, "w:ind", indent) == str(L.SIHAO_CHAR)
        assert {r.font.size.pt for r in paragraph.runs} == {14}
        assert {east_asia(r) for r in paragraph.runs} == {L.FONT_SONGTI}
    # 7 mm below the type area: footer distance + the number's line = bottom margin - 7 mm
    assert section.footer_distance.twips + L.PAGE_NUMBER_LINE == L.MARGIN_BOTTOM - L.mm_to_twips(7)


# --- text, bytes and files -----------------------------------------------------------------


def test_xml_special_characters_escaped(request_doc):
    assert find(request_doc, "关于<&>").text == "关于<&>“妇女之家”建设经费的请示"
    assert find(request_doc, "为做好<&>工作").text == "为做好<&>工作，现请示如下。"


def test_same_input_same_bytes_and_atomic_write(tmp_path):
    parts = forwarding_sample()
    first = render_docx(parts, tmp_path / "a.docx")
    second = render_docx(forwarding_sample(), tmp_path / "b.docx")
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()
    assert first.sha256 == second.sha256 and first.size == (tmp_path / "a.docx").stat().st_size
    assert render_docx_bytes(parts) == (tmp_path / "a.docx").read_bytes()
    again = render_docx(parts, tmp_path / "a.docx")  # a retried step overwrites in place
    assert again == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.docx", "b.docx"]
    nested = render_docx(parts, tmp_path / "org" / "鲁妇发〔2012〕10号.docx")
    assert nested.path.read_bytes() == (tmp_path / "a.docx").read_bytes()


def test_same_bytes_in_another_process():
    """A retried step may run in a fresh worker: the base package is rebuilt identically."""
    code = (
        "import hashlib, sys; from gongwen_engine.doc_templates.render import "
        "render_docx_bytes; from samples import "
        "forwarding_sample; sys.stdout.write(hashlib.sha256("
        "render_docx_bytes(forwarding_sample())).hexdigest())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout  # `-c` imports from the cwd: tests/samples.py
    assert other == hashlib.sha256(render_docx_bytes(forwarding_sample())).hexdigest()


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr("gongwen_engine.config.files.os.replace", fail)
    with pytest.raises(OSError):
        render_docx(forwarding_sample(), tmp_path / "a.docx")
    assert list(tmp_path.iterdir()) == []


def test_no_parts_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        render_docx([], tmp_path / "empty.docx")


# --- LibreOffice --------------------------------------------------------------------------


def test_libreoffice_converts_the_forwarding_document(forwarding_docx, tmp_path):
    """The rendered forwarding document opens in LibreOffice and prints as a PDF."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice (soffice) is required"
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(forwarding_docx)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pdf = tmp_path / "forwarding.pdf"
    assert pdf.exists()
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    pages = int(next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:")))
    assert pages >= 2
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = "".join(text.split())
    assert "鲁妇发〔2012〕10号" in flat
    assert "妇字〔2012〕2号" in flat
    assert "关于转发全国妇联《关于在全国县以上" in flat
    assert "“下基层、访妇情、办实事”活动的意见" in flat
