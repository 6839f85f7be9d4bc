"""The board (督办台账) on the web: a 报送要求 added from the page (the same service as `gongwen
deadlines add`), a 催办 sent by hand (audited, once a day unless confirmed, refused once
submitted), the organisation's own obligations; and 消息: reminders and arrivals as messages with
an unread count in the navigation, marked read on the page (issue 22, point 8)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_web_pages import compose, csrf, engine_of, first_item, sign_in, switch
from typer.testing import CliRunner

from gongwen_engine.config.schema import Role
from gongwen_engine.flows.actions.reporting import send_report_reminders
from gongwen_engine.flows.cli.main import app as cli_app
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import reporting
from gongwen_engine.models.tables import AuditEvent, Circulation, Message, ReportingRequirement, ReportSubmission, WorkItem, utcnow


def messages_of(engine: Engine, user: str) -> list[Message]:
    with Session(engine.db) as session:
        return list(session.exec(select(Message).where(Message.recipient == user).order_by(Message.id)))


def unread_in_nav(html: str) -> int:
    found = re.search(r'<a href="/messages" class="messages-link">消息(?: <span class="unread"[^>]*>(\d+)</span>)?</a>', html)
    assert found, "the navigation has no 消息 link"
    return int(found.group(1) or 0)


def issue_to_two_cities(client: TestClient) -> int:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    circ_id = int(compose(client, recipients=["济南市妇联", "青岛市妇联"]).headers["location"].rsplit("/", 1)[1])
    drive(engine)
    switch(client, "shandong_leader")
    item_id = first_item(client)
    client.post(f"/items/{item_id}/act", data={"csrf": csrf(client, f"/items/{item_id}"), "outcome": "approve"})
    drive(engine)
    return circ_id


def test_an_arrival_is_a_message_with_an_unread_count_marked_read_on_the_page(client: TestClient) -> None:
    engine = engine_of(client)
    issue_to_two_cities(client)
    [arrival] = messages_of(engine, "jinan_secretary")
    with Session(engine.db) as session:
        theirs = session.get(Circulation, arrival.circulation_id)
    assert arrival.kind == "arrival" and theirs is not None and theirs.org == "jinan" and theirs.received_id is not None
    assert "山东省妇联" in arrival.text and "关于开展妇女儿童权益保障宣传活动的通知" in arrival.text
    assert [m.kind for m in messages_of(engine, "qingdao_secretary")] == ["arrival"] and messages_of(engine, "hunan_secretary") == []

    switch(client, "jinan_secretary")
    page = client.get("/messages")
    assert unread_in_nav(page.text) == 1 and arrival.text in page.text and f'href="/circulations/{theirs.id}"' in page.text
    assert client.get(f"/circulations/{theirs.id}").status_code == 200  # the link is to their own circulation
    read = client.post("/messages/read", data={"csrf": csrf(client, "/messages"), "message": arrival.id})
    assert read.status_code == 200 and unread_in_nav(read.text) == 0 and "已读" in read.text
    assert messages_of(engine, "jinan_secretary")[0].read_at is not None
    switch(client, "qingdao_secretary")  # another person's message is not marked by a forged id
    client.post("/messages/read", data={"csrf": csrf(client, "/messages"), "message": arrival.id})
    assert unread_in_nav(client.get("/inbox").text) == 1


def test_the_board_adds_a_requirement_urges_by_hand_and_shows_the_obligations(client: TestClient, tmp_path: Path) -> None:
    engine = engine_of(client)
    circ_id = issue_to_two_cities(client)
    switch(client, "shandong_secretary")
    assert f'href="/board?circulation={circ_id}#add"' in client.get(f"/circulations/{circ_id}").text
    token = csrf(client, f"/board?circulation={circ_id}")
    assert f'name="circulation" type="number" min="1" required value="{circ_id}"' in client.get(f"/board?circulation={circ_id}").text

    bad_due = client.post("/board/requirements", data={"csrf": token, "circulation": circ_id, "what": "活动实施方案", "due": "下个月"})
    assert bad_due.status_code == 409 and "无法识别报送时限" in bad_due.text
    with Session(engine.db) as session:
        jinan_circ = session.exec(select(Circulation).where(Circulation.org == "jinan")).first()
    not_ours = client.post("/board/requirements", data={"csrf": token, "circulation": jinan_circ.id, "what": "方案", "due": "2012-02-29"})
    assert not_ours.status_code == 409 and "不是本单位的流转" in not_ours.text
    added = client.post("/board/requirements", data={"csrf": token, "circulation": circ_id, "what": "活动实施方案", "due": "2012-02-29"})
    assert added.status_code == 200 and "已登记报送要求" in added.text
    with Session(engine.db) as session:
        [req] = session.exec(select(ReportingRequirement)).all()
        assert (req.org, req.circulation_id, req.due_on, req.source) == ("shandong", circ_id, date(2012, 2, 29), "web")
        assert sorted(req.recipients) == ["jinan", "qingdao"]
        session.add(ReportSubmission(requirement_id=req.id, org="jinan", status="submitted", submitted_on=date(2012, 2, 27)))
        session.commit()
        session.refresh(req)

    board = client.get("/board").text
    urge_forms = re.findall(r'name="requirement" value="(\d+)"><input type="hidden" name="unit" value="(\w+)"', board)
    assert urge_forms == [(str(req.id), "qingdao")]  # only the unit that has not submitted can be urged
    urged = client.post("/board/urge", data={"csrf": token, "requirement": req.id, "unit": "qingdao"})
    assert urged.status_code == 200 and "已向青岛市妇联催办" in urged.text and "人工催办" in urged.text
    again = client.post("/board/urge", data={"csrf": token, "requirement": req.id, "unit": "qingdao"})
    assert again.status_code == 409 and "今天已向 青岛市妇联 催办过" in again.text
    submitted = client.post("/board/urge", data={"csrf": token, "requirement": req.id, "unit": "jinan"})
    assert submitted.status_code == 409 and "已报送" in submitted.text
    assert client.post("/board/urge", data={"csrf": token, "requirement": req.id, "unit": "qingdao", "again": "1"}).status_code == 200
    urges = [m for m in messages_of(engine, "qingdao_secretary") if m.kind == "urged"]
    assert len(urges) == 2 and all(m.sent_by == "shandong_secretary" and "活动实施方案" in m.text and "2012-02-29" in m.text for m in urges)
    with Session(engine.db) as session:
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "report_urged")).all()
    assert [(e.actor, e.org, e.detail["confirmed"]) for e in audited] == [("shandong_secretary", "qingdao", False), ("shandong_secretary", "qingdao", True)]

    # the automatic 逾期催办 goes to the unit's leader as a message too
    assert [(r.org, r.kind) for r in send_report_reminders(engine)] == [("qingdao", "escalated")]
    [escalated] = [m for m in messages_of(engine, "qingdao_leader") if m.requirement_id == req.id]
    assert escalated.kind == "escalated" and "已于 2012-02-29 到期" in escalated.text

    # 本单位应报事项: what Shandong requires of Qingdao, seen by Qingdao (not Shandong's own)
    switch(client, "qingdao_secretary")
    owed = client.get("/board").text.split('id="owed"', 1)[1]
    [row] = re.findall(r'<tr class="status-(\w+)[^"]*">(.*?)</tr>', owed, re.S)
    assert row[0] == "overdue" and "山东省妇联" in row[1] and "活动实施方案" in row[1] and "2012-02-29" in row[1] and "人工催办" in row[1]
    assert unread_in_nav(client.get("/messages").text) == 3  # the arrival and the two 催办
    switch(client, "shandong_secretary")
    assert "目前没有上级单位要求本单位报送的事项" in client.get("/board").text
    [qingdao] = [r for r in reporting.board(engine, org="shandong") if r.org == "qingdao"]  # what `gongwen board` shows too
    assert qingdao.reminders == ["escalated", "urged", "urged"]

    # the same service from the command line: refused a third time today, sent with --again
    env = {"GONGWEN_HOME": str(tmp_path / "home"), "GONGWEN_STORAGE": None, "GONGWEN_DATABASE_URL": None, "GONGWEN_CONFIG_DIR": None}
    args = ["deadlines", "urge", str(req.id), "--org", "qingdao", "--user", "shandong_secretary"]
    refused = CliRunner().invoke(cli_app, args, env=env)
    assert refused.exit_code == 2 and "今天已向 青岛市妇联 催办过" in refused.output.replace("\n", "")
    sent = CliRunner().invoke(cli_app, [*args, "--again"], env=env)
    assert sent.exit_code == 0 and "qingdao_secretary" in sent.output
    assert len([m for m in messages_of(engine, "qingdao_secretary") if m.kind == "urged"]) == 3


def test_an_overdue_work_item_reminder_is_a_message_to_its_assignee(client: TestClient) -> None:
    engine = engine_of(client)
    sign_in(client, "shandong_secretary")
    compose(client, flow="outgoing")
    drive(engine)
    with Session(engine.db) as session:
        item = session.exec(select(WorkItem).where(WorkItem.status == "open", WorkItem.kind == "human")).first()
        item.due_at = utcnow() - timedelta(hours=1)
        session.add(item)
        session.commit()
        assignee, role, org, circulation_id = item.assignee, item.role, item.org, item.circulation_id
    assert len(engine.send_reminders()) == 1 and engine.send_reminders() == []
    people = [assignee] if assignee else [u.id for u in engine.config.users_with(org, Role(role))]  # an unassigned item: every holder of its role
    assert people and "shandong_secretary" in people
    for person in people:
        [message] = messages_of(engine, person)
        assert message.kind == "overdue" and message.circulation_id == circulation_id and f"流转 {circulation_id}" in message.text


def test_the_circulation_page_has_a_print_page_and_the_head_is_kept_whole(client: TestClient) -> None:
    circ_id = issue_to_two_cities(client)
    switch(client, "shandong_secretary")
    page = client.get(f"/circulations/{circ_id}").text
    assert f'<a class="button" href="/circulations/{circ_id}/print">打印</a>' in page
    # all but the document is screen only
    assert page.index('<div class="screen-only">') < page.index("<h2>文件</h2>") < page.index('</div>\n<section class="paper-view">')
    printed = client.get(f"/circulations/{circ_id}/print")
    assert printed.status_code == 200 and "<script" not in printed.text and "用浏览器菜单中的“打印”" in printed.text
    head = printed.text.split('<div class="gw-head">', 1)[1].split('<div class="gw-red-line"></div></div>', 1)[0]  # the block, to its red line
    assert "山东省妇女联合会文件" in head and "gw-number" in head and "gw-title" not in head  # 版头 and 文号 in one block printing never splits
    assert ".gw-head { break-inside: avoid;" in printed.text
    css = client.get("/static/style.css").text
    assert ".screen-only, .paper-view > h2 { display: none !important; }" in css
    switch(client, "hunan_secretary")
    assert client.get(f"/circulations/{circ_id}/print").status_code == 403
