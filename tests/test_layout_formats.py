"""The special formats (命令（令）格式, 信函格式; GB/T 9704-2012 §10, domain README §3.5) and the house
styles (版式变体, config/organisations.yaml ``house_style``), rendered through LibreOffice and held
to the whole GB/T 9704 check (doc_templates/checks.gbt9704_problems)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from test_layout import NOTE, shandong_notice

from gongwen_engine.config.schema import Faces, HouseStyle, NoteStyle
from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.checks import gbt9704_problems, mm
from gongwen_engine.doc_templates.elements import note_text, part_view
from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf
from gongwen_engine.doc_templates.pdf_lines import pdf_lines
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.doc_kinds import DocFormat, format_of, issuer_of_mark, mark_in_format


def rendered(content: DocumentContent, folder: Path, style: HouseStyle | None = None) -> tuple[bytes, Path]:
    """The issued copy as 印制 writes it, converted to PDF, and its .docx."""
    path = folder / "doc.docx"
    render_issued([content], path, style)
    return docx_bytes_to_pdf(path), path


def order() -> DocumentContent:
    return shandong_notice(1).model_copy(
        update={
            "doc_type": "令",
            "title": "山东省妇女联合会令",
            "main_recipients": [],
            "doc_number": "第1号",
            "body": ["《山东省妇女联合会信息报送办法》已经2026年3月1日省妇联主席办公会议通过，现予公布，自2026年4月1日起施行。"],
            "signature": "主席　周红",
            "cc": [],
        }
    )


@pytest.mark.parametrize(("doc_type", "mark"), [("令", "山东省妇女联合会令"), ("命令", "山东省妇女联合会命令")])
def test_an_order_takes_the_order_format_and_its_mark(doc_type: str, mark: str) -> None:
    assert format_of(doc_type, "山东省妇女联合会文件") is DocFormat.order
    assert mark_in_format("山东省妇女联合会文件", DocFormat.order, doc_type) == mark
    assert issuer_of_mark(mark) == "山东省妇女联合会"


def test_an_order_prints_mark_number_and_text_without_title_or_red_line(tmp_path: Path) -> None:
    content = order()
    pdf, _ = rendered(content, tmp_path)
    assert gbt9704_problems(pdf, [content]) == []
    first = pdf_lines(pdf)[0]
    assert [line.text for line in first[:3]] == ["山东省妇女联合会令", "第1号", "《山东省妇女联合会信息报送办法》已经2026年3月1"]
    mark, number, text = first[:3]
    assert abs(mm(mark.top) - (L.MARGIN_TOP_MM + L.ORDER_MARK_TOP_MM)) < 4  # 20 mm below the type area's top
    pitch = L.LINE_PITCH / L.TWIPS_PER_PT
    assert round((text.top - number.top) / pitch) == 3  # two blank lines between number and text
    assert round((number.top - mark.bottom) / pitch) >= 2  # and between mark and number


def test_a_letter_has_its_number_flush_right_under_the_double_line(tmp_path: Path) -> None:
    content = shandong_notice(4).model_copy(
        update={
            "doc_type": "函",
            "title": "关于商请支持开展妇女儿童权益保障调研工作的函",
            "doc_number": "鲁妇函〔2026〕5号",
            "printed_by": None,
            "printed_on": None,
            "main_recipients": ["山东省民政厅"],
        }
    )
    pdf, _ = rendered(content, tmp_path)
    assert gbt9704_problems(pdf, [content]) == []  # the number's place, no page number on page 1, 抄送 where it ends
    mark, number = pdf_lines(pdf)[0][:2]
    assert (mark.text, number.text) == ("山东省妇女联合会", "鲁妇函〔2026〕5号")
    assert abs(mm(mark.top) - L.LETTER_MARK_TOP_MM) < 4


# --- house styles -------------------------------------------------------------------------------


def test_a_house_style_drops_wen_jian_from_the_mark(tmp_path: Path) -> None:
    content = shandong_notice(3).model_copy(update={"doc_number": "鲁妇发〔2026〕7号"})
    style = HouseStyle(mark_suffix=False)
    assert part_view(content, new_page=False, style=style).mark == "山东省妇女联合会"
    assert part_view(content, new_page=False).mark == "山东省妇女联合会文件"
    pdf, _ = rendered(content, tmp_path, style)
    assert pdf_lines(pdf)[0][0].text == "山东省妇女联合会"
    assert gbt9704_problems(pdf, [content], style) == []
    assert any("发文机关标志" in p.message for p in gbt9704_problems(pdf, [content]))  # held to the default, it fails


def test_a_house_style_prints_the_note_without_parentheses() -> None:
    plain = HouseStyle(notes=NoteStyle.plain)
    assert note_text(NOTE) == f"（{NOTE}）" and note_text(f"（{NOTE}）") == f"（{NOTE}）"
    assert note_text(NOTE, plain) == NOTE and note_text(f"（{NOTE}）", plain) == NOTE
    view = part_view(shandong_notice(2, notes=True), new_page=False, style=plain)
    assert view.notes == [NOTE]


def test_a_house_style_chooses_the_face_of_each_role(tmp_path: Path) -> None:
    content = shandong_notice(3, headings=True).model_copy(update={"doc_number": "鲁妇发〔2026〕8号"})
    style = HouseStyle(faces=Faces(mark="宋体", title="小标宋", text="仿宋", heading1="楷体", heading2="仿宋"))
    pdf, docx = rendered(content, tmp_path, style)
    xml = zipfile.ZipFile(docx).read("word/document.xml").decode("utf-8")
    assert 'w:eastAsia="宋体"' in xml and 'w:eastAsia="仿宋"' in xml and 'w:eastAsia="楷体"' in xml
    assert 'w:eastAsia="方正小标宋简体"' not in xml and 'w:eastAsia="黑体"' not in xml  # no 一、 heading in 黑体 left
    assert gbt9704_problems(pdf, [content], style) == []
    [problem] = [p for p in gbt9704_problems(pdf, [content]) if p.rule == "字体"]  # the default wants the bold mark
    assert "发文机关标志应为方正小标宋简体" in problem.message


def test_a_house_style_face_outside_the_named_faces_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Faces.model_validate({"text": "Arial"})
    with pytest.raises(ValidationError):
        HouseStyle.model_validate({"notes": "brackets"})


# --- a one-line last paragraph that cannot go with the signature (调整行距) ---------------------------


def test_a_one_line_paragraph_that_would_leave_page_one_without_text_gets_a_tighter_line_pitch(tmp_path: Path) -> None:
    """The shape of 湘妇发〔2012〕1号 with a one-line text: a two-line title, two 附件说明 that wrap.
    The paragraph cannot be split, and kept with the signature it left page 1 with the header only;
    the lines are brought closer (GB/T 9704-2012 §7.3.5: 调整行距) until page 1 holds it all."""
    from test_layout import single_paragraph_notice

    from gongwen_engine.doc_templates.checks import text_start_problems
    from gongwen_engine.doc_templates.render import render_docx

    content = single_paragraph_notice(1).model_copy(update={"body": ["请各市州妇联高度重视信息报送工作，按时报送。"], "doc_number": "鲁妇发〔2026〕9号"})
    grid = tmp_path / "grid.docx"
    render_docx([content], grid)
    assert [p.rule for p in text_start_problems(pdf_lines(docx_bytes_to_pdf(grid)), content)] == ["正文"]  # on the grid: page 1 without text
    pdf, docx = rendered(content, tmp_path)
    assert gbt9704_problems(pdf, [content]) == []
    styles = zipfile.ZipFile(docx).read("word/styles.xml").decode("utf-8")
    assert any(f'w:line="{round(L.LINE_PITCH * fraction)}"' in styles for fraction in L.SQUEEZES)
    date_page = next(i for i, lines in enumerate(pdf_lines(pdf)) if any(line.text == "2026年3月2日" for line in lines))
    assert date_page == 0  # text, 附件说明, signature and date on page 1; the 版记 alone on page 2


def test_a_house_style_line_pitch_is_applied_and_named_in_the_metadata(tmp_path: Path) -> None:
    """Domain README §7: a provincial style's 33 pt lines; the override shows in the metadata."""
    content = shandong_notice(12, long=True).model_copy(update={"doc_number": "鲁妇发〔2026〕10号"})
    style = HouseStyle(line_pitch=33)
    pdf, docx = rendered(content, tmp_path, style)
    package = zipfile.ZipFile(docx)
    assert 'w:line="660"' in package.read("word/styles.xml").decode("utf-8")
    assert "版式变体：行距33磅" in package.read("docProps/core.xml").decode("utf-8")
    assert gbt9704_problems(pdf, [content], style) == []
    lines = [line for line in pdf_lines(pdf)[1] if not line.text.startswith("—")]
    assert round(lines[1].top - lines[0].top) == 33  # the text's lines 33 pt apart
    grid, _ = rendered(content, tmp_path)
    assert len(pdf_lines(grid)) <= len(pdf_lines(pdf))  # fewer lines a page: as many pages or more
