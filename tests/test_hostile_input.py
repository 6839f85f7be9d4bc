"""Hostile files and names (issue 26, point 6): a web upload whose name is longer than a file
system allows is cut at 255 bytes (not characters), extension kept, and registered — never a 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_reader_seeds import seed
from test_web_pages import confirm_fields, csrf, sign_in

from gongwen_engine.config.files import fit_file_name
from gongwen_engine.models.tables import Circulation, CirculationFile


def test_a_name_is_cut_at_255_bytes_keeping_its_extension() -> None:
    name = "关" * 295 + ".docx"
    cut = fit_file_name(name)
    assert len(cut.encode("utf-8")) <= 255 and cut.endswith(".docx") and cut.startswith("关关")
    assert len(cut.encode("utf-8")) > 250  # no more cut than needed (3-byte characters: 83 of them + .docx)
    assert fit_file_name("通知.docx") == "通知.docx"
    mixed = "a" + "通" * 100 + ".txt"  # the cut never splits a character
    assert fit_file_name(mixed).encode("utf-8").decode("utf-8") == fit_file_name(mixed)
    assert len(fit_file_name("x" * 300).encode()) == 255


def test_a_web_upload_with_a_295_character_name_is_registered(client: TestClient) -> None:
    sign_in(client, "jinan_secretary")
    long_name = "关于" + "转发" * 146 + "的通知.txt"  # 297 characters, 887 bytes
    token = csrf(client, "/receive")
    page = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": (long_name, seed("001").read_bytes())})
    assert page.status_code == 200, page.text[:500]  # the confirm page: what was read
    staged = re.search(r'name="upload" value="([^"]+)"', page.text)
    assert staged is not None
    fields = {f"field_{k}": v for k, v in confirm_fields(page.text).items()}
    response = client.post("/receive/confirm", data={"csrf": token, "upload": staged.group(1), "flow": "forwarding", **fields}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    with Session(client.app.state.web.engine.db) as session:
        assert session.exec(select(Circulation)).first() is not None
        assert session.exec(select(CirculationFile)).first() is not None


def text_pdf(js: bool = False, attachment: bool = False, launch: bool = False) -> bytes:
    """A one-page PDF with a text layer (Helvetica), optionally with JavaScript, an embedded file or a launch action."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    font = DictionaryObject(
        {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}
    )
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = ContentStream(None, writer)
    stream.set_data(b"BT /F1 14 Tf 72 760 Td (Notice on the campaign) Tj 0 -20 Td (Body text of the notice.) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    if js:  # the way the campaign's file did it: /Names/JavaScript, run when the document opens
        script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('hello');")})
        names = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("init"), writer._add_object(script)])})
        writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): writer._add_object(names)})
    if attachment:
        writer.add_attachment("payload.exe", b"MZ not really")
    if launch:
        action = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


FIELDS = {"title": "关于开展活动的通知", "issuer": "全国妇联", "issued_on": "2012-01-06"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"js": True}, "JavaScript 脚本"),
        ({"attachment": True}, "内嵌文件"),
        ({"launch": True}, "启动外部程序的动作（/Launch）"),
    ],
)
def test_a_received_pdf_with_active_content_is_flagged_and_kept_byte_for_byte(make_engine, tmp_path: Path, kwargs: dict, words: str) -> None:
    from gongwen_engine.flows.services.intake import receive_file
    from gongwen_engine.models.tables import AuditEvent

    engine = make_engine()
    path = tmp_path / "来文.pdf"
    path.write_bytes(text_pdf(**kwargs))
    received = receive_file(engine, path, "jinan", FIELDS)
    assert any(words in w and "不执行" in w for w in received.warnings), received.warnings
    with Session(engine.db) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "received")).one()
        stored = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == received.circulation_id)).one()
    assert any(words in found for found in event.detail["active_content"]), event.detail["active_content"]
    assert (engine.storage / stored.file).read_bytes() == path.read_bytes()  # the original, byte for byte


def test_a_plain_pdf_is_not_flagged(make_engine, tmp_path: Path) -> None:
    from gongwen_engine.flows.services.intake import receive_file

    path = tmp_path / "来文.pdf"
    path.write_bytes(text_pdf())
    received = receive_file(make_engine(), path, "jinan", FIELDS)
    assert received.reading.active_content == [] and not any("活动内容" in w for w in received.warnings)


def test_the_web_flags_active_content_on_every_page_and_sends_the_original_as_a_download(client: TestClient) -> None:
    """Issue 26, point 6, through the web: told on the confirm page and after 确认, written on the
    timeline and on the 收文处理单 (its rows: the page and the .docx), and the original only ever sent as an
    attachment, byte for byte — never opened inline by the browser."""
    from gongwen_engine.flows.services.intake import RECEIVED_ROLE
    from gongwen_engine.flows.services.workplace import record_view

    engine = client.app.state.web.engine
    sign_in(client, "jinan_secretary")
    original = text_pdf(js=True)
    token = csrf(client, "/receive")
    page = client.post("/receive", data={"csrf": token, "flow": "incoming"}, files={"file": ("来文.pdf", original)})
    assert page.status_code == 200 and "PDF 含有活动内容：JavaScript 脚本" in page.text, page.text[:800]
    staged = re.search(r'name="upload" value="([^"]+)"', page.text)
    assert staged is not None
    fields = {f"field_{k}": v for k, v in {**confirm_fields(page.text), **FIELDS}.items()}
    response = client.post("/receive/confirm", data={"csrf": token, "upload": staged.group(1), "flow": "incoming", **fields})
    assert response.status_code == 200 and "PDF 含有活动内容" in response.text, response.text[:800]  # the flash after 确认
    circ = int(str(response.url).rstrip("/").rsplit("/", 1)[1])
    shown = client.get(f"/circulations/{circ}").text
    assert "收文登记" in shown and "来文 PDF 含有活动内容：JavaScript 脚本。系统未执行" in shown  # the timeline
    view = record_view(engine, circ)
    assert view is not None and any(label == "安全提示" and "JavaScript 脚本" in text for row in view.rows for label, text in row)
    assert "安全提示" in client.get(f"/circulations/{circ}/record").text
    download = client.get(f"/circulations/{circ}/files/{RECEIVED_ROLE}")
    assert download.status_code == 200 and download.content == original
    assert download.headers["content-disposition"].startswith("attachment")
