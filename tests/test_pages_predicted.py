"""印制 converts the issued copy once when the placement of its 版记 is predicted
(doc_templates/pages.predicted_place) and its PDF confirms it, and gives byte for byte the .docx
of the two-pass way (render, convert, look, render again: pages.render_measured) on every
document, the prediction right, wrong or absent. Real LibreOffice."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from samples import forwarding_sample
from test_layout import shandong_notice

from gongwen_engine.doc_templates import pages
from gongwen_engine.doc_templates import pdf as pdf_module
from gongwen_engine.doc_templates.checks import check_pdf
from gongwen_engine.doc_templates.elements import ColophonPlace
from gongwen_engine.models.content import DocumentContent


def national_notice(paragraphs: int, long: bool = False, attachments: bool = False) -> DocumentContent:
    """What the provinces forward: a notice of ``paragraphs`` paragraphs (see test_layout)."""
    return shandong_notice(paragraphs, long, attachments).model_copy(
        update={
            "issuer_mark": "中华全国妇女联合会文件",
            "doc_number": "妇字〔2026〕5号",
            "main_recipients": ["各省、自治区、直辖市妇联"],
            "signature": "全国妇联",
            "printed_by": "全国妇联办公厅",
        }
    )


def cover(issuer: str, number: str, recipients: str) -> DocumentContent:
    """A short cover letter forwarding what follows it (转发)."""
    return DocumentContent(
        issuer_mark=f"{issuer}文件",
        doc_number=number,
        title="关于转发全国妇联有关文件的通知",
        main_recipients=[recipients],
        body=["现将有关文件转发给你们，请结合实际认真贯彻落实。"],
        signature=issuer,
        issued_on=date(2026, 3, 9),
        sealed=True,
        cc=["省委办公厅"],
        printed_by=f"{issuer}办公室",
        printed_on=date(2026, 3, 9),
    )


PROVINCE = cover("山东省妇女联合会", "鲁妇发〔2026〕3号", "各市妇联")
CITY = cover("济南市妇女联合会", "济妇发〔2026〕2号", "各区县妇联")

DOCUMENTS: dict[str, Callable[[], list[DocumentContent]]] = {
    "notice-1": lambda: [shandong_notice(1)],
    "notice-8": lambda: [shandong_notice(8)],
    "notice-14-long": lambda: [shandong_notice(14, long=True)],
    "notice-attachments": lambda: [shandong_notice(6, long=True, attachments=True)],
    "forward-1": lambda: [PROVINCE, national_notice(1)],
    "forward-8": lambda: [PROVINCE, national_notice(8)],
    "forward-14-long": lambda: [PROVINCE, national_notice(14, long=True)],
    "forward-attachments": lambda: [PROVINCE, national_notice(6, long=True, attachments=True)],
    "forward-of-a-forward": lambda: [CITY, PROVINCE, national_notice(1)],
    "forward-of-a-forward-8": lambda: [CITY, PROVINCE, national_notice(8)],
    "seed-001": forwarding_sample,
}


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The .docx files LibreOffice converts from now on (the PDF cache and the confirmations emptied first)."""
    converted: list[Path] = []
    convert = pdf_module.docx_to_pdf

    def counting(docx_files: list[Path], out: Path) -> list[Path]:
        converted.extend(docx_files)
        return convert(docx_files, out)

    monkeypatch.setattr(pdf_module, "docx_to_pdf", counting)
    monkeypatch.setattr(pdf_module, "_cache", type(pdf_module._cache)())
    monkeypatch.setattr(pages, "_CONFIRMED", OrderedDict())
    return converted


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_predicted_way_gives_the_two_pass_docx(tmp_path: Path, conversions: list[Path], name: str) -> None:
    parts = DOCUMENTS[name]()
    predicted = tmp_path / "predicted.docx"
    pages.render_issued(parts, predicted)
    once = len(conversions)
    measured = tmp_path / "measured.docx"
    pages.render_measured(parts, measured)
    assert predicted.read_bytes() == measured.read_bytes()
    pdf = pdf_module.docx_bytes_to_pdf(predicted)
    assert check_pdf(pdf, parts) == []
    if pages.predicted_place(parts) is ColophonPlace.after_blank and pages.after_blank_confirmed(pdf, parts):
        assert once == 1  # converted once: the prediction held
    else:
        assert once <= 3  # the prediction missed (or there was none): the two-pass way after it


def test_a_forward_whose_colophon_would_fall_on_an_odd_page_is_converted_once(tmp_path: Path, conversions: list[Path]) -> None:
    """The cascade's shape: at least one of these forwards needs the move, and takes one conversion."""
    once = []
    for name in ("forward-1", "forward-8", "forward-of-a-forward"):
        parts = DOCUMENTS[name]()
        before = len(conversions)
        pages.render_issued(parts, tmp_path / f"{name}.docx")
        if pages.after_blank_confirmed(pdf_module.docx_bytes_to_pdf(tmp_path / f"{name}.docx"), parts):
            once.append(len(conversions) - before)
    assert once and all(n == 1 for n in once)


@pytest.mark.parametrize("name", ["notice-1", "notice-8", "notice-14-long", "forward-1", "forward-8", "forward-of-a-forward"])
def test_a_wrong_prediction_falls_back_to_the_two_pass_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """``after_blank`` forced on every document: where it is not what the two-pass way chooses,
    the confirmation fails and the result is the two-pass one all the same."""
    parts = DOCUMENTS[name]()
    measured = tmp_path / "measured.docx"
    pages.render_measured(parts, measured)
    monkeypatch.setattr(pages, "predicted_place", lambda parts, style=None: ColophonPlace.after_blank)
    predicted = tmp_path / "predicted.docx"
    pages.render_issued(parts, predicted)
    assert predicted.read_bytes() == measured.read_bytes()


def test_the_step_renders_what_was_prepared_without_reading_its_pdf_again(tmp_path: Path, conversions: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """印制 under the lock renders the bytes ``prepare_printing`` rendered outside it: the
    confirmation of the first rendering stands for the same bytes (no conversion, no reading)."""
    for name in ("forward-1", "forward-8", "forward-of-a-forward"):  # one of them needs the move (the test above)
        parts = DOCUMENTS[name]()
        prepared = pages.render_issued(parts, tmp_path / "prepared.docx")
        if pages._CONFIRMED.get(prepared.sha256):
            break
    else:
        pytest.fail("no forward confirmed its predicted placement")
    readings: list[int] = []
    confirm = pages.after_blank_confirmed
    monkeypatch.setattr(pages, "after_blank_confirmed", lambda *a, **k: readings.append(1) or confirm(*a, **k))
    before = len(conversions)
    step = pages.render_issued(parts, tmp_path / "step.docx")
    assert (step.sha256, len(conversions) - before, readings) == (prepared.sha256, 0, [])
    assert (tmp_path / "step.docx").read_bytes() == (tmp_path / "prepared.docx").read_bytes()
