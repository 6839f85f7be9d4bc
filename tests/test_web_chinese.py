"""Chinese only (issue 22, point 2): every page of the web workplace, for each role (secretary,
leader, reviewer, archivist), and every refusal those pages can trigger, is read as a person
sees it — text, placeholders, titles, button words — and fails on a Latin word that is not an
identifier (an account name, a flow's outcome code in a form value), a code (SHA-256, GB/T),
a document number or a file name. Without a browser (FastAPI's test client)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_reader_seeds import seed
from test_web_pages import compose, confirm_fields, csrf, engine_of, first_item, sign_in, switch

from gongwen_engine.models.tables import WorkItem

# Words a Chinese office reads as they are: formats, standards, digests, products.
ALLOWED = {"PDF", "SHA", "SM3", "GB", "DA", "CSRF", "Word", "WPS", "Excel", "LibreOffice", "MB", "WS", "docx", "xlsx", "txt", "pdf", "doc", "wps"}
ALLOWED |= {"PNG", "JPEG", "KB", "png", "jpg", "jpeg"}  # attachment files: image formats and their sizes
FILE_NAME = re.compile(r"[\w\u4e00-\u9fff\-（）()]+\.(docx|pdf|txt|xlsx|doc|json|zip|png|jpe?g|wps|exe)\b", re.I)
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_][A-Za-z0-9]+)*")
CODE = re.compile(r"\d")  # a word with a digit is a code: 全宗号 S037, SM3, A4
SHOWN_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label")


class _Visible(HTMLParser):
    """The text a person reads: text nodes and shown attributes, outside <code>, <style>, <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "style", "script"):
            self.skip += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "style", "script") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def latin_words(html: str) -> list[str]:
    """The Latin words of a page a person would read, identifiers and file names aside."""
    parser = _Visible()
    parser.feed(html)
    text = FILE_NAME.sub(" ", " ".join(parser.parts))
    return sorted({w for w in LATIN.findall(text) if len(w) > 1 and w not in ALLOWED and "_" not in w and not CODE.search(w)})


def chinese_only(response: object, where: str) -> None:
    words = latin_words(response.text)  # type: ignore[attr-defined]
    assert not words, f"{where}（{response.status_code}）: Latin words {words}"  # type: ignore[attr-defined]


def test_latin_words_are_found() -> None:
    """The check itself: it finds an English hint and leaves codes, numbers and file names alone."""
    assert latin_words("<p>退回必须填写意见（a return needs a comment）</p>") == ["comment", "needs", "return"]
    assert latin_words("<p>SHA-256 <code>abc123</code> 鲁妇发〔2012〕10号 通知.docx shandong_secretary</p>") == []
    assert latin_words('<input placeholder="see config">') == ["config", "see"]
    assert latin_words("<p>全宗 S037 的档案 S037-WS·2012-Y-0001</p>") == []


