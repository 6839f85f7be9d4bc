"""gongwen receive: register a document from outside, once, with the file kept byte for byte;
hostile files are refused in Chinese and leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from docx import Document as DocxFile
from driving import drive
from reader_corpus import SPECS, docx_paragraphs, libreoffice
from sqlmodel import Session, func, select
from test_reader_seeds import seed
from typer.testing import CliRunner

from gongwen_engine.doc_templates.reader import IntakeError, ReadLimits
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive import archivist, search_archive
from gongwen_engine.flows.services.intake import DuplicateError, receive_file
from gongwen_engine.models.archive_search import SearchQuery
from gongwen_engine.models.issuers import EXTERNAL_ISSUER
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, CirculationFile, Document, Registration


def counts(engine: Engine) -> tuple[int, int, int, int]:
    with Session(engine.db) as session:
        files = [p for p in (engine.storage / "received").rglob("*") if p.is_file()] if (engine.storage / "received").exists() else []
        return (
            session.exec(select(func.count()).select_from(Document)).one(),
            session.exec(select(func.count()).select_from(CirculationFile)).one(),
            session.exec(select(func.count()).select_from(Circulation)).one(),
            len(files),
        )


def test_receive_a_forward_registers_it_and_keeps_the_file(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    path = seed("001")
    received = receive_file(engine, path, "jinan", user="jinan_secretary" if "jinan_secretary" in engine.config.users else None)
    stored = engine.storage / received.file
    assert stored.read_bytes() == path.read_bytes() and received.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with Session(engine.db) as session:
        doc = session.get(Document, received.document_id)
        original = session.get(Document, doc.forwards_id)
        assert (doc.org, doc.doc_number, doc.original_id) == ("shandong", "鲁妇发〔2012〕10号", original.id)
        assert (original.org, original.doc_number) == ("acwf", "妇字〔2012〕2号")
        record = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == received.circulation_id)).one()
        assert (record.role, record.file, record.sha256, record.size) == ("received_original", received.file, received.sha256, path.stat().st_size)
    drive(engine)
    with Session(engine.db) as session:
        reg = session.exec(select(Registration).where(Registration.circulation_id == received.circulation_id)).one()
        assert reg.org == "jinan" and reg.document_id == received.document_id
        drafted = session.exec(select(Document).where(Document.forwards_id == received.document_id)).one()
    # Jinan's forward names the original national document, not Shandong's forward
    assert drafted.title == "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"
    assert "（妇字〔2012〕2号）及山东省妇联转发通知（鲁妇发〔2012〕10号）" in drafted.content["body"][0]


def test_the_same_document_twice_is_refused_and_says_where_the_first_is(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    engine = make_engine()
    first = receive_file(engine, seed("001"), "jinan")
    with pytest.raises(DuplicateError, match=rf"完全相同.*收文流转 #{first.circulation_id}（济南市妇联") as same_file:
        receive_file(engine, seed("001"), "jinan")
    assert same_file.value.circulation_id == first.circulation_id
    copy = tmp_path / "copy.txt"  # same issuer and number, other bytes (e.g. re-typed)
    copy.write_bytes(seed("001").read_bytes() + b"\n")
    with pytest.raises(DuplicateError, match=r"发文字号 鲁妇发〔2012〕10号 已经收过.*原件"):
        receive_file(engine, copy, "jinan")
    assert counts(engine) == (2, 1, 1, 1)
    other = receive_file(engine, copy, "qingdao")  # another organisation receives the same document
    assert other.document_id == first.document_id and counts(engine)[1:] == (2, 2, 2)


def test_corrections_are_applied_and_audited(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    received = receive_file(engine, seed("003"), "jinan", {"doc_number": "鲁妇发[2012]第12号", "signature": "山东省妇女联合会"})
    assert received.fields["doc_number"] == "鲁妇发〔2012〕12号"
    with Session(engine.db) as session:
        events = {e.action: e for e in session.exec(select(AuditEvent).where(AuditEvent.circulation_id == received.circulation_id))}
        doc = session.get(Document, received.document_id)
    assert doc.org == "shandong" and doc.content["issued_on"] == "2012-02-06"
    confirmed = events["intake_confirmed"]
    assert confirmed.detail["corrections"] == {
        "doc_number": {"read": None, "set": "鲁妇发〔2012〕12号"},
        "signature": {"read": None, "set": "山东省妇女联合会"},
    }
    assert confirmed.actor == engine.config.users_with("jinan", "secretary")[0].id
    read = events["received"].detail
    assert read["read"]["issued_on"] == {"value": "2012-02-06", "source": "第4行", "confidence": 0.8, "warnings": ["成文日期取自标题下的括注"]}
    assert read["missing"] == ["issuer_mark", "doc_number", "signature"] and read["sha256"] == received.sha256


def test_an_external_issuer_keeps_its_names_for_the_forwarding_title(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    engine = make_engine()
    path = tmp_path / "总工发.docx"
    path.write_bytes(docx_paragraphs(SPECS[4]))  # 中华全国总工会文件, signed 中华全国总工会
    received = receive_file(engine, path, "shandong", {"issuer_short_name": "全国总工会"})
    with Session(engine.db) as session:
        doc = session.get(Document, received.document_id)
    assert (doc.org, doc.issuer_name, doc.issuer_short_name) == (EXTERNAL_ISSUER, "中华全国总工会", "全国总工会")
    drive(engine)
    with Session(engine.db) as session:
        drafted = session.exec(select(Document).where(Document.forwards_id == doc.id)).one()
    assert drafted.title == "关于转发全国总工会《关于开展女职工权益保护专项活动的通知》的通知"
    assert [(d.text, d.working_days) for d in received.reading.deadlines] == [("5个工作日内", 5)]
    with Session(engine.db) as session:  # the 收文处理单 prints the outside sender by its name, never the reserved code
        slip = session.exec(
            select(CirculationFile).where(CirculationFile.circulation_id == received.circulation_id, CirculationFile.role == "processing_slip")
        ).one()
    first_row = [c.text for c in DocxFile(str(engine.storage / slip.file)).tables[0].rows[0].cells]
    assert first_row[:2] == ["来文单位", "中华全国总工会"] and EXTERNAL_ISSUER not in first_row


def test_an_external_issuer_is_the_responsible_body_of_its_archive_item(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    engine = make_engine()
    path = tmp_path / "总工发.docx"
    path.write_bytes(docx_paragraphs(SPECS[4]))  # 中华全国总工会文件
    received = receive_file(engine, path, "qingdao")  # 青岛 has no children in the demo tree: it files the document
    drive(engine)
    with Session(engine.db) as session:
        item = session.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == received.circulation_id)).one()
    assert item.responsible == "中华全国总工会"  # 责任者: the issuer's own name, not the reserved code "external"


def test_missing_essentials_are_refused_with_the_set_to_give(make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    engine = make_engine()
    path = tmp_path / "no-date.txt"
    path.write_text("关于做好春节期间值班工作的通知\n各市妇联：\n请做好值班工作。\n", encoding="utf-8")
    with pytest.raises(IntakeError, match=r"缺少发文机关（全称）、成文日期，无法登记。请核对原件后补充这些字段") as missing:
        receive_file(engine, path, "shandong")
    assert missing.value.missing == ["issuer", "issued_on"] and "--set" not in str(missing.value)  # a web user has no --set
    assert counts(engine) == (0, 0, 0, 0)
    received = receive_file(engine, path, "shandong", {"issuer": "全国妇联", "issued_on": "2012年1月10日"})
    assert received.issuer_org == "acwf" and received.fields["issued_on"] == date(2012, 1, 10)


def _zip(parts: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _valid_docx() -> bytes:
    return docx_paragraphs(SPECS[0])


def _entity_docx(payload: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(_valid_docx()))
    parts = {info.filename: source.read(info) for info in source.infolist()}
    parts["word/document.xml"] = payload
    return _zip(parts)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>'
)
HOSTILE: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "empty": ("空.txt", lambda: b"", "是空文件"),
    "truncated zip": ("截断.docx", lambda: _valid_docx()[:3000], "已损坏或不完整"),
    "not a zip": ("坏.docx", lambda: b"PK\x03\x04" + b"\x00" * 200, "已损坏或不完整"),
    "zip bomb (ratio)": ("炸弹.docx", lambda: _zip({"word/document.xml": b"<a/>" + b" " * 30_000_000, "[Content_Types].xml": b"<x/>"}), "疑似压缩炸弹"),
    "too many parts": ("部件.docx", lambda: _zip({"word/document.xml": b"<a/>", **{f"word/media/{i}.bin": b"x" for i in range(1100)}}), "超过上限 1000"),
    "billion laughs": ("实体.docx", lambda: _entity_docx(BILLION_LAUGHS), "DTD/实体声明"),
    "external entity": ("外部实体.docx", lambda: _entity_docx(EXTERNAL_ENTITY), "DTD/实体声明"),
    "wrong extension": ("通知.docx", lambda: "关于…的通知\n".encode(), "扩展名是 .docx，内容却是纯文本"),
    "pdf named txt": ("通知.txt", lambda: b"%PDF-1.4\n%%EOF", "内容却是PDF"),
    "unknown extension": ("通知.xls", lambda: b"abc", "不是可收文的格式"),
    "encrypted word": ("加密.docx", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512, "加密"),
    "old .doc": ("旧版.doc", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "Word 97-2003"),
    "ofd": ("版式.ofd", lambda: _zip({"OFD.xml": b"<ofd/>"}), "OFD"),
    "scanned image": ("扫描.pdf", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "图片"),
    "unknown encoding": ("乱码.txt", lambda: b"caf\xe9 \xff\xfe\xfd \x81\x20", "文字编码无法识别"),
    "binary text": ("二进制.txt", lambda: "公文".encode("utf-16-le"), "二进制"),
    "pdf without text": ("空白.pdf", lambda: _blank_pdf(), "没有文字层"),
    "broken pdf": ("坏.pdf", lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", "PDF"),
    "too big": ("大.txt", lambda: "公".encode() * 400_000, "超过收文上限"),
}


def _blank_pdf() -> bytes:
    from pypdf import PdfWriter

    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(out)
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret", algorithm="RC4-128")
    writer.write(out)
    return out.getvalue()


HOSTILE["encrypted pdf"] = ("加密.pdf", _encrypted_pdf, "加密的 PDF")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_and_nothing_is_stored(case: str, make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    engine = make_engine()
    name, make, message = HOSTILE[case]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(IntakeError) as refused:
        receive_file(engine, path, "shandong", limits=ReadLimits(max_bytes=1024 * 1024))
    assert message in str(refused.value) and name in str(refused.value) and "。" in str(refused.value)
    assert counts(engine) == (0, 0, 0, 0)


def test_a_failure_inside_the_transaction_leaves_no_file(make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine()

    def database_went_away(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(engine, "start_for_recipient", database_went_away)  # after the file is written
    with pytest.raises(RuntimeError):
        receive_file(engine, seed("001"), "jinan")
    assert counts(engine) == (0, 0, 0, 0)


def test_cli_receive_json_and_friendly_errors(make_engine: Callable[..., Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gongwen_engine.flows.cli.main import app

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / ".gongwen"))
    runner = CliRunner()
    result = runner.invoke(app, ["receive", str(seed("000")), "--org", "shandong", "--json", "--no-run", "--set", "doc_number=湘妇发(2012)第1号"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fields"]["doc_number"] == "湘妇发〔2012〕1号" and data["issuer_org"] == "hunan"
    assert data["reading"]["deadlines"][0]["text"] == "2月下旬"
    again = runner.invoke(app, ["receive", str(seed("000")), "--org", "shandong", "--no-run"])
    assert again.exit_code == 2 and "不再重复登记" in again.output.replace("\n", "")  # the console wraps long lines
    collection = runner.invoke(app, ["receive", str(seed("002")), "--org", "shandong", "--no-run"])
    assert collection.exit_code == 2 and "合集" in collection.output
    wrong = runner.invoke(app, ["receive", str(seed("003")), "--org", "shandong", "--no-run", "--set", "colour=red"])
    assert wrong.exit_code == 2 and "不能更正字段“colour”" in wrong.output
    undated = tmp_path / "no-date.txt"
    undated.write_text("关于做好春节期间值班工作的通知\n各市妇联：\n请做好值班工作。\n", encoding="utf-8")
    missing = runner.invoke(app, ["receive", str(undated), "--org", "shandong", "--no-run"])
    assert missing.exit_code == 2 and "--set issuer=… --set issued_on=…" in missing.output  # the command line's own way to complete it


def test_cli_json_is_the_only_thing_on_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> None:
    """--json prints one JSON document on stdout: for a collection read with --dry-run (each text
    and its deadlines), and for a registration whose automatic steps then run in Prefect."""
    from gongwen_engine.flows.cli.main import app

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / ".gongwen"))
    runner = CliRunner()
    read = runner.invoke(app, ["receive", str(seed("004")), "--org", "shandong", "--dry-run", "--json"])
    assert read.exit_code == 0, read.output
    data = json.loads(read.stdout)
    assert data["circulation_id"] is None and data["reading"]["collection"] == ["篇一", "篇二"]
    assert [d["text"] for d in data["reading"]["deadlines"]] == ["5月19日前", "5月25日前", "6月10日前"]
    assert [t["heading"] for t in data["reading"]["texts"]] == ["篇一", "篇二"]
    registered = runner.invoke(app, ["receive", str(seed("003")), "--org", "jinan", "--json"])
    assert registered.exit_code == 0, registered.output
    data = json.loads(registered.stdout)  # nothing else on stdout: the steps' counts are inside the document
    assert data["circulation_id"] and sum(data["circulations"].values()) == 1


@pytest.mark.postgres
def test_receive_on_postgres(make_engine: Callable[..., Engine], pg_url: str) -> None:
    engine = make_engine(database_url=pg_url)
    first = receive_file(engine, seed("001"), "jinan")
    with pytest.raises(DuplicateError):
        receive_file(engine, seed("001"), "jinan")
    drive(engine)
    with Session(engine.db) as session:
        assert session.exec(select(Registration).where(Registration.circulation_id == first.circulation_id)).one().org == "jinan"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_number_already_used_by_a_received_document_is_voided_not_reissued(
    backend: str, make_engine: Callable[..., Engine], request: pytest.FixtureRequest
) -> None:
    """鲁妇发〔2012〕10号 arrives from outside before Shandong's own first 2012 number (its counter
    starts at 10): the 编号 step voids 10 with the reason and issues 11 — it never fails for good."""
    from gongwen_engine.flows.services.demo import load_notice
    from gongwen_engine.models.tables import IssuedNumber

    engine = make_engine(database_url=request.getfixturevalue("pg_url") if backend == "postgres" else None)
    received = receive_file(engine, seed("001"), "jinan")
    _, content = load_notice()
    circulation_id = engine.launch("shandong", "issuing", content, policy="demo", actor="shandong_secretary")
    drive(engine)
    with Session(engine.db) as session:
        doc = session.get(Document, session.get(Circulation, circulation_id).document_id)
        numbers = session.exec(select(IssuedNumber).where(IssuedNumber.prefix == "鲁妇发").order_by(IssuedNumber.serial)).all()
        voided = session.exec(select(AuditEvent).where(AuditEvent.action == "number_voided")).one()
    assert doc.doc_number == "鲁妇发〔2012〕11号"
    assert [(n.serial, n.voided, n.document_id) for n in numbers] == [(10, True, None), (11, False, doc.id)]
    assert f"#{received.document_id}" in numbers[0].void_reason and voided.detail["doc_number"] == "鲁妇发〔2012〕10号"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_body_of_a_received_original_is_searchable_whatever_its_format(
    backend: str, make_engine: Callable[..., Engine], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The same text received as .txt, as PDF (LibreOffice's export of the .docx) and as .docx, each
    filed by 青岛 (no children): a word only in the body (联系人名单) finds all three items."""
    engine = make_engine(database_url=request.getfixturevalue("pg_url") if backend == "postgres" else None)
    specs = {ext: replace(SPECS[4], doc_number=f"总工发〔2012〕{n}号") for n, ext in ((7, ".txt"), (8, ".pdf"), (9, ".docx"))}
    (tmp_path / "in").mkdir()
    for ext, spec in specs.items():
        (tmp_path / "in" / f"总工发{ext}").write_bytes("\n".join(spec.lines()).encode() if ext == ".txt" else docx_paragraphs(spec))
    libreoffice([tmp_path / "in" / "总工发.pdf"], "pdf", tmp_path / "out", tmp_path / "profile")  # the .docx of the PDF's spec, exported
    (tmp_path / "in" / "总工发.pdf").write_bytes((tmp_path / "out" / "总工发.pdf").read_bytes())
    received = {ext: receive_file(engine, tmp_path / "in" / f"总工发{ext}", "qingdao") for ext in specs}
    assert {ext: r.reading.format for ext, r in received.items()} == {".txt": "text", ".pdf": "pdf", ".docx": "docx"}
    drive(engine)
    with Session(engine.db) as session:
        items = {ext: session.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == r.circulation_id)).one() for ext, r in received.items()}
    assert "联系人名单" not in SPECS[4].title and all(items[ext].doc_number == spec.doc_number for ext, spec in specs.items())
    who = archivist(engine.config, "qingdao_archivist")
    hits = search_archive(engine, who, SearchQuery(fonds=who.fonds, words="联系人名单"))
    assert sorted(h.archive_code for h in hits) == sorted(item.archive_code for item in items.values())
    assert all("【联系人名单】" in h.excerpt for h in hits)


