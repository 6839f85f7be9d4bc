"""Real files in the web workplace (issue 22): attachment files uploaded at compose (PDF, .docx,
.xlsx, images; type and size refused in Chinese), kept once by SHA-256, downloaded by those who
may see the document (the receiving organisation too) and filed with the archive item; the 正文
drafted in Word (.docx with Word's own styles) laid out in the red-header template (套红)."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from html import unescape
from pathlib import Path

import pytest
from docx import Document as new_docx
from driving import drive
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, select
from test_web_pages import csrf, engine_of

from gongwen_engine.doc_templates.pdf import docx_files_to_pdf_bytes, page_texts
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models.tables import ArchiveItem, Circulation, Document

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def sign_in(client: TestClient, account: str) -> None:
    client.post("/logout", data={"csrf": csrf(client, "/login")})
    answer = client.post("/login", data={"csrf": csrf(client, "/login"), "account": account, "password": DEMO_PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def xlsx() -> bytes:
    book = Workbook()
    book.active.append(["单位", "人数"])
    book.active.append(["济南市妇联", 12])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def word_draft() -> bytes:
    """A 正文 as an office drafts it in Word: a Title, Heading 1/2 without typed numbers, Normal text,
    one heading that carries its own number, an empty paragraph."""
    doc = new_docx()
    doc.add_paragraph("关于开展三八妇女节系列活动的通知", style="Title")
    doc.add_paragraph("为庆祝三八国际妇女节，经研究，决定开展系列活动。现将有关事项通知如下。")
    doc.add_paragraph("活动时间", style="Heading 1")
    doc.add_paragraph("2012年3月1日至8日。")
    doc.add_paragraph("活动内容", style="Heading 1")
    doc.add_paragraph("集中宣传", style="Heading 2")
    doc.add_paragraph("在各市主要街道设立宣传点。")
    doc.add_paragraph("走访慰问", style="Heading 2")
    doc.add_paragraph("")
    doc.add_paragraph("三、工作要求", style="Heading 1")  # typed by hand: kept, and counted
    doc.add_paragraph("请各市妇联于3月10日前报送活动总结。")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


PEOPLE = ("shandong_secretary", "shandong_reviewer", "shandong_org_dept", "shandong_pub_dept", "shandong_leader")


def carry_through(client: TestClient, engine: Engine) -> None:
    """Every person of Shandong acts on what waits for them with the step's first outcome (提交、同意、签发 …), until nothing waits."""
    for _ in range(8):
        drive(engine)
        acted = False
        for account in PEOPLE:
            sign_in(client, account)
            for item in re.findall(r'href="/items/(\d+)"', client.get("/inbox").text)[:1]:
                page = client.get(f"/items/{item}").text
                outcome = re.search(r'name="outcome" value="(\w+)"', page)
                if outcome:
                    client.post(f"/items/{item}/act", data={"csrf": csrf(client, f"/items/{item}"), "outcome": outcome.group(1), "comment": "同意。"})
                    acted = True
        if not acted:
            return


FORM = {
    "flow": "outgoing",
    "doc_type": "通知",
    "title": "关于报送妇女儿童工作统计表的通知",
    "recipients": ["济南市妇联"],
    "body": "请按附件格式报送统计表。",
    "issued_on": "2012-02-20",
    "sealed": "1",
}


def compose(client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]], **fields: object) -> object:
    return client.post("/launch", data={"csrf": csrf(client, "/launch"), **FORM, **fields}, files=files, follow_redirects=False)