def test_every_page_and_refusal_speaks_chinese(client: TestClient) -> None:
    engine = engine_of(client)
    seen: list[str] = []

    def page(path: str, status: int | None = 200) -> str:
        response = client.get(path)
        if status is not None:
            assert response.status_code == status, path
        chinese_only(response, path)
        seen.append(path)
        return response.text

    def post(path: str, data: dict, status: int, files: dict | None = None) -> str:
        response = client.post(path, data=data, files=files, follow_redirects=False)
        assert response.status_code == status, (path, data, response.text[:300])
        if status != 303:
            chinese_only(response, f"POST {path} {sorted(data)}")
        return response.text

    page("/login")
    assert sign_in(client, "nobody", "wrong").status_code == 401
    chinese_only(sign_in(client, "shandong_secretary", "wrong"), "wrong password")

    # ---- secretary: compose (with refusals), receive, lists -----------------------------------
    assert sign_in(client, "shandong_secretary").status_code == 303
    for path in ("/circulations", "/launch", "/receive", "/inbox", "/done", "/board", "/nowhere"):
        page(path, None)
    post("/launch", {"csrf": csrf(client, "/launch"), "flow": "outgoing", "title": "", "body": ""}, 400)
    post("/launch", {"csrf": csrf(client, "/launch")}, 400)  # no flow at all: the form's field names in Chinese
    post("/launch", {"csrf": "forged", "flow": "outgoing"}, 403)
    circ_id = int(compose(client, flow="outgoing").headers["location"].rsplit("/", 1)[1])
    drive(engine)
    page(f"/circulations/{circ_id}")
    page(f"/circulations/{circ_id}/print")
    page(f"/circulations/{circ_id}/record")  # 发文稿纸 as a page
    token = csrf(client, "/launch")
    form = {"csrf": token, "flow": "outgoing", "title": "关于值班的通知", "recipients": ["济南市妇联"], "body": "请值班。"}
    post("/launch", {**form, "preview": "1"}, 400, files={"attachment_files": ("值班表.xlsx", b"PK\x03\x04 broken")})  # a damaged attachment
    post("/launch", {**form, "preview": "1"}, 400, files={"attachment_files": ("值班表.exe", b"MZ")})
    post("/launch", {**form, "body": ""}, 400, files={"body_file": ("正文.wps", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")})
    post("/launch", {**form, "preview": "1"}, 200, files={"attachment_files": ("值班表.pdf", b"%PDF-1.4 %%EOF")})  # preview with a kept file
    page("/documents/999999/attachments/1", 403)
    draft = first_item(client)
    page(f"/items/{draft}")
    token = csrf(client, f"/items/{draft}")
    post(f"/items/{draft}/act", {"csrf": token, "outcome": "submit", "title": "关于开展2012年妇女儿童权益保障宣传活动的通知"}, 303)
    drive(engine)
    post(f"/items/{draft}/act", {"csrf": token, "outcome": "submit"}, 409)  # already done
    post(f"/items/{draft}/reassign", {"csrf": token, "to": "nobody"}, 409)
    post("/delegate", {"csrf": token, "deputy": "shandong_reviewer", "until": "明天"}, 400)
    post("/delegate", {"csrf": token, "deputy": "nobody", "until": "2030-01-01"}, 409)
    page("/done")

    token = csrf(client, "/receive")
    upload = seed("001")
    post("/receive", {"csrf": token, "flow": "forwarding"}, 400, files={"file": ("通知.doc", b"\xd0\xcf\x11\xe0 old word")})
    incomplete = post("/receive", {"csrf": token, "flow": "forwarding"}, 200, files={"file": ("缺字段.txt", "关于值班的通知\n各市妇联：\n请值班。\n".encode())})
    staged = re.search(r'name="upload" value="([^"]+)"', incomplete).group(1)
    post("/receive/confirm", {"csrf": token, "upload": staged, "flow": "forwarding"}, 400)  # still missing: said on the same page
    post("/receive/confirm", {"csrf": token, "upload": staged, "flow": "forwarding", "field_issued_on": "上周", "field_issuer": "全国妇联"}, 400)
    post("/receive/confirm", {"csrf": token, "upload": staged, "flow": "elsewhere"}, 400)
    confirm = post("/receive", {"csrf": token, "flow": "forwarding"}, 200, files={"file": (upload.name, upload.read_bytes())})
    fields = confirm_fields(confirm)
    staged = re.search(r'name="upload" value="([^"]+)"', confirm).group(1)
    done = post("/receive/confirm", {"csrf": token, "upload": staged, "flow": "forwarding", **{f"field_{k}": v for k, v in fields.items()}}, 303)
    assert done == ""
    again = post("/receive", {"csrf": token, "flow": "forwarding"}, 409, files={"file": (upload.name, upload.read_bytes())})
    assert "第一次" in again and "gongwen" not in again and str(engine.storage) not in again
    post("/receive/confirm", {"csrf": token, "upload": "gone", "flow": "forwarding"}, 400)
    drive(engine)
    page("/circulations")
    page("/circulations?q=妇&overdue=1&page=2")

    # ---- secretary: the board (a requirement added, 催办 by hand) and 消息 ----------------------
    token = csrf(client, "/board")
    for bad in ({"what": "", "due": "2012-02-29"}, {"what": "活动实施方案", "due": "下个月"}, {"what": "统计表", "due": "2012-02-29", "form": "table"}):
        post("/board/requirements", {"csrf": token, "circulation": circ_id, **bad}, 409)
    post("/board/requirements", {"csrf": token, "circulation": 999999, "what": "方案", "due": "2012-02-29"}, 409)
    post("/board/requirements", {"csrf": token, "circulation": "第一件"}, 400)
    post("/board/requirements", {"csrf": token, "circulation": circ_id, "what": "活动实施方案", "due": "2012-02-29"}, 303)
    board = page("/board")
    requirement = re.search(r'name="requirement" value="(\d+)"', board).group(1)
    post("/board/urge", {"csrf": token, "requirement": requirement, "unit": "jinan"}, 303)
    post("/board/urge", {"csrf": token, "requirement": requirement, "unit": "jinan"}, 409)  # twice a day: to be confirmed
    post("/board/urge", {"csrf": token, "requirement": requirement, "unit": "hunan"}, 409)  # not among its units
    post("/board/urge", {"csrf": token, "requirement": 999999, "unit": "jinan"}, 409)
    page("/board")
    page("/messages")
    switch(client, "jinan_secretary")
    page("/messages")
    page("/board")
    post("/messages/read", {"csrf": csrf(client, "/messages")}, 303)
    page("/messages")
    switch(client, "shandong_secretary")

    # ---- reviewer: returns the draft -----------------------------------------------------------
    switch(client, "shandong_reviewer")
    review = first_item(client)
    page(f"/items/{review}")
    token = csrf(client, f"/items/{review}")
    post(f"/items/{review}/act", {"csrf": token, "outcome": "return"}, 409)  # a return needs a comment
    post(f"/items/{review}/act", {"csrf": token, "outcome": "nonsense"}, 409)
    post(f"/items/{review}/act", {"csrf": token, "outcome": "return", "comment": "请写明活动主题。"}, 303)
    drive(engine)
    page("/done")
    page("/launch", 403)
    page("/archive", 403)

    # ---- secretary: the returned draft, the revisions ------------------------------------------
    switch(client, "shandong_secretary")
    page("/inbox")
    page(f"/items/{first_item(client)}")
    page(f"/circulations/{circ_id}")

    # ---- leader: inbox, an item not theirs, another organisation -------------------------------
    switch(client, "shandong_leader")
    for path in ("/inbox", "/done", "/circulations", "/board", "/messages", f"/circulations/{circ_id}", "/receive"):
        page(path, None)
    switch(client, "hunan_leader")
    with Session(engine.db) as session:
        open_item = session.exec(select(WorkItem.id).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).first()
    page(f"/circulations/{circ_id}", 403)
    page(f"/items/{open_item}", 403)
    page("/items/999999", 403)  # missing or not theirs: alike
    page("/circulations/abc", 404)

    # ---- archivist -----------------------------------------------------------------------------
    switch(client, "shandong_archivist")
    for path in ("/archive", "/archive?words=妇联", "/archive?date_from=昨天", "/inbox", "/done", "/circulations", "/archive/items/S037-WS·2012-Y-9999"):
        page(path, None)
    assert len(seen) > 30
