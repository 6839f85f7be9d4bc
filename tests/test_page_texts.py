"""A PDF's text layers are read once for the same bytes (doc_templates/pdf.py ``page_texts``):
印制's layout checks, 用印's signature search and 归档's page count each ask for them."""

from __future__ import annotations

import io

import pypdfium2
import pytest

from gongwen_engine.doc_templates import pdf


def blank_pdf(pages: int) -> bytes:
    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """How many pages each pdfium reading found, in order (the cache emptied first)."""
    monkeypatch.setattr(pdf, "_texts", type(pdf._texts)())
    seen: list[int] = []
    real = pdf._read_page_texts

    def counted(data: bytes) -> list[str]:
        texts = real(data)
        seen.append(len(texts))
        return texts

    monkeypatch.setattr(pdf, "_read_page_texts", counted)
    return seen


def test_the_same_bytes_are_read_once(reads: list[int]) -> None:
    two, three = blank_pdf(2), blank_pdf(3)
    assert pdf.page_texts(two) == ["", ""]
    assert pdf.page_texts(bytes(two)) == ["", ""]  # equal bytes, another object
    assert pdf.page_texts(three) == ["", "", ""]
    assert reads == [2, 3]


def test_a_caller_changing_its_list_does_not_change_the_next_answer(reads: list[int]) -> None:
    data = blank_pdf(1)
    pdf.page_texts(data).append("改过")
    assert pdf.page_texts(data) == [""]


def test_the_oldest_reading_goes_beyond_the_bound(reads: list[int], monkeypatch) -> None:
    monkeypatch.setattr(pdf, "TEXTS_ENTRIES", 2)
    one, two, three = blank_pdf(1), blank_pdf(2), blank_pdf(3)
    for data in (one, two, one, three, one, two):
        pdf.page_texts(data)
    assert reads == [1, 2, 3, 2]  # `one`, used again, stayed; `two` was the oldest when `three` came
    assert len(pdf._texts) == 2


def test_bytes_that_are_not_a_pdf_raise_every_time(reads: list[int]) -> None:
    for _ in range(2):
        with pytest.raises(pypdfium2.PdfiumError):
            pdf.page_texts(b"not a pdf")
    assert not pdf._texts
