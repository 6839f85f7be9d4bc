"""The GB/T 9704 check of an issued PDF (doc_templates/checks.gbt9704_problems) passes a right
document and fails a deliberately broken one: each fault it exists to see is reported."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_layout import shandong_notice

from gongwen_engine.config.schema import Faces, HouseStyle
from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates import render as render_module
from gongwen_engine.doc_templates.checks import gbt9704_problems
from gongwen_engine.doc_templates.elements import ColophonPlace
from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf
from gongwen_engine.doc_templates.pdf_lines import face_name, is_red
from gongwen_engine.doc_templates.render import render_docx


def test_face_names_and_red() -> None:
    assert face_name("BAAAAA+NotoSerifCJKjp-Bold-VKana") == "NotoSerifCJKjp-Bold"
    assert face_name("DAAAAA+DejaVuSerif") == "DejaVuSerif"
    assert is_red((1.0, 0.0, 0.0)) and is_red((0, 1, 1, 0)) and not is_red((0.0, 0.0, 0.0)) and not is_red(0)


@pytest.fixture(scope="module")
def right_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("right") / "doc.docx"
    render_issued([shandong_notice(3).model_copy(update={"doc_number": "鲁妇发〔2026〕3号"})], path)
    return docx_bytes_to_pdf(path)


def test_a_right_document_passes(right_pdf: bytes) -> None:
    content = shandong_notice(3).model_copy(update={"doc_number": "鲁妇发〔2026〕3号"})
    assert gbt9704_problems(right_pdf, [content]) == []


def test_a_broken_document_fails_on_every_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One PDF broken five ways: the mark black and in the regular serif (so is the title), no page numbers,
    the 版记 left on odd page 1, the 主送 not flush left."""
    content = shandong_notice(1).model_copy(update={"doc_number": "鲁妇发〔2026〕3号"})
    monkeypatch.setattr(L, "RED", "000000")
    wrong_faces = HouseStyle(faces=Faces(mark="宋体", title="宋体"))  # 宋体 stands in as the regular serif, not 小标宋's bold
    base = render_module.base_package()
    monkeypatch.setattr(render_module, "base_package", lambda: dataclasses.replace(base, sect_pr=base.sect_pr_unnumbered))
    path = tmp_path / "broken.docx"
    render_docx([content.model_copy(update={"main_recipients": ["\u3000\u3000各市妇联"]})], path, ColophonPlace.inline, wrong_faces)
    problems = [str(p) for p in gbt9704_problems(docx_bytes_to_pdf(path), [content])]
    expected = [
        "【版记】第1页：版记所在页是奇数页",
        "【版头】第1页：发文机关标志“山东省妇女联合会文件”不是红色",
        "【主送机关】第1页：主送机关应顶格",
        "【字体】第1页：发文机关标志应为方正小标宋简体（NotoSerifCJKjp-Bold），版式文件中是NotoSerifCJKjp-Regular",
        "【字体】第1页：标题应为方正小标宋简体",
        "【页码】第1页：此页没有页码",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)


@pytest.mark.parametrize(
    ("number", "right"),
    [
        ("鲁妇发〔2012〕10号", True),
        ("第12号", True),
        ("鲁妇发[2012]10号", False),
        ("鲁妇发（2012）10号", False),
        ("鲁妇发〔2012〕010号", False),
        ("鲁妇发〔2012〕第10号", False),
    ],
)
def test_the_header_check_reads_the_document_number_form(number: str, right: bool) -> None:
    from gongwen_engine.doc_templates.checks import header_problems
    from gongwen_engine.doc_templates.pdf_lines import Line

    content = shandong_notice(1).model_copy(update={"doc_number": number})
    mark = Line("山东省妇女联合会文件", 196, 238, 92, 509, frozenset({"NotoSerifCJKjp-Bold"}), True)
    pages = [[mark, Line(number, 315, 331, 221, 380)]]
    problems = [p.message for p in header_problems(pages, content)]
    assert (problems == []) is right, problems
