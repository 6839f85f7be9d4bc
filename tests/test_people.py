"""People in the loop: the outgoing (发文) and incoming (收文) flows driven through every branch,
with Prefect running the automatic steps and people acting through the engine's service layer."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from docx import Document as Docx
from sqlmodel import Session, select
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime import runner
from gongwen_engine.flows.services.circulations import circulation as circulation_by_id
from gongwen_engine.flows.services.circulations import inbox, timeline, version_diff
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.tables import AuditEvent, Circulation, CirculationFile, Document, Reminder, WorkItem, utcnow

pytestmark = pytest.mark.usefixtures("prefect_harness")


def notice(org: str = "acwf") -> tuple[str, DocumentContent]:
    marks = {"acwf": "中华全国妇女联合会文件", "shandong": "山东省妇女联合会文件"}
    return org, DocumentContent(
        doc_type="通知",
        issuer_mark=marks[org],
        title="关于开展2012年“三八”维权周活动的通知",
        main_recipients=["各省、自治区、直辖市妇联"],
        body=["为做好维权周活动，现将有关事项通知如下。", "一、活动时间", "3月1日至8日。"],
        signature="全国妇联",
        issued_on=date(2012, 2, 20),
    )


def open_items(engine: Engine, circulation_id: int) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == "open").order_by(WorkItem.seq)))


def the_item(engine: Engine, circulation_id: int, step: str) -> WorkItem:
    items = open_items(engine, circulation_id)
    assert [i.step for i in items] == [step] * len(items) and items, f"expected open '{step}', got {[i.step for i in items]}"
    return items[0]


def act(engine: Engine, circulation_id: int, step: str, user: str, outcome: str = "approve", comment: str | None = None, **changes) -> None:
    item = next(i for i in open_items(engine, circulation_id) if i.step == step and (i.assignee in (None, user)))
    engine.complete(item.id, user, outcome, comment, changes=changes or None)
    runner.run_until_idle(engine)


def circulation(engine: Engine, org: str, flow: str | None = None) -> Circulation:
    with Session(engine.db) as session:
        stmt = select(Circulation).where(Circulation.org == org)
        if flow:
            stmt = stmt.where(Circulation.flow == flow)
        return session.exec(stmt).one()


def record_text(engine: Engine, circulation_id: int, role: str) -> str:
    with Session(engine.db) as session:
        row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id, CirculationFile.role == role)).one()
    doc = Docx(str(engine.storage / row.file))
    return "\n".join([p.text for p in doc.paragraphs] + [" | ".join(c.text for c in r.cells) for t in doc.tables for r in t.rows])


def form_cells(engine: Engine, circulation_id: int, role: str) -> dict[str, str]:
    """The printed form's cells: label -> text (two side by side in a row, or one across)."""
    with Session(engine.db) as session:
        row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id, CirculationFile.role == role)).one()
    cells: dict[str, str] = {}
    for r in Docx(str(engine.storage / row.file)).tables[0].rows:
        texts = [c.text for c in r.cells]
        cells[texts[0]] = texts[1]
        if texts[2] != texts[1]:  # two cells side by side (a spanned text repeats over its columns)
            cells[texts[2]] = texts[3]
    return cells