def test_attachment_files_are_stored_by_digest_downloaded_with_permission_and_filed(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    table = xlsx()
    refused = compose(client, [("attachment_files", ("说明.exe", b"MZ\x90\x00", "application/octet-stream"))])
    assert refused.status_code == 400 and "附件“说明.exe”的格式不能作为附件上传" in refused.text and "PDF、Word（.docx）" in refused.text
    old_word = compose(client, [("attachment_files", ("旧表.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "application/vnd.ms-excel"))])
    assert old_word.status_code == 400 and "另存为" in old_word.text
    renamed = compose(client, [("attachment_files", ("统计表.pdf", table, "application/pdf"))])
    assert renamed.status_code == 400 and "扩展名是 .pdf，内容却是Excel（.xlsx）" in renamed.text
    files = [
        ("attachment_files", ("妇女儿童工作统计表.xlsx", table, "application/octet-stream")),
        ("attachment_files", ("活动方案.pdf", PDF, "application/pdf")),
        ("attachment_files", ("现场照片.png", PNG, "image/png")),
    ]
    preview = compose(client, files, preview="1")  # 预览: nothing launched; the files stay ticked for the launch
    assert preview.status_code == 200 and "预览（按 GB/T 9704 版式，尚未发起）" in preview.text
    kept = re.findall(r'name="keep_files" value="([0-9a-f]{64})" checked', preview.text)
    assert len(kept) == 3 and kept[0] == hashlib.sha256(table).hexdigest()
    launched = compose(client, [], keep_files=kept[:2])  # the photo unticked
    assert launched.status_code == 303
    circ_id = int(launched.headers["location"].rsplit("/", 1)[1])
    with Session(engine.db) as session:
        doc = session.exec(select(Document).where(Document.circulation_id == circ_id)).one()
    given = [a["file"] for a in doc.content["attachments"]]
    assert [g["name"] for g in given] == ["妇女儿童工作统计表.xlsx", "活动方案.pdf"] and doc.content["attachment_notes"] == ["妇女儿童工作统计表", "活动方案"]
    assert given[0]["file"] == f"attachments/{given[0]['sha256'][:2]}/{given[0]['sha256']}.xlsx" and given[0]["sha256"] == hashlib.sha256(table).hexdigest()
    assert (engine.storage / given[0]["file"]).read_bytes() == table
    page = client.get(f"/circulations/{circ_id}")
    assert f'href="/documents/{doc.id}/attachments/1">附件1：妇女儿童工作统计表.xlsx' in page.text
    download = client.get(f"/documents/{doc.id}/attachments/1")
    assert download.status_code == 200 and download.content == table and "attachment" in download.headers["content-disposition"]
    assert client.get(f"/documents/{doc.id}/attachments/3").status_code == 404

    sign_in(client, "qingdao_secretary")  # an organisation the document is not sent to
    assert client.get(f"/documents/{doc.id}/attachments/1").status_code == 403

    carry_through(client, engine)
    with Session(engine.db) as session:
        received = session.exec(select(Circulation).where(Circulation.org == "jinan", Circulation.parent_id == circ_id)).first()
    assert received is not None, "the document reached 济南"
    sign_in(client, "jinan_secretary")
    their_page = client.get(f"/circulations/{received.id}")
    assert "附件1：妇女儿童工作统计表.xlsx" in their_page.text
    link = re.search(r'href="(/documents/\d+/attachments/2)"', their_page.text).group(1)
    assert client.get(link).content == PDF  # the recipients get the file itself

    with Session(engine.db) as session:
        item = session.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == circ_id)).first()
    assert item is not None, "filed once issued"
    roles = [f["role"] for f in item.files]
    assert roles[-2:] == ["attachment_1", "attachment_2"]
    filed = item.files[-2]
    assert filed["sha256"] == hashlib.sha256(table).hexdigest() and (engine.storage / filed["file"]).read_bytes() == table
    sign_in(client, "shandong_archivist")
    record = client.get(f"/archive/items/{item.archive_code}")
    assert "附件1" in record.text and "附件2" in record.text
    archived = re.search(r'href="(/archive/items/[^"]+/files/[^"]*attachment_1[^"]*)"', record.text).group(1)
    assert client.get(archived).content == table  # the archivist downloads it from the record


def test_a_word_draft_becomes_the_body_with_its_heading_levels(client: TestClient) -> None:
    sign_in(client, "shandong_secretary")
    old = compose(client, [("body_file", ("通知.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "application/msword"))], body="")
    assert old.status_code == 400 and "旧版 Word 97-2003（.doc）或 WPS（.wps）格式" in old.text and "另存为”Word 文档（.docx）" in old.text
    wps = compose(client, [("body_file", ("通知.wps", b"anything", "application/octet-stream"))], body="")
    assert wps.status_code == 400 and "另存为" in wps.text
    preview = compose(client, [("body_file", ("三八活动通知.docx", word_draft(), "application/octet-stream"))], body="", title="", preview="1")
    assert preview.status_code == 200, preview.text
    assert "已从“三八活动通知.docx”读取正文 9 段（其中标题层次 5 处）" in preview.text
    body = re.search(r'<textarea name="body"[^>]*>([^<]*)</textarea>', preview.text).group(1).split("\n")
    assert body == [
        "为庆祝三八国际妇女节，经研究，决定开展系列活动。现将有关事项通知如下。",
        "一、活动时间",
        "2012年3月1日至8日。",
        "二、活动内容",
        "（一）集中宣传",
        "在各市主要街道设立宣传点。",
        "（二）走访慰问",
        "三、工作要求",
        "请各市妇联于3月10日前报送活动总结。",
    ]
    assert 'name="title" value="关于开展三八妇女节系列活动的通知"' in preview.text  # the Title paragraph is the title
    assert "山东省妇女联合会文件" in preview.text and "（一）集中宣传" in preview.text  # laid out in the red-header template


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_a_word_draft_laid_out_in_the_red_header_template_prints_as_gbt_9704(client: TestClient, tmp_path: Path) -> None:
    """The Word draft launched straight away (no preview): the .docx gongwen renders puts each
    heading level in its face (一、 黑体, （一） 楷体) under the red header, and LibreOffice prints
    it with the header, the number levels and the body in order."""
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    launched = compose(client, [("body_file", ("三八活动通知.docx", word_draft(), "application/octet-stream"))], body="", title="")
    assert launched.status_code == 303, launched.text
    circ_id = int(launched.headers["location"].rsplit("/", 1)[1])
    with Session(engine.db) as session:
        doc = session.exec(select(Document).where(Document.circulation_id == circ_id)).one()
    assert doc.title == "关于开展三八妇女节系列活动的通知" and doc.content["body"][1] == "一、活动时间"
    data = client.get(f"/documents/{doc.id}/docx").content
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    faces = re.findall(r'w:eastAsia="([^"]+)"[^>]*/>(?:(?!</w:r>).)*?<w:t[^>]*>((?:[一二三]、|（[一二]）)[^<]*)</w:t>', xml)
    assert [(face[:2], text) for face, text in faces] == [
        ("黑体", "一、活动时间"),
        ("黑体", "二、活动内容"),
        ("楷体", "（一）集中宣传"),
        ("楷体", "（二）走访慰问"),
        ("黑体", "三、工作要求"),
    ], faces
    (tmp_path / "draft.docx").write_bytes(data)
    text = "\n".join(page_texts(docx_files_to_pdf_bytes([tmp_path / "draft.docx"])[0]))
    flat = re.sub(r"\s+", "", text)
    order = ["山东省妇女联合会文件", "关于开展三八妇女节系列活动的通知", "济南市妇联：", "一、活动时间"]
    order += ["二、活动内容", "（一）集中宣传", "（二）走访慰问", "三、工作要求"]
    positions = [flat.find(part) for part in order]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), (positions, flat[:400])


def test_the_attachments_of_an_incoming_document_are_registered_with_it_on_confirm(client: TestClient) -> None:
    from test_reader_seeds import seed

    engine = engine_of(client)
    sign_in(client, "jinan_secretary")
    token = csrf(client, "/receive")
    upload = seed("001")
    refused = client.post(
        "/receive",
        data={"csrf": token, "flow": "forwarding"},
        files=[("file", (upload.name, upload.read_bytes())), ("attachment_files", ("名单.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64))],
    )
    assert refused.status_code == 400 and "附件“名单.doc”是旧版 Office" in refused.text
    with Session(engine.db) as session:
        assert session.exec(select(Circulation)).first() is None
    table = xlsx()
    page = client.post(
        "/receive",
        data={"csrf": token, "flow": "forwarding"},
        files=[("file", (upload.name, upload.read_bytes())), ("attachment_files", ("报名表.xlsx", table)), ("attachment_files", ("通知扫描件.pdf", PDF))],
    )
    assert page.status_code == 200 and "附件1“报名表.xlsx”、附件2“通知扫描件.pdf”" in page.text
    fields = dict(re.findall(r'name="field_(\w+)"[^>]*?(?:value="([^"]*)")', page.text))
    fields |= {k: unescape(v) for k, v in re.findall(r'<textarea id="field_\w+" name="field_(\w+)"[^>]*>([^<]*)</textarea>', page.text)}
    staged = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    confirmed = client.post(
        "/receive/confirm", data={"csrf": token, "upload": staged, "flow": "forwarding", **{f"field_{k}": v for k, v in fields.items()}}, follow_redirects=False
    )
    assert confirmed.status_code == 303, confirmed.text
    with Session(engine.db) as session:
        circ = session.exec(select(Circulation)).one()
        doc = session.get(Document, circ.received_id)
    files = [a["file"]["name"] for a in doc.content["attachments"] if a.get("file")]
    assert files == ["报名表.xlsx", "通知扫描件.pdf"]
    shown = client.get(f"/circulations/{circ.id}").text
    number = 1 + [a.get("file") is None for a in doc.content["attachments"]].count(True)  # after the attachments read from the document itself
    assert f"附件{number}：报名表.xlsx" in shown
    assert client.get(f"/documents/{doc.id}/attachments/{number}").content == table


def test_the_draft_sheet_and_the_processing_slip_are_pages(client: TestClient) -> None:
    """发文稿纸 and 收文处理单 in the web (issue 22, point 9): the rows of the .docx record, opinions as written."""
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    launched = compose(client, [])
    circ_id = int(launched.headers["location"].rsplit("/", 1)[1])
    carry_through(client, engine)
    sign_in(client, "shandong_secretary")
    assert f'href="/circulations/{circ_id}/record">发文稿纸' in client.get(f"/circulations/{circ_id}").text
    sheet = client.get(f"/circulations/{circ_id}/record")
    assert sheet.status_code == 200 and "山东省妇联发文稿纸" in sheet.text
    cells = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td[^>]*>(.*?)</td>', sheet.text, re.S))
    assert list(cells)[:3] == ["签发", "会签", "核稿"] and cells["标题"] == FORM["title"] and cells["主送"] == "济南市妇联"
    assert cells["签发"].startswith("同意：同意。\u3000周红梅\u3000") and cells["会签"].count("<br>") == 1  # two department heads, one line each
    assert re.search(r"鲁妇发〔\d{4}〕\d+号", cells["文号"])
    with Session(engine.db) as session:
        received = session.exec(select(Circulation).where(Circulation.org == "jinan", Circulation.parent_id == circ_id)).one()
    sign_in(client, "jinan_secretary")
    slip = client.get(f"/circulations/{received.id}/record")
    assert slip.status_code == 200 and "济南市妇联收文处理单" in slip.text and "来文单位" in slip.text and FORM["title"] in slip.text
    assert client.get(f"/circulations/{circ_id}/record").status_code == 403  # the superior's own record is not the city's to see