@pytest.mark.postgres
def test_two_forwards_of_one_original_received_at_once_share_it(make_engine: Callable[..., Engine], pg_url: str, monkeypatch) -> None:
    """Two provinces' forwards of one national notice received at the same time (PostgreSQL, two
    connections): the second waits for the first (``RECEIPTS_LOCK_KEY``) and reuses the original it
    stored, instead of both finding nothing and the second failing on the number's unique key (the
    database soak met it as an unexpected IntegrityError)."""
    import threading
    import time

    from gongwen_engine.flows.services import intake

    engine = make_engine(database_url=pg_url)
    first_stored, go = threading.Event(), threading.Event()
    real = intake._original_document

    def original_then_wait(session, engine_, part):
        found = real(session, engine_, part)
        if not first_stored.is_set():
            first_stored.set()
            go.wait(30)  # the first receipt holds its transaction open, its original stored, not committed
        return found

    monkeypatch.setattr(intake, "_original_document", original_then_wait)
    results: dict[str, object] = {}

    def receive(org: str) -> None:
        try:
            results[org] = receive_file(engine, seed("001"), org, user=f"{org}_secretary")
        except Exception as exc:  # reported below
            results[org] = exc

    first = threading.Thread(target=receive, args=("jinan",))
    first.start()
    assert first_stored.wait(30)
    second = threading.Thread(target=receive, args=("qingdao",))
    second.start()
    time.sleep(3)  # the second receipt reads the seed and reaches the database meanwhile
    go.set()
    first.join(60)
    second.join(60)
    assert not isinstance(results["jinan"], Exception) and not isinstance(results["qingdao"], Exception), results
    with Session(engine.db) as session:
        assert len(session.exec(select(Document).where(Document.doc_number == "妇字〔2012〕2号")).all()) == 1
        forwards = session.exec(select(Document).where(Document.doc_number == "鲁妇发〔2012〕10号")).all()
        assert len(forwards) == 1  # the same forward, received by both: one document, two circulations
        assert len(session.exec(select(Circulation).where(Circulation.received_id == forwards[0].id)).all()) == 2
