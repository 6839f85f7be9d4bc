"""The web workplace without a browser (FastAPI's test client over a fresh SQLite database):
sign-in throttling, CSRF, safe downloads, the print view's layout figures, composing and
signing through the service layer, refusals in plain Chinese, the cascade picture's overdue
mark. The browser journey is in test_web.py."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import pytest
from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.elements import part_view
from gongwen_engine.doc_templates.html import render_html
from gongwen_engine.flows.actions.reporting import send_report_reminders
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.signin import MAX_FAILURES_PER_ACCOUNT
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.flows.web.cascade import cascade
from gongwen_engine.flows.web.routes.secretary import upload_name
from gongwen_engine.flows.web.security import WebError, storage_file
from gongwen_engine.models.content import Attachment, DocumentContent
from gongwen_engine.models.tables import AuditEvent, Circulation, Delivery, Document, ReportSubmission, WorkItem, utcnow


def engine_of(client: TestClient) -> Engine:
    return client.app.state.web.engine


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client: TestClient, account: str, password: str = DEMO_PASSWORD) -> object:
    return client.post("/login", data={"csrf": csrf(client, "/login"), "account": account, "password": password, "next": "/"}, follow_redirects=False)


def audit_actions(engine: Engine) -> list[str]:
    with Session(engine.db) as session:
        return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


# ---- sign-in ----------------------------------------------------------------------------------------


def test_sign_in_is_throttled_after_repeated_failures(client: TestClient) -> None:
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        refused = sign_in(client, "hunan_leader", "not-the-password")
        assert refused.status_code == 401 and "用户名或密码不正确" in refused.text
    locked = sign_in(client, "hunan_leader")  # even the right password, until the window has passed
    assert locked.status_code == 429 and "暂时锁定" in locked.text
    assert sign_in(client, "hunan_secretary").status_code == 303  # another account from the same address still may
    actions = audit_actions(engine_of(client))
    assert actions.count("sign_in_failed") == MAX_FAILURES_PER_ACCOUNT and "sign_in_throttled" in actions and "sign_in" in actions


def test_forms_without_csrf_token_do_nothing(client: TestClient) -> None:
    no_token = client.post("/login", data={"account": "jinan_secretary", "password": DEMO_PASSWORD})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    assert sign_in(client, "jinan_secretary").status_code == 303
    wrong_token = client.post("/launch", data={"csrf": "forged", "flow": "issuing", "title": "关于测试的通知", "body": "正文。"})
    assert wrong_token.status_code == 403
    with Session(engine_of(client).db) as session:
        assert session.exec(select(Circulation)).first() is None
    assert audit_actions(engine_of(client)).count("csrf_refused") == 2


def test_pages_need_sign_in_and_carry_no_scripts(client: TestClient) -> None:
    page = client.get("/inbox", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Finbox"
    login = client.get("/login")
    assert "<script" not in login.text
    assert "script-src 'none'" in login.headers["content-security-policy"] and login.headers["x-frame-options"] == "DENY"
    assert "gongwen_session" in login.headers["set-cookie"] and "httponly" in login.headers["set-cookie"].lower()


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={"csrf": csrf(client, "/login"), "account": "jinan_secretary", "password": DEMO_PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


# ---- downloads ----------------------------------------------------------------------------------------


def test_storage_file_cannot_escape_the_storage_folder(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    (storage / "shandong").mkdir(parents=True)
    (storage / "shandong" / "a.docx").write_bytes(b"PK")
    (tmp_path / "secret.txt").write_text("secret")
    (storage / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert storage_file(storage, "shandong/a.docx") == (storage / "shandong" / "a.docx").resolve()
    for sneaky in ("../secret.txt", "shandong/../../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "."):
        with pytest.raises(WebError) as refused:
            storage_file(storage, sneaky)
        assert refused.value.status == 403
    with pytest.raises(WebError) as missing:
        storage_file(storage, "shandong/b.docx")
    assert missing.value.status == 404


# ---- the print view -------------------------------------------------------------------------------------


def test_print_view_uses_the_layout_of_the_docx() -> None:
    content = DocumentContent(
        doc_type="请示",
        direction="up",
        urgency="特急",
        issuer_mark="中华全国妇女联合会文件",
        doc_number="妇字〔2012〕3号",
        signer="黄主席",
        title="关于召开全国妇联执委会议的请示",
        main_recipients=["中共中央"],
        body=["一、会议时间。拟于3月召开。", "（一）会期两天。", "1.报到。", "正文一段。"],
        attachment_notes=["会议议程", "参会人员名单"],
        signature="全国妇联",
        issued_on="2012-01-31",
        attachments=[Attachment(title="会议议程", body=["上午开幕。"])],
        cc=["国务院妇儿工委"],
        printed_by="全国妇联办公厅",
        printed_on="2012-02-01",
    )
    view = part_view(content, new_page=False)
    html = str(render_html([content]))
    assert "transform:scaleX(0.95)" in html and f"font-size:{view.mark_fit.size}pt" in html  # the long mark compressed as in the .docx
    assert "签发人：" in html and "黄主席" in html and "gw-number-up" in html  # upward: number and signer on one line
    assert re.search(r"font-family:'黑体'[^>]*>一、会议时间。</span>", html)  # level-1 heading sentence in 黑体
    assert re.search(r"font-family:'楷体_GB2312'[^>]*>（一）会期两天。</span>", html)  # level 2 in 楷体
    assert "gw-level-3" in html and "gw-level-0" in html
    assert f"padding-right:{view.signature.date_right / 20:.2f}pt" in html  # date at the computed indent
    assert html.count('class="gw-sheet"') == 2  # the attachment on its own sheet
    assert "抄送：国务院妇儿工委。" in html and "2012年2月1日印发" in html
    assert "border-top:1.000pt solid" in html and "border-bottom:1.000pt solid" in html  # first and last colophon lines thick
    assert "<script" not in html


def test_print_view_escapes_the_text() -> None:
    content = DocumentContent(issuer_mark="某单位文件", title="<script>alert(1)</script>", body=["<b>x</b>"], issued_on="2012-01-31")
    html = str(render_html([content]))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html


# ---- composing, signing, refusals, the cascade ---------------------------------------------------------------


def compose(client: TestClient, **fields: str | list[str]) -> object:
    form = {
        "csrf": csrf(client, "/launch"),
        "flow": "issuing",
        "doc_type": "通知",
        "title": "关于开展妇女儿童权益保障宣传活动的通知",
        "recipients": ["各市妇联"],
        "body": "为做好宣传工作，现通知如下。\n一、宣传时间。3月1日至8日。\n（一）集中宣传。",
        "urgency": "特急",
        "issued_on": "2012-02-20",
        "sealed": "1",
        **fields,
    }
    return client.post("/launch", data=form, follow_redirects=False)


def switch(client: TestClient, account: str) -> None:
    client.post("/logout", data={"csrf": csrf(client, "/inbox")})
    assert sign_in(client, account).status_code == 303


def first_item(client: TestClient) -> int:
    return int(re.search(r'href="/items/(\d+)"', client.get("/inbox").text).group(1))


def test_secretary_composes_and_the_leader_signs(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    incomplete = compose(client, title="", body="")
    assert incomplete.status_code == 400 and "请填写标题" in incomplete.text and "请填写正文" in incomplete.text
    launched = compose(client)
    assert launched.status_code == 303
    circ_id = int(launched.headers["location"].rsplit("/", 1)[1])
    drive(engine)
    page = client.get(f"/circulations/{circ_id}")
    assert "待领导（周红梅、褚云霞）签发" in page.text and "山东省妇女联合会文件" in page.text

    switch(client, "shandong_leader")
    inbox = client.get("/inbox")
    assert "特急" in inbox.text and "关于开展妇女儿童权益保障宣传活动的通知" in inbox.text and "领导（任一人均可办理）" in inbox.text
    item_id = first_item(client)
    item = client.get(f"/items/{item_id}")
    assert 'value="approve"' in item.text and "编号”环节生成" in item.text
    docx = client.get(re.search(r'href="(/documents/\d+/docx)"', item.text).group(1))
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    token = csrf(client, f"/items/{item_id}")
    unknown = client.post(f"/items/{item_id}/act", data={"csrf": token, "outcome": "forward"})
    assert unknown.status_code == 409 and "无效" in unknown.text
    signed = client.post(f"/items/{item_id}/act", data={"csrf": token, "outcome": "approve", "comment": "同意。"}, follow_redirects=False)
    assert signed.status_code == 303
    again = client.post(f"/items/{item_id}/act", data={"csrf": token, "outcome": "approve"})
    assert again.status_code == 409 and "已办理" in again.text
    assert cascade(engine, circ_id).state == "signed"
    assert "download" in audit_actions(engine)


def test_the_compose_form_takes_attachments_and_refuses_a_document_not_received(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    refused = compose(client, attachments="收文：关于不存在的通知")
    assert refused.status_code == 400 and "本单位没有收到“关于不存在的通知”" in refused.text and "收文：关于不存在的通知" in refused.text  # kept on the form
    launched = compose(client, attachments="宣传活动安排表\n3月1日 启动仪式\n---\n联络员名单\n")
    assert launched.status_code == 303
    circ_id = int(launched.headers["location"].rsplit("/", 1)[1])
    with Session(engine.db) as session:
        doc = session.exec(select(Document).where(Document.circulation_id == circ_id)).one()
    assert doc.content["attachment_notes"] == ["宣传活动安排表", "联络员名单"]
    assert [a["body"] for a in doc.content["attachments"]] == [["3月1日 启动仪式"], []]


def test_a_return_needs_a_comment_and_a_revision_is_a_new_version(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client, flow="outgoing").headers["location"].rsplit("/", 1)[1])
    drive(engine)
    draft = first_item(client)  # 拟稿: the secretary's own step, with the text editable
    page = client.get(f"/items/{draft}")
    assert 'name="title"' in page.text and 'value="submit"' in page.text
    token = csrf(client, f"/items/{draft}")
    client.post(f"/items/{draft}/act", data={"csrf": token, "outcome": "submit", "title": "关于开展2012年妇女儿童权益保障宣传活动的通知"})
    drive(engine)

    switch(client, "shandong_reviewer")
    review = first_item(client)
    token = csrf(client, f"/items/{review}")
    no_comment = client.post(f"/items/{review}/act", data={"csrf": token, "outcome": "return"})
    assert no_comment.status_code == 409 and "退回必须填写意见" in no_comment.text
    returned = client.post(f"/items/{review}/act", data={"csrf": token, "outcome": "return", "comment": "请写明活动主题。"}, follow_redirects=False)
    assert returned.status_code == 303
    drive(engine)

    switch(client, "shandong_secretary")
    page = client.get(f"/circulations/{circ_id}")
    assert "修改痕迹（第1稿 → 第2稿）" in page.text and "2012年妇女儿童" in page.text
    assert "核稿：退回（请写明活动主题。）" in page.text


def test_other_organisations_cannot_see_or_act(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client).headers["location"].rsplit("/", 1)[1])
    drive(engine)
    with Session(engine.db) as session:
        item_id = session.exec(select(WorkItem.id).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).one()
    client.post("/logout", data={"csrf": csrf(client, "/circulations")})
    sign_in(client, "hunan_leader")
    assert client.get(f"/circulations/{circ_id}").status_code == 403
    assert client.get(f"/items/{item_id}").status_code == 403
    forged = client.post(f"/items/{item_id}/act", data={"csrf": csrf(client, "/inbox"), "outcome": "approve"})
    assert forged.status_code == 403 and "无权办理" in forged.text
    assert client.get("/launch").status_code == 403  # a leader does not compose
    assert client.get("/archive").status_code == 403  # nor search the archive


def test_overdue_items_are_marked_in_the_cascade(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client).headers["location"].rsplit("/", 1)[1])
    drive(engine)
    with Session(engine.db) as session:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).one()
        item.due_at = utcnow() - timedelta(hours=1)
        session.add(item)
        session.commit()
    assert cascade(engine, circ_id).overdue
    page = client.get(f"/circulations/{circ_id}")
    assert 'class="node state-waiting overdue"' in page.text and "已超期" in page.text
    assert "已超期" in client.get("/circulations").text


def test_a_launch_to_two_cities_delivers_to_exactly_those_two(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    form = client.get("/launch").text
    flows = re.findall(r'name="flow" value="(\w+)" ?(checked)? required> ([^<]+)</label>', form)
    assert flows[0][:2] == ("outgoing", "checked") and [f for f, checked, _ in flows if checked] == ["outgoing"]  # the full 发文办理 by default
    assert len({label for _, _, label in flows}) == len(flows) and "policy" not in form  # no two alike; no policy to choose (always 正式运行)
    assert 'value="济南市妇联"' in form and 'value="历下区妇联"' not in form  # only direct children can be chosen
    circ_id = int(compose(client, recipients=["济南市妇联", "青岛市妇联"]).headers["location"].rsplit("/", 1)[1])
    drive(engine)
    switch(client, "shandong_leader")
    item_id = first_item(client)
    client.post(f"/items/{item_id}/act", data={"csrf": csrf(client, f"/items/{item_id}"), "outcome": "approve"})
    drive(engine)
    with Session(engine.db) as session:
        doc = session.exec(select(Document).where(Document.circulation_id == circ_id)).one()
        delivered = sorted(d.recipient for d in session.exec(select(Delivery).where(Delivery.document_id == doc.id)))
    assert delivered == ["jinan", "qingdao"] and doc.content["main_recipients"] == ["济南市妇联", "青岛市妇联"]
    assert sorted(node.org.code for node in cascade(engine, circ_id).children) == ["jinan", "qingdao"]
    switch(client, "shandong_secretary")
    contradiction = compose(client, recipients=["各市妇联", "济南市妇联"])  # 全部下级 and one city: refused in plain Chinese (issue 20)
    assert contradiction.status_code == 400 and "两者矛盾" in contradiction.text


def test_the_supervision_board_shows_who_submitted_who_is_overdue_and_the_reminders(client: TestClient) -> None:
    engine = engine_of(client)
    _, content = load_notice()
    content = content.model_copy(update={"main_recipients": []})  # --to prints 济南市妇联、青岛市妇联 as the 主送
    circ_id = engine.launch("shandong", "issuing", content, policy="manual", actor="shandong_secretary", deliver_to=["jinan", "qingdao"])
    [plan] = reporting.add_requirements(engine, circ_id, [reporting.RequirementSpec(what="活动实施方案", due="2012-02-29")], "shandong_secretary")
    reporting.add_requirements(engine, circ_id, [reporting.RequirementSpec(what="联络员名单", due="5个工作日内", form="names")], "shandong_secretary")
    with Session(engine.db) as session:
        session.add(ReportSubmission(requirement_id=plan.id, org="jinan", status="submitted", submitted_on=date(2012, 2, 27)))
        session.commit()
    assert [(r.org, r.kind) for r in send_report_reminders(engine)] == [("qingdao", "escalated")]
    service = reporting.board(engine, org="shandong")  # what `gongwen board --org shandong` prints

    sign_in(client, "shandong_leader")
    page = client.get("/board")
    assert page.status_code == 200 and 'href="/board"' in page.text and "<script" not in page.text
    rows = re.findall(r'<tr class="status-(\w+)[^"]*">(.*?)</tr>', page.text, re.S)
    assert sorted(status for status, _ in rows) == sorted(r.status for r in service) == ["not_received", "not_received", "on_time", "overdue"]
    [(_, jinan)] = [(s, html) for s, html in rows if s == "on_time"]
    assert "济南市妇联" in jinan and "按时报送" in jinan and "2012-02-27" in jinan and "2012-02-29" in jinan
    [(_, qingdao)] = [(s, html) for s, html in rows if s == "overdue"]
    assert "青岛市妇联" in qingdao and "逾期未报" in qingdao and "逾期催办（报领导）" in qingdao
    assert '<tr class="status-overdue overdue">' in page.text  # overdue rows are highlighted
    assert "活动实施方案" in page.text and "联络员名单" in page.text and "收文后起算" in page.text and "逾期未报 <strong>1</strong>" in page.text

    switch(client, "qingdao_secretary")  # a city made no requirement: its board is empty, Shandong's is not shown
    assert "还没有提出报送要求" in client.get("/board").text
    switch(client, "qingdao_archivist")
    assert 'href="/board"' not in client.get("/archive").text and client.get("/board").status_code == 403


def test_an_unreadable_upload_is_refused_and_nothing_is_stored(client: TestClient, tmp_path: Path) -> None:
    engine = engine_of(client)
    sign_in(client, "jinan_secretary")
    token = csrf(client, "/receive")
    refused = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": ("通知.doc", b"\xd0\xcf\x11\xe0 old word")})
    assert refused.status_code == 400 and "收文失败" in refused.text
    missing = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": ("a.txt", "关于值班的通知\n各市妇联：\n请值班。\n".encode())})
    assert missing.status_code == 200 and "确认登记" in missing.text and "未读到，请填写" in missing.text  # shown to complete, not refused
    staged = re.search(r'name="upload" value="([^"]+)"', missing.text).group(1)
    bad_date = client.post(
        "/receive/confirm",
        data={"csrf": token, "upload": staged, "flow": "forwarding", "field_title": "关于值班的通知", "field_issuer": "全国妇联", "field_issued_on": "上周"},
    )
    assert bad_date.status_code == 400 and "成文日期“上周”不是日期" in bad_date.text and 'value="上周"' in bad_date.text  # kept to correct
    discarded = client.post("/receive/confirm", data={"csrf": token, "upload": staged, "flow": "forwarding", "discard": "1"}, follow_redirects=False)
    assert discarded.status_code == 303 and not any((engine.storage / "pending-uploads").iterdir())
    abandoned = engine.storage / "pending-uploads" / ("0" * 32)
    abandoned.mkdir()
    os.utime(abandoned, (0, 0))  # left in a browser long ago
    client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": ("a.txt", "关于值班的通知\n".encode())})
    assert not abandoned.exists()
    no_name = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": ("..", b"x")})
    assert no_name.status_code == 400 and "文件名无效" in no_name.text
    with Session(engine.db) as session:
        assert session.exec(select(Circulation)).first() is None
    assert not (engine.storage / "received").exists()


def test_an_uploaded_name_loses_its_folders() -> None:
    assert upload_name("C:\\Users\\李文书\\通知.docx") == "通知.docx"
    assert upload_name("../../etc/通知.docx") == "通知.docx"
    assert upload_name("..") == upload_name(".") == upload_name(None) == ""


def test_a_database_outage_is_a_plain_chinese_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database going away under a signed-in user: a 503 page in Chinese, no traceback."""
    from sqlalchemy import create_engine

    from gongwen_engine.models import db as db_module

    assert sign_in(client, "shandong_leader").status_code == 303
    monkeypatch.setattr(db_module, "RETRY_SECONDS", 0.2)
    engine = engine_of(client)
    monkeypatch.setattr(engine, "db", create_engine("postgresql+psycopg://gongwen:secretpw@127.0.0.1:1/none", connect_args={"connect_timeout": 1}))
    page = client.get("/inbox")
    assert page.status_code == 503
    assert "数据库" in page.text and "Traceback" not in page.text and "secretpw" not in page.text


