"""A corpus of documents made in different ways parses to the fields they state, and every
document gongwen renders reads back to the fields it was rendered from (round trip)."""

from __future__ import annotations

import collections
from datetime import date

import pytest
from reader_corpus import CORE_FIELDS, Corpus, build_corpus, compare
from samples import attachments_sample, forwarding_sample

from gongwen_engine.config.loader import load_config
from gongwen_engine.doc_templates.drafting import DocRef, draft_forwarding_notice
from gongwen_engine.doc_templates.reader import read_bytes
from gongwen_engine.doc_templates.render import render_docx_bytes
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.models.content import DocumentContent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_has_every_way_of_making_a_document(corpus: Corpus) -> None:
    assert len(corpus.items) >= 20
    assert {
        "docx_paragraphs",
        "docx_table_mark",
        "docx_textbox_mark",
        "docx_wps_style",
        "text_gbk",
        "text_gb18030",
        "text_utf_16",
        "libreoffice_docx",
        "libreoffice_pdf",
    } <= {item.maker for item in corpus.items}


def test_corpus_fields_are_read(corpus: Corpus) -> None:
    correct: collections.Counter[str] = collections.Counter()
    wrong = []
    for item in corpus.items:
        reading = read_bytes(item.data, item.name)
        got = {name: f.value for name, f in reading.fields.items()}
        for name, ok in compare(item.expected, got).items():
            correct[name] += ok
            if not ok:
                wrong.append((item.name, name, item.expected.get(name), got.get(name)))
    total = len(corpus.items)
    print("per-field accuracy:", {name: f"{correct[name]}/{total}" for name in CORE_FIELDS})
    # Every field except the title is read from every file; LibreOffice's PDFs may scramble the
    # order of quotation marks set in another font (the reader warns), so a title may differ there.
    assert [w for w in wrong if not (w[1] == "title" and w[0].endswith(".pdf"))] == []
    assert correct["title"] >= total - 2


def test_number_look_alikes_and_chinese_dates_come_with_warnings(corpus: Corpus) -> None:
    item = next(i for i in corpus.items if i.name == "zeros-docx_paragraphs.docx")
    fields = read_bytes(item.data, item.name).fields
    assert fields["doc_number"].value == "济妇发〔2012〕3号"
    assert "删去序号的前导零 003 → 3" in fields["doc_number"].warnings[0] and "删去序号前的“第”" in fields["doc_number"].warnings[0]
    assert fields["issued_on"].value == date(2012, 2, 8) and "二〇一二年二月八日" in fields["issued_on"].warnings[0]


def test_wps_text_box_is_read_once_and_header_fields_found(corpus: Corpus) -> None:
    item = next(i for i in corpus.items if i.name == "external-docx_wps_style.docx")
    reading = read_bytes(item.data, item.name)
    assert reading.fields["issuer_mark"].value == "中华全国总工会文件" and reading.fields["issuer_mark"].source == "文本框1"
    assert [(d.text, d.kind, d.working_days) for d in reading.deadlines] == [("5个工作日内", "working_days", 5)]
    secret = read_bytes(next(i for i in corpus.items if i.name == "secret-docx_paragraphs.docx").data, "s.docx").fields
    assert (secret["copy_number"].value, secret["security"].value, secret["urgency"].value) == ("000012", "秘密★1年", "特急")
    upward = read_bytes(next(i for i in corpus.items if i.name == "upward-docx_paragraphs.docx").data, "u.docx").fields
    assert upward["signer"].value == "李明" and upward["doc_number"].value == "湘妇字〔2012〕1号"


def _expected_of(content: DocumentContent) -> dict[str, object]:
    return {
        "issuer_mark": content.issuer_mark,
        "doc_number": content.doc_number,
        "title": content.title.replace("\n", ""),
        "main_recipients": content.main_recipients,
        "signature": content.signature,
        "issued_on": content.issued_on,
        "cc": content.cc or None,
        "printed_by": content.printed_by,
        "printed_on": content.printed_on,
    }


def _demo_documents() -> list[list[DocumentContent]]:
    """What the demo renders: the national notice, Shandong's forward of it, Jinan's forward of that."""
    config = load_config()
    _, national = load_notice()
    national = national.model_copy(update={"doc_number": "妇字〔2012〕2号"})
    original = DocRef("全国妇联", national.title, "妇字〔2012〕2号")
    shandong = draft_forwarding_notice(config.org("shandong"), original, original, date(2012, 1, 31)).model_copy(update={"doc_number": "鲁妇发〔2012〕10号"})
    jinan = draft_forwarding_notice(config.org("jinan"), original, DocRef("山东省妇联", shandong.title, "鲁妇发〔2012〕10号"), date(2012, 2, 3))
    jinan = jinan.model_copy(update={"doc_number": "济妇发〔2012〕1号"})
    return [[national], [shandong, national], [jinan, shandong, national]]


@pytest.mark.parametrize(
    "parts",
    [forwarding_sample(), attachments_sample(), *_demo_documents()],
    ids=["seed001-sample", "seed000-sample", "demo-national", "demo-shandong", "demo-jinan"],
)
def test_rendered_documents_read_back(parts: list[DocumentContent]) -> None:
    reading = read_bytes(render_docx_bytes(parts), "rendered.docx")
    documents = [p for p in reading.parts if p.kind != "attachment"]
    assert len(documents) == len(parts)
    for content, part in zip(parts, documents, strict=True):
        got = {name: f.value for name, f in part.fields.items()}
        assert compare(_expected_of(content), got) == {name: True for name in CORE_FIELDS}, (content.title, got)
        assert got.get("attachment_notes", []) == content.attachment_notes
        if content.legacy:
            assert "，".join(got["report_to"]) == "，".join(content.legacy.report_to)
            assert "，".join(got["distribute_to"]) == "，".join(content.legacy.distribute_to)
            assert got["subject_words"].split() == content.legacy.subject_words.split()
    attachments = [p for p in reading.parts if p.kind == "attachment"]
    assert [a.value("title") for a in attachments] == [a.title.replace("\n", "") for a in parts[0].attachments]
    assert [[b.text for b in a.body] for a in attachments] == [a.body for a in parts[0].attachments]