def issue_outgoing(engine: Engine) -> int:
    """全国妇联's outgoing flow through every branch: return and resubmit, a countersign refusal."""
    org, content = notice()
    circ = engine.launch(org, "outgoing", content, actor="acwf_secretary")
    runner.run_until_idle(engine)
    act(engine, circ, "draft", "acwf_secretary", "submit")
    act(engine, circ, "review", "acwf_reviewer", "return", "标题请写明年度")
    assert the_item(engine, circ, "draft").role == "secretary"
    act(engine, circ, "draft", "acwf_secretary", "submit", "已按意见修改", title="关于开展2012年度“三八”维权周活动的通知")
    act(engine, circ, "review", "acwf_reviewer", "approve", "拟同意")
    countersign = open_items(engine, circ)
    assert sorted(i.assignee for i in countersign) == ["acwf_org_dept", "acwf_pub_dept"]  # parallel, one per department
    act(engine, circ, "countersign", "acwf_org_dept", "approve", "同意")
    act(engine, circ, "countersign", "acwf_pub_dept", "return", "请补充宣传要求")
    assert open_items(engine, circ)[0].step == "draft"  # one refusal returns the draft; the other item is closed
    act(
        engine,
        circ,
        "draft",
        "acwf_secretary",
        "submit",
        body=["为做好维权周活动，现将有关事项通知如下。", "一、活动时间", "3月1日至8日。", "二、宣传要求", "集中宣传。"],
    )
    act(engine, circ, "review", "acwf_reviewer", "approve")
    act(engine, circ, "countersign", "acwf_org_dept", "approve", "同意")
    act(engine, circ, "countersign", "acwf_pub_dept", "approve", "同意")
    act(engine, circ, "sign_off", "acwf_leader", "approve", "同意印发")
    act(engine, circ, "recheck", "acwf_secretary", "approve")
    return circ


def test_outgoing_flow_through_return_countersign_and_sign_off(make_engine) -> None:
    engine = make_engine()
    circ = issue_outgoing(engine)
    assert circulation_by_id(engine, circ).status == "done"
    with Session(engine.db) as session:
        docs = list(session.exec(select(Document).where(Document.circulation_id == circ).order_by(Document.version)))
    assert [d.version for d in docs] == [1, 2, 3]  # every version kept
    final = docs[-1]
    # only the signed version is numbered and printed; its 成文日期 is the day the leader signed (manual policy: today)
    assert final.doc_number == f"妇字〔{today().year}〕1号" and final.file and final.content["issued_on"] == today().isoformat()
    assert docs[0].doc_number is None and docs[0].title == "关于开展2012年“三八”维权周活动的通知"
    assert final.content["signer"] == engine.user("acwf_leader").name
    diff = version_diff(engine, circ, 1, 2)
    assert "【标题】" in diff and "-关于开展2012年“三八”维权周活动的通知" in diff and "+关于开展2012年度“三八”维权周活动的通知" in diff
    assert "【正文】" in version_diff(engine, circ, 2, 3)
    assert "全国妇联发文稿纸" in record_text(engine, circ, "draft_sheet")
    sheet = form_cells(engine, circ, "draft_sheet")
    assert sheet["文号"] == final.doc_number and sheet["拟稿单位"] == "全国妇联" and sheet["拟稿人"].startswith(engine.user("acwf_secretary").name)
    assert sheet["核稿"].startswith("退回：标题请写明年度") and "退回：请补充宣传要求" in sheet["会签"]
    assert sheet["签发"].startswith(f"同意：同意印发　{engine.user('acwf_leader').name}")
    assert sheet["会签"].count("同意　") == 3  # the first round's agreement stays on the record
    assert "复核：同意" in sheet["核稿"]
    words = [line["what"] for line in timeline(engine, circ)]
    assert "核稿：退回（标题请写明年度）" in words and any(w.startswith("编号") for w in words)