def test_a_refusal_is_a_chinese_4xx_page_and_a_bug_a_500_that_names_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/errors.py: a Refusal (any subclass) is shown as it is with a 4xx; a KeyError is a bug, never a refusal."""
    from gongwen_engine.config.errors import Refusal
    from gongwen_engine.flows.web.routes import leader

    with TestClient(create_app(Settings(home=tmp_path / "home"), run_steps=False), raise_server_exceptions=False) as c:
        assert sign_in(c, "shandong_leader").status_code == 303

        def refuse(*_: object) -> None:
            raise Refusal("这件事办不了。")

        monkeypatch.setattr(leader, "inbox_page", refuse)
        page = c.get("/inbox")
        assert page.status_code == 409 and "这件事办不了。" in page.text

        def bug(*_: object) -> None:
            raise KeyError("internal-detail-42")

        monkeypatch.setattr(leader, "inbox_page", bug)
        page = c.get("/inbox")
        assert page.status_code == 500 and "系统内部错误" in page.text
        assert "internal-detail-42" not in page.text and "KeyError" not in page.text


def confirm_fields(html: str) -> dict[str, str]:
    """The fields of the confirm page as the browser would submit them (inputs and text areas)."""
    inputs = re.findall(r'<input[^>]*name="field_(\w+)"[^>]*value="([^"]*)"', html)
    areas = re.findall(r'<textarea[^>]*name="field_(\w+)"[^>]*>([^<]*)</textarea>', html)
    return {name: unescape(value) for name, value in [*inputs, *areas]}


def test_an_upload_is_registered_only_on_confirm_with_a_field_corrected_in_place(client: TestClient) -> None:
    """收文登记 (issue 22, point 1): upload → what was read, field by field with Chinese labels and
    confidence → one field corrected in place → 确认 registers and starts the flow; a second upload
    of the same file says where the first one is, in words."""
    from test_reader_seeds import seed

    engine = engine_of(client)
    sign_in(client, "jinan_secretary")
    token = csrf(client, "/receive")
    upload = seed("001")
    page = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": (upload.name, upload.read_bytes())})
    assert page.status_code == 200 and "发文机关（全称）" in page.text and "把握高（95%）" in page.text and "第3行" in page.text
    assert 'value="鲁妇发〔2012〕10号"' in page.text and "issuer=" not in page.text
    with Session(engine.db) as session:
        assert session.exec(select(Circulation)).first() is None  # nothing registered before 确认
    fields = confirm_fields(page.text)
    assert fields["title"].startswith("关于转发全国妇联") and fields["main_recipients"] == "各市妇联"
    staged = re.search(r'name="upload" value="([^"]+)"', page.text).group(1)
    fields["issued_on"] = "2012年2月1日"  # the secretary corrects the date in place
    confirmed = client.post(
        "/receive/confirm",
        data={"csrf": token, "upload": staged, "flow": "forwarding", **{f"field_{k}": v for k, v in fields.items()}},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    with Session(engine.db) as session:
        circ = session.exec(select(Circulation)).one()
        doc = session.get(Document, circ.received_id)
        confirmed_event = session.exec(select(AuditEvent).where(AuditEvent.action == "intake_confirmed")).one()
    assert circ.org == "jinan" and doc.content["issued_on"] == "2012-02-01"
    assert list(confirmed_event.detail["corrections"]) == ["issued_on"]  # only the field changed counts as a correction
    assert not any((engine.storage / "pending-uploads").iterdir())
    replay = client.post("/receive/confirm", data={"csrf": token, "upload": staged, "flow": "forwarding"})
    assert replay.status_code == 400 and "已不存在" in replay.text
    again = client.post("/receive", data={"csrf": token, "flow": "forwarding"}, files={"file": (upload.name, upload.read_bytes())})
    assert again.status_code == 409 and f"收文流转 #{circ.id}" in again.text and "北京时间" in again.text
    assert "gongwen" not in again.text and str(engine.storage) not in again.text and "received/" not in again.text


def test_lists_find_work_and_a_returned_draft_shows_why(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """已办, search, filters and pages (issue 22, point 5): the reviewer's return is in their 已办; the
    secretary's 待办 marks the draft 退回 with the comment, the item page puts it on top, and the
    revision is an inline diff by words with insertions and deletions marked."""
    from gongwen_engine.flows.services import workplace

    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client, flow="outgoing").headers["location"].rsplit("/", 1)[1])
    compose(client, flow="outgoing", title="关于做好春节期间值班工作的通知")
    drive(engine)
    draft = first_item(client)
    token = csrf(client, f"/items/{draft}")
    with Session(engine.db) as session:
        draft = session.exec(select(WorkItem.id).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).one()
    client.post(f"/items/{draft}/act", data={"csrf": token, "outcome": "submit", "title": "关于开展2012年妇女儿童权益保障宣传活动的通知"})
    drive(engine)
    switch(client, "shandong_reviewer")
    review = first_item(client)
    client.post(f"/items/{review}/act", data={"csrf": csrf(client, f"/items/{review}"), "outcome": "return", "comment": "请写明活动主题。"})
    drive(engine)
    done = client.get("/done").text
    assert "关于开展2012年妇女儿童权益保障宣传活动的通知" in done and "退回" in done and "请写明活动主题。" in done

    switch(client, "shandong_secretary")
    inbox = client.get("/inbox").text
    assert "<th>来文单位</th>" in inbox and "陈主任退回：请写明活动主题。" in inbox
    returned = int(re.search(r'returned">.*?href="/items/(\d+)"', inbox, re.S).group(1))
    item = client.get(f"/items/{returned}").text
    assert item.index("修改意见：</strong>请写明活动主题。") < item.index('class="paper-view"')  # on top, before the document
    page = client.get(f"/circulations/{circ_id}").text
    assert '<ins class="diff-ins">2012年</ins>' in page and "---" not in page and "@@" not in page

    lists = client.get("/circulations").text
    assert "春节期间值班" in lists and "权益保障" in lists
    found = client.get("/circulations", params={"q": "值班"}).text
    assert "春节期间值班" in found and "权益保障" not in found and "共 1 条" in found
    assert "没有符合条件的流转" in client.get("/circulations", params={"q": "不存在的标题"}).text
    assert "没有符合条件的流转" in client.get("/circulations", params={"flow": "issuing"}).text
    assert "共 2 条" in client.get("/circulations", params={"flow": "outgoing", "date_from": "2000-01-01"}).text
    assert "没有符合条件的流转" in client.get("/circulations", params={"date_to": "2000-01-01"}).text
    bad = client.get("/circulations", params={"date_from": "昨天"})
    assert bad.status_code == 200 and "起始日期“昨天”格式不对" in bad.text
    monkeypatch.setattr(workplace, "PAGE_SIZE", 1)
    first, second = client.get("/circulations").text, client.get("/circulations", params={"page": "2"}).text
    assert "第 1 / 2 页" in first and "page=2" in first and "第 2 / 2 页" in second
    assert ("春节期间值班" in first) != ("春节期间值班" in second)


# ---- sessions, throttling, what a refusal reveals (issue 22, point 7) ----------------------------------


def test_a_signed_out_cookie_is_refused_and_a_password_change_ends_every_session(client: TestClient) -> None:
    from gongwen_engine.flows.services.signin import end_sessions

    engine = engine_of(client)
    assert sign_in(client, "jinan_secretary").status_code == 303
    cookie = client.cookies.get("gongwen_session")
    assert client.get("/circulations", follow_redirects=False).status_code == 200
    client.post("/logout", data={"csrf": csrf(client, "/circulations")})
    client.cookies.set("gongwen_session", cookie)  # the old cookie, replayed after signing out
    replayed = client.get("/circulations", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")

    assert sign_in(client, "jinan_secretary").status_code == 303
    other = TestClient(client.app)
    assert sign_in(other, "jinan_secretary").status_code == 303  # a second browser
    assert end_sessions(engine, "jinan_secretary", "password_changed") == 2  # what `gongwen passwords --user` does
    for browser in (client, other):
        assert browser.get("/inbox", follow_redirects=False).status_code == 303
    with Session(engine.db) as session:
        from gongwen_engine.models.tables import WebSession

        rows = session.exec(select(WebSession)).all()
    assert {r.ended_why for r in rows} == {"sign_out", "password_changed"} and all(len(r.id) == 64 for r in rows)  # digests, not tokens
    assert cookie not in {r.id for r in rows}


def test_failures_from_one_address_do_not_lock_out_people_who_sign_in_there(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """An office behind one proxy address: someone guessing from it slows the guesses, never a colleague
    who has signed in from there before; the account guessed at waits longer after each failure."""
    from gongwen_engine.flows.services import signin

    monkeypatch.setattr(signin, "MAX_FAILURES_PER_ADDRESS", 3)
    assert sign_in(client, "jinan_leader").status_code == 303  # a known person at this address
    client.post("/logout", data={"csrf": csrf(client, "/inbox")})
    for account in ("zibo_leader", "zibo_secretary", "qingdao_leader"):
        assert sign_in(client, account, "guess").status_code == 401
    assert sign_in(client, "hunan_leader", "guess").status_code == 429  # the address now waits ...
    assert sign_in(client, "jinan_leader").status_code == 303  # ... except for those who signed in from it
    engine = engine_of(client)
    now = utcnow()
    failures = [now - timedelta(seconds=s) for s in (50, 40, 30, 20, 10)]
    assert signin.backoff(failures, 5) == failures[-1] + signin.FIRST_DELAY
    assert signin.backoff([*failures, now], 5) == now + 2 * signin.FIRST_DELAY  # doubles
    assert signin.backoff(failures * 10, 5) == failures[-1] + signin.THROTTLE_WINDOW  # capped
    assert signin.throttle(engine, "jinan_leader", "testclient").allowed


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path / "home", trusted_proxies="testclient, 10.0.0.9"), run_steps=False)
    with TestClient(app) as c:
        headers = {"X-Forwarded-For": "198.51.100.7, 10.0.0.9"}
        c.post("/login", data={"csrf": csrf(c, "/login"), "account": "jinan_leader", "password": "wrong", "next": "/"}, headers=headers)
    with Session(app.state.web.engine.db) as session:
        failed = session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in_failed")).one()
    assert failed.detail["address"] == "198.51.100.7"
    with TestClient(create_app(Settings(home=tmp_path / "other"), run_steps=False)) as c:  # no proxy trusted: the header is ignored
        c.post("/login", data={"csrf": csrf(c, "/login"), "account": "jinan_leader", "password": "wrong", "next": "/"}, headers=headers)
        with Session(c.app.state.web.engine.db) as session:
            assert session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in_failed")).one().detail["address"] == "testclient"


def test_a_403_reveals_nothing_and_healthz_is_minimal_without_sign_in(client: TestClient) -> None:
    engine = engine_of(client)
    assert client.get("/healthz").json() == {"ok": True}
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client).headers["location"].rsplit("/", 1)[1])
    drive(engine)
    assert "runner" in client.get("/healthz").json()
    with Session(engine.db) as session:
        item_id = session.exec(select(WorkItem.id).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).one()
    switch(client, "hunan_leader")
    pages = {
        "circulation": client.get(f"/circulations/{circ_id}"),
        "none": client.get("/circulations/999"),
        "item": client.get(f"/items/{item_id}"),
        "no item": client.get("/items/999"),
    }
    assert {p.status_code for p in pages.values()} == {403}
    for page in pages.values():
        assert "山东" not in page.text and "周红梅" not in page.text
    said = {name: re.search(r'role="alert">(.*?)</p>', page.text).group(1) for name, page in pages.items()}
    assert said["circulation"] == said["none"].replace("999", str(circ_id))  # existing or not: alike
    assert said["item"] == said["no item"].replace("999", str(item_id))


def test_the_compose_preview_lays_out_and_checks_the_pages_like_gongwen_preview(client: TestClient) -> None:
    """预览 on the compose page (issue 19): the pages as LibreOffice lays them out, checked as
    `gongwen preview` checks them, before anything is launched."""
    sign_in(client, "shandong_secretary")
    page = compose(client, preview="1")
    assert page.status_code == 200
    checked = re.search(r'<div class="(\w+)" id="preview-check"><p>([^<]+)</p>', page.text)
    assert checked and checked.group(1) == "flash", page.text[:3000]
    assert "按正式版式排出共 2 页" in checked.group(2) and "未发现问题" in checked.group(2)  # the text, then the 版记 on the even page
    assert client.get("/circulations").text.count("关于开展妇女儿童权益保障宣传活动的通知") == 0  # nothing launched
