"""发文字号 has one home, the column Document.doc_number; the stored content does not repeat it,
and a content dict written before (still carrying the key) reads back with the column's value."""

from __future__ import annotations

from datetime import date

from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of, stored_content
from gongwen_engine.models.tables import Document

CONTENT = DocumentContent(issuer_mark="山东省妇女联合会文件", doc_number="鲁妇发〔2012〕10号", title="关于转发的通知", issued_on=date(2012, 1, 31))


def test_the_stored_content_leaves_the_number_to_the_column() -> None:
    stored = stored_content(CONTENT)
    assert "doc_number" not in stored
    assert content_of(Document(org="shandong", title=CONTENT.title, doc_number="鲁妇发〔2012〕10号", content=stored)) == CONTENT


def test_a_draft_has_no_number_yet() -> None:
    assert content_of(Document(org="shandong", title=CONTENT.title, content=stored_content(CONTENT))).doc_number is None


def test_content_stored_before_keeps_reading_and_the_column_wins() -> None:
    legacy = CONTENT.model_dump(mode="json") | {"doc_number": "鲁妇发〔2012〕9号"}
    doc = Document(org="shandong", title=CONTENT.title, doc_number="鲁妇发〔2012〕10号", content=legacy)
    assert content_of(doc).doc_number == "鲁妇发〔2012〕10号"