def test_incoming_flow_instruction_forwarding_and_reading_circulation(make_engine) -> None:
    engine = make_engine()
    issue_outgoing(engine)
    shandong = circulation(engine, "shandong").id
    assert the_item(engine, shandong, "screen").role == "secretary"
    act(engine, shandong, "screen", "shandong_secretary", "approve")
    act(engine, shandong, "propose", "shandong_secretary", "submit", "拟转发各市妇联，请王主席阅示")
    act(engine, shandong, "instruct", "shandong_leader", "forward", "请办公室转发各市，抓好落实。")
    act(engine, shandong, "sign_off", "shandong_leader", "return", "请加上报送时限")
    act(engine, shandong, "revise", "shandong_secretary", "submit", body=["现将全国妇联通知转发给你们，请于3月10日前报送活动情况。"])
    act(engine, shandong, "sign_off", "shandong_leader", "approve")
    readers = open_items(engine, shandong)
    assert {i.step for i in readers} == {"circulate"} and sorted(i.assignee for i in readers) == ["shandong_deputy", "shandong_leader"]
    act(engine, shandong, "circulate", "shandong_deputy", "read", "已阅，同意")
    assert circulation_by_id(engine, shandong).step == "circulate"  # waits for the other reader
    act(engine, shandong, "circulate", "shandong_leader", "read")
    assert circulation_by_id(engine, shandong).status == "done"
    assert "山东省妇联收文处理单" in record_text(engine, shandong, "processing_slip")
    slip = form_cells(engine, shandong, "processing_slip")
    assert slip["来文单位"] == "中华全国妇女联合会" and slip["来文字号"].startswith("妇字〔") and "收〔" in slip["收文编号"]
    assert slip["拟办意见"].startswith("初审：同意") and "提交：拟转发各市妇联，请王主席阅示" in slip["拟办意见"]
    assert slip["领导批示"].startswith("转发：请办公室转发各市，抓好落实。")
    assert "已阅：已阅，同意" in slip["传阅"] and slip["承办结果"].startswith("拟转发：") and "鲁妇发〔" in slip["承办结果"]
    assert slip["办结"].startswith("已办")  # the automatic 办结 is on the form too
    assert circulation(engine, "jinan").step == "screen"  # the chain continues: the city's secretary screens it


def test_a_file_decision_skips_forwarding(make_engine) -> None:
    engine = make_engine()
    issue_outgoing(engine)
    hunan = circulation(engine, "hunan").id
    act(engine, hunan, "screen", "hunan_secretary", "approve")
    act(engine, hunan, "propose", "hunan_secretary", "submit", "拟存档备查")
    act(engine, hunan, "instruct", "hunan_leader", "file", "存档。")
    act(engine, hunan, "circulate", "hunan_leader", "read")
    assert circulation_by_id(engine, hunan).status == "done"
    with Session(engine.db) as session:
        assert session.exec(select(Document).where(Document.org == "hunan")).first() is None


def test_only_the_assignee_or_a_delegate_may_act(make_engine) -> None:
    engine = make_engine()
    org, content = notice()
    circ = engine.launch(org, "outgoing", content, actor="acwf_secretary")
    runner.run_until_idle(engine)
    act(engine, circ, "draft", "acwf_secretary", "submit")
    act(engine, circ, "review", "acwf_reviewer", "approve")
    items = {i.assignee: i for i in open_items(engine, circ)}
    with pytest.raises(Refusal, match="无权"):
        engine.complete(items["acwf_org_dept"].id, "acwf_pub_dept", "approve")  # another department's item
    with pytest.raises(Refusal, match="无权"):
        engine.complete(items["acwf_org_dept"].id, "acwf_secretary", "approve")  # no delegation yet
    engine.delegate("acwf_org_dept", "acwf_secretary", utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=3), "acwf_org_dept", "出差")
    assert items["acwf_org_dept"].id in [e.item for e in inbox(engine, "acwf_secretary")]
    engine.complete(items["acwf_org_dept"].id, "acwf_secretary", "approve", "代为会签")
    with Session(engine.db) as session:
        done = session.get(WorkItem, items["acwf_org_dept"].id)
    assert (done.actor, done.acted_for) == ("acwf_secretary", "acwf_org_dept")
    engine.reassign(items["acwf_pub_dept"].id, "acwf_pub_dept", "acwf_org_dept", "请代为会签")
    engine.complete(items["acwf_pub_dept"].id, "acwf_org_dept", "approve")
    runner.run_until_idle(engine)
    assert circulation_by_id(engine, circ).step == "sign_off"
    with pytest.raises(Refusal, match="退回必须填写意见"):
        engine.complete(the_item(engine, circ, "sign_off").id, "acwf_leader", "return", "")


def _race(engine: Engine, item_id: int, users: list[str]) -> list[str]:
    results: list[str] = []
    barrier = threading.Barrier(len(users))

    def one(user: str) -> None:
        barrier.wait()
        try:
            engine.complete(item_id, user, "approve", f"{user} 同意")
            results.append("ok")
        except Refusal as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_leaders_approving_at_once_have_one_effect(make_engine, request, database) -> None:
    engine = make_engine(database_url=request.getfixturevalue("pg_url") if database == "postgres" else None)
    org, content = notice()
    circ = engine.launch(org, "issuing", content, actor="acwf_secretary")
    runner.run_until_idle(engine)
    item = the_item(engine, circ, "sign_off")
    results = _race(engine, item.id, ["acwf_leader", "acwf_deputy"])
    assert sorted(r == "ok" for r in results) == [False, True]
    assert any("已办理" in r for r in results if r != "ok")
    with Session(engine.db) as session:
        steps = session.exec(select(AuditEvent).where(AuditEvent.circulation_id == circ, AuditEvent.action == "step:sign_off")).all()
        assert len(steps) == 1
        assert len(session.exec(select(WorkItem).where(WorkItem.circulation_id == circ, WorkItem.step == "number")).all()) == 1


def test_waiting_holds_no_process_and_resumes_after_a_restart(make_engine, tmp_path: Path) -> None:
    first = make_engine()
    org, content = notice()
    circ = first.launch(org, "issuing", content, actor="acwf_secretary")
    runner.run_until_idle(first)
    item = the_item(first, circ, "sign_off")
    first.db.dispose()
    del first  # the process that launched it is gone; the item waits in the database only
    second = make_engine()
    assert [e.item for e in inbox(second, "acwf_leader")] == [item.id]
    second.complete(item.id, "acwf_leader", "approve")
    runner.run_until_idle(second)
    assert circulation_by_id(second, circ).status == "done"


def test_overdue_items_are_reminded_once(make_engine) -> None:
    engine = make_engine()
    org, content = notice()
    circ = engine.launch(org, "outgoing", content, actor="acwf_secretary")
    runner.run_until_idle(engine)
    act(engine, circ, "draft", "acwf_secretary", "submit")
    review = the_item(engine, circ, "review")
    assert review.due_at is not None  # due_days: 2 in flows/outgoing.yaml
    assert engine.send_reminders(now=review.due_at - timedelta(hours=1)) == []
    later = review.due_at + timedelta(hours=1)
    sent = engine.send_reminders(now=later)
    assert [r.work_item_id for r in sent] == [review.id]
    assert engine.send_reminders(now=later) == []  # a second run, or a second scheduler, sends nothing
    with Session(engine.db) as session:
        assert len(session.exec(select(Reminder)).all()) == 1


def test_sequential_reading_follows_the_flow_file(make_engine, tmp_path: Path) -> None:
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    edit(flows, "incoming.yaml", "    mode: all                    # parallel; `mode: sequence` circulates in order of user id\n", "    mode: sequence\n")
    engine = make_engine(flows_dir=flows)
    issue_outgoing(engine)
    shandong = circulation(engine, "shandong").id
    act(engine, shandong, "screen", "shandong_secretary", "approve")
    act(engine, shandong, "propose", "shandong_secretary", "submit", "拟存档")
    act(engine, shandong, "instruct", "shandong_leader", "file", "存档。")
    assert [i.assignee for i in open_items(engine, shandong)] == ["shandong_deputy"]  # one reader at a time, in order
    act(engine, shandong, "circulate", "shandong_deputy", "read")
    assert [i.assignee for i in open_items(engine, shandong)] == ["shandong_leader"]
    act(engine, shandong, "circulate", "shandong_leader", "read")
    assert circulation_by_id(engine, shandong).status == "done"
