"""Reporting deadlines (issue 10): the working-day calendar, requirements, submissions through the
reporting flow (in Prefect), the board, reminders under a simulated clock, the multi-level
summary and timeliness statistics. Every date is passed explicitly; nothing sleeps."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
from sqlmodel import Session, select
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.flows.actions.reporting import SentReminder, send_report_reminders, totals
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime import runner
from gongwen_engine.flows.runtime.reminders import run_reminders
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.circulations import circulation
from gongwen_engine.flows.services.stats import timeliness
from gongwen_engine.models import audit as audit_trail
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import end_of_day
from gongwen_engine.models.rules.report_deadlines import period_count, period_due
from gongwen_engine.models.rules.workdays import CalendarError, WorkCalendar, load_calendar
from gongwen_engine.models.tables import AuditEvent, Circulation, Delivery, Document, Registration, ReportReminder, ReportSubmission, WorkItem

CHINA = ZoneInfo("Asia/Shanghai")
SPEC = reporting.RequirementSpec


def at(day: date, hour: int = 10) -> datetime:
    """A moment on ``day`` in China (the simulated clock)."""
    return datetime.combine(day, time(hour), CHINA)


# ---- the working-day calendar ---------------------------------------------------------------------


def test_five_working_days_from_the_friday_before_national_day() -> None:
    cal = WorkCalendar()
    # 2012: 国务院办公厅关于2012年部分节假日安排的通知（国办发明电〔2011〕39号）：中秋节、国庆节
    # 9月30日至10月7日放假调休，共8天；9月29日（星期六）上班. Received Friday 28 September:
    # Sat 29 Sep (make-up workday) is day 1, then 8, 9, 10 and 11 October.
    assert cal.add_working_days(date(2012, 9, 28), 5) == date(2012, 10, 11)
    # 2024: 国务院办公厅关于2024年部分节假日安排的通知（国办发明电〔2023〕7号）：国庆节10月1日至7日
    # 放假调休，共7天；9月29日（星期日）、10月12日（星期六）上班. Received Friday 27 September:
    # Sun 29 Sep and Mon 30 Sep, then 8, 9 and 10 October.
    assert cal.add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)
    # a Monday-to-Friday rule would have said 4 October, inside the holiday
    assert not cal.is_workday(date(2024, 10, 4)) and cal.is_workday(date(2024, 10, 12)) and cal.is_workday(date(2012, 9, 29))


def test_a_year_the_calendar_does_not_cover_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarError, match=r"2099.*chinese-calendar"):
        WorkCalendar().add_working_days(date(2099, 3, 2), 1)


def test_local_closures_from_config(tmp_path: Path) -> None:
    config = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    edit(config, "calendar.yaml", "closures: []", "closures:\n  - {date: 2012-10-08, reason: 机关搬迁停止办公, orgs: [jinan]}")
    cal = load_calendar(config)
    assert cal.add_working_days(date(2012, 9, 28), 5, "jinan") == date(2012, 10, 12)
    assert cal.add_working_days(date(2012, 9, 28), 5, "qingdao") == date(2012, 10, 11)
    edit(config, "calendar.yaml", "  - {date: 2012-10-08,", "  - {date: 2012-10-08, reason: twice}\n  - {date: 2012-10-08,")
    load_calendar.cache_clear()
    with pytest.raises(SourceError, match=r"calendar.yaml:10: local closure 2012-10-08 is listed twice"):
        load_calendar(config)


def test_working_time_counts_only_working_days() -> None:
    cal = WorkCalendar()
    # Friday 28 Sep 2012 09:00 → Monday 8 Oct 09:00: 15 h on Friday, 24 h on the make-up Saturday, 9 h on Monday
    assert cal.working_time(at(date(2012, 9, 28), 9), at(date(2012, 10, 8), 9)) == pytest.approx(2.0)


def test_step_time_limits_in_working_days(tmp_path: Path, make_engine) -> None:
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    edit(flows, "issuing.yaml", "    sets_signer: true\n", "    sets_signer: true\n    due_working_days: 3\n")
    engine = make_engine(flows_dir=flows)
    org, content = demo_notice()
    circ = engine.launch(org, "issuing", content, actor="acwf_secretary")
    with Session(engine.db) as session:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ)).one()
    cal = load_calendar(engine.config.directory)
    opened = item.created_at.astimezone(CHINA).date()
    assert item.due_at.astimezone(CHINA) == end_of_day(cal.add_working_days(opened, 3))

    edit(flows, "issuing.yaml", "    due_working_days: 3\n", "    due_working_days: 3\n    due_days: 2\n")
    with pytest.raises(SourceErrors, match=r"issuing.yaml:\d+.*due_days .*due_working_days"):
        make_engine(flows_dir=flows)


# ---- requirements and deadlines -----------------------------------------------------------------


def test_deadlines_are_read_as_offices_write_them() -> None:
    written = date(2012, 1, 6)
    assert reporting.parse_due("2012年2月底前", written) == reporting.Due("month_end", "2012年2月底前", date(2012, 2, 29))
    late_feb = reporting.parse_due("2月下旬", written)
    assert (late_feb.kind, late_feb.window_start, late_feb.due_on) == ("xun", date(2012, 2, 21), date(2012, 2, 29))
    assert reporting.parse_due("5个工作日内", written).working_days == 5
    assert reporting.parse_due("2012-05-19", written).due_on == date(2012, 5, 19)
    with pytest.raises(Refusal, match="无法识别报送时限“尽快”"):
        reporting.parse_due("尽快", written)


def demo_notice() -> tuple[str, DocumentContent]:
    from gongwen_engine.flows.services import demo

    return demo.load_notice()


@pytest.fixture
def world(tmp_path: Path, make_engine) -> Engine:
    """An engine whose policies replay chosen dates: reports signed off automatically on those days."""
    config = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    text = (config / "policies.yaml").read_text(encoding="utf-8")
    for name, day in (("feb20", "2012-02-20"), ("mar05", "2012-03-05"), ("apr10", "2012-04-10"), ("jun01", "2012-06-01")):
        text += (
            f"  {name}:\n    description: 测试：{day} 报送\n    auto_approve: {{sign_off: approve}}\n"
            f"    clock: {{national: {day}, provincial: {day}, prefectural: {day}, county: {day}}}\n"
        )
    (config / "policies.yaml").write_text(text, encoding="utf-8")
    # Reports skip 用印 and end at 报送 here: sealing and filing run LibreOffice (seconds per report);
    # the demo test runs the packaged flow, sealing and filing included.
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    edit(flows, "reporting.yaml", "    next: archive\n  archive:", "    next: end\n  archive:")  # 报送 ends the flow
    edit(flows, "reporting.yaml", "  archive:\n    kind: archive\n    title: 归档\n    do: archive\n    next: end\n", "")
    edit(flows, "reporting.yaml", "    do: render_report\n    next: seal\n", "    do: render_report\n    next: submit\n")
    edit(
        flows,
        "reporting.yaml",
        "  seal:\n    kind: seal\n    title: 用印\n    priority: 1\n"
        "    do: seal                     # reports go up sealed, like every issued document\n    next: submit\n",
        "",
    )
    return make_engine(config_dir=config, flows_dir=flows)


def request(engine: Engine, org: str, *specs: reporting.RequirementSpec, parent: int | None = None) -> list[int]:
    """``org`` issues a notice (waiting for sign-off: no cascade needed) carrying ``specs``."""
    _, content = demo_notice()
    circ = engine.launch(org, "issuing", content.model_copy(update={"issuer_mark": engine.config.org(org).mark}), actor=f"{org}_secretary")
    return [r.id for r in reporting.add_requirements(engine, circ, list(specs), f"{org}_secretary", parent_id=parent)]


def submit(engine: Engine, req: int, org: str, policy: str, rows: list | None = None, **kw) -> int:
    circ = reporting.submit(engine, req, org, f"{org}_secretary", ["报告正文。"], rows, policy, **kw)
    runner.run_until_idle(engine)
    assert circulation(engine, circ).status == "done", circulation(engine, circ).error
    return circ


def statuses(engine: Engine, today: date, req: int) -> dict[tuple[str, int], str]:
    return {(r.org, r.period): r.status for r in reporting.board(engine, today, req)}


@pytest.mark.usefixtures("prefect_harness")
def test_on_time_late_and_missing_submissions(world: Engine) -> None:
    (plan,) = request(world, "acwf", SPEC(what="活动实施方案", due="2012年2月底前", to="全国妇联办公厅"))
    (names,) = request(world, "acwf", SPEC(what="信息员名单", due="2月下旬", **{"from": ["shandong", "hunan"]}))
    assert statuses(world, date(2012, 2, 25), names) == {("shandong", 0): "open", ("hunan", 0): "open"}

    circ = submit(world, plan, "shandong", "feb20")
    submit(world, plan, "hunan", "mar05")
    submit(world, names, "shandong", "feb20")
    with pytest.raises(Refusal, match="已报送"):
        reporting.submit(world, plan, "shandong", "shandong_secretary", policy="feb20")

    rows = {r.org: r for r in reporting.board(world, date(2012, 3, 6), plan)}
    assert rows["shandong"].status == "on_time" and rows["shandong"].submitted_on == date(2012, 2, 20)
    # due Wednesday 29 Feb; sent Monday 5 March: 1, 2 and 5 March are three working days late
    assert rows["hunan"].status == "late" and rows["hunan"].late_working_days == 3
    assert statuses(world, date(2012, 3, 1), names) == {("shandong", 0): "on_time", ("hunan", 0): "overdue"}
    assert reporting.board_counts(reporting.board(world, date(2012, 3, 1), names)) == {
        "expected": 2,
        "submitted": 1,
        "on_time": 1,
        "late": 0,
        "missing": 1,
        "open": 0,
    }

    # the report is an upward document: 报告, signed (签发人 in the header), numbered, filed
    with Session(world.db) as session:
        sub = session.exec(select(ReportSubmission).where(ReportSubmission.circulation_id == circ)).one()
        doc = session.get(Document, sub.document_id)
    assert doc.doc_type == "报告" and doc.content["direction"] == "up" and doc.content["main_recipients"] == ["全国妇联办公厅"]
    head = [p.text for p in docx.Document(str(world.storage / doc.file)).paragraphs if p.text.strip()][:4]
    assert head[1].startswith(doc.doc_number) and "签发人：" + doc.content["signer"] in head[1]
    assert rows["shandong"].document == doc.doc_number


@pytest.mark.usefixtures("prefect_harness")
def test_recurring_requirement(world: Engine) -> None:
    # 活动开展情况每两个月汇总上报一次 (seed 001): the first report by the end of March, then every two months
    (req,) = request(world, "acwf", SPEC(what="活动开展情况", due="2012年3月底前", every_months=2))
    with Session(world.db) as session:
        row = reporting.requirement(session, req)
    assert [period_due(row, k)[1] for k in range(period_count(row))] == [
        date(2012, 3, 31),
        date(2012, 5, 31),
        date(2012, 7, 31),
        date(2012, 9, 30),
        date(2012, 11, 30),
    ]
    submit(world, req, "shandong", "feb20")  # period 0
    submit(world, req, "shandong", "jun01")  # period 1, late: due 31 May
    assert statuses(world, date(2012, 6, 1), req) == {
        ("shandong", 0): "on_time",
        ("hunan", 0): "overdue",
        ("shandong", 1): "late",
        ("hunan", 1): "overdue",
        ("shandong", 2): "open",
        ("hunan", 2): "open",
    }
    with pytest.raises(Refusal, match="不能按月重复"):
        request(world, "acwf", SPEC(what="x", due="5个工作日内", every_months=1))


def test_within_n_working_days_of_receipt(world: Engine) -> None:
    (req,) = request(world, "acwf", SPEC(what="联络员名单", due="5个工作日内"))
    with db_session(world) as session:
        doc_id = session.get(Circulation, 1).document_id
        session.add(Delivery(document_id=doc_id, sender="acwf", recipient="shandong", delivered_at=at(date(2012, 9, 28), 16)))
    rows = {r.org: r for r in reporting.board(world, date(2012, 10, 8), req)}
    assert rows["shandong"].due_on == date(2012, 10, 11) and rows["shandong"].status == "open"
    assert rows["hunan"].due_on is None and rows["hunan"].status == "not_received"


def db_session(engine: Engine):
    from gongwen_engine.models import db

    return db.transaction(engine.db)


# ---- reminders (催办) ---------------------------------------------------------------------------------


def kinds(sent: list[SentReminder]) -> set[tuple[str, str, str]]:
    return {(s.org, s.kind, s.recipient) for s in sent}


@pytest.mark.usefixtures("prefect_harness")
def test_reminders_before_on_and_after_the_due_date(world: Engine) -> None:
    (req,) = request(world, "acwf", SPEC(what="活动实施方案", due="2012-02-29"))
    submit(world, req, "shandong", "feb20")

    def send(day: date) -> list[SentReminder]:
        return send_report_reminders(world, at(day))

    assert send(date(2012, 2, 24)) == []  # Friday: more than two working days ahead
    assert kinds(send(date(2012, 2, 27))) == {("hunan", "before", "hunan_secretary")}
    assert send(date(2012, 2, 28)) == []  # the 'before' reminder is sent once
    assert kinds(send(date(2012, 2, 29))) == {("hunan", "due", "hunan_secretary")}
    leader = sorted(u.id for u in world.config.users.values() if u.org == "hunan" and "leader" in u.roles)[0]
    assert kinds(send(date(2012, 3, 1))) == {("hunan", "escalated", leader)}  # after it: to the unit's leader
    assert send(date(2012, 3, 2)) == []
    with Session(world.db) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "report_reminded")).all().__len__() == 3
    assert [r.reminders for r in reporting.board(world, date(2012, 3, 2), req) if r.org == "hunan"] == [["before", "due", "escalated"]]
    # the Prefect flow the worker runs: nothing left to send for this day
    assert run_reminders(world, at(date(2012, 3, 2))) == {"reports": 0, "work_items": 0}


def concurrent_reminders(engine: Engine) -> None:
    request(engine, "acwf", SPEC(what="活动实施方案", due="2012-02-29"), SPEC(what="信息员名单", due="2012-02-28"))
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(len(send_report_reminders(engine, at(date(2012, 3, 1)))))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine.db) as session:
        rows = session.exec(select(ReportReminder)).all()
    assert len(rows) == 4 and sorted(results) == [0, 4]  # 2 requirements × 2 provinces, escalated once each


def test_reminders_are_not_sent_twice_by_two_concurrent_runs(world: Engine) -> None:
    concurrent_reminders(world)


@pytest.mark.postgres
def test_reminders_are_not_sent_twice_by_two_concurrent_runs_on_postgres(pg_url: str, make_engine) -> None:
    concurrent_reminders(make_engine(database_url=pg_url))


def test_a_run_that_dies_sends_nothing_and_the_next_sends_all(world: Engine, monkeypatch) -> None:
    request(world, "acwf", SPEC(what="活动实施方案", due="2012-02-29"))
    real, calls = audit_trail.record, []

    def dying(session, *args, **kw):
        calls.append(kw)
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return real(session, *args, **kw)

    monkeypatch.setattr(audit_trail, "record", dying)  # the second reminder's audit record fails
    with pytest.raises(RuntimeError):
        send_report_reminders(world, at(date(2012, 3, 1)))
    with Session(world.db) as session:
        assert session.exec(select(ReportReminder)).all() == []
    monkeypatch.setattr(audit_trail, "record", real)
    assert len(send_report_reminders(world, at(date(2012, 3, 1)))) == 2


# ---- the summary (汇总), level by level ------------------------------------------------------------


def write_csv(path: Path, rows: list[tuple[str, int, int]]) -> Path:
    path.write_text("单位,下基层干部人数,办实事件数\n" + "".join(f"{u},{a},{b}\n" for u, a, b in rows), encoding="utf-8")
    return path


@pytest.mark.usefixtures("prefect_harness")
def test_multi_level_summary(world: Engine, tmp_path: Path) -> None:
    columns = ["下基层干部人数", "办实事件数"]
    (national,) = request(world, "acwf", SPEC(what="活动开展情况统计", due="2012-03-31", table=columns))
    (province,) = request(world, "shandong", SPEC(what="活动开展情况统计", due="2012-03-20", table=columns, **{"from": ["jinan", "qingdao"]}), parent=national)
    (city,) = request(
        world,
        "jinan",
        SPEC(what="活动开展情况统计", due="2012-03-10", table=columns, **{"from": ["jinan_lixia", "jinan_shizhong", "jinan_tianqiao"]}),
        parent=province,
    )

    # counties → 济南: two report tables, 天桥区 misses the deadline
    submit(world, city, "jinan_lixia", "feb20", reporting.read_table(write_csv(tmp_path / "lixia.csv", [("历下区妇联", 12, 3)]), columns))
    submit(world, city, "jinan_shizhong", "feb20", reporting.read_table(write_csv(tmp_path / "shizhong.csv", [("市中区妇联", 30, 7)]), columns))
    with pytest.raises(Refusal, match=r"bad.csv:2: “办实事件数”应为数字"):
        reporting.read_table(write_csv(tmp_path / "bad.csv", [("天桥区妇联", 1, "五")]), columns)  # type: ignore[list-item]
    jinan = reporting.summarise(world, city, date(2012, 3, 12))
    assert totals(jinan.payload) == {"下基层干部人数": 42, "办实事件数": 10}
    assert [r.org for r in jinan.units("overdue")] == ["jinan_tianqiao"]
    reporting.submit_summary(world, jinan, "jinan_secretary", "feb20")
    runner.run_until_idle(world)
    # 青岛 reports its own table; 济南's summary arrived as one row (济南市妇联, its totals)
    submit(world, province, "qingdao", "feb20", [{"unit": "青岛市妇联", "values": {"下基层干部人数": 50, "办实事件数": 11}}])
    shandong = reporting.summarise(world, province, date(2012, 3, 21))
    assert [r["unit"] for r in shandong.payload["rows"]] == ["济南市妇联", "青岛市妇联"]
    reporting.submit_summary(world, shandong, "shandong_secretary", "feb20")
    runner.run_until_idle(world)

    top = reporting.summarise(world, national, date(2012, 4, 1))
    assert totals(top.payload) == {"下基层干部人数": 92, "办实事件数": 21}  # = every county and city row below
    assert {r.org: r.status for r in top.rows} == {"shandong": "on_time", "hunan": "overdue"}
    written = reporting.write_summary(world, top, tmp_path / "national.docx")
    document = docx.Document(str(written.path))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "关于活动开展情况统计汇总情况的报告" in text and "未报送：湖南省妇联" in text and "按时报送：山东省妇联" in text
    cells = [[c.text for c in row.cells] for row in document.tables[-1].rows]
    assert cells[0] == ["单位", *columns] and cells[-1] == ["合计", "92", "21"]
    assert reporting.write_summary(world, top, tmp_path / "again.docx").sha256 == written.sha256  # deterministic bytes
    # the province's report, as sent up, prints the cities' rows it combined, with their total
    with Session(world.db) as session:
        sub = session.exec(select(ReportSubmission).where(ReportSubmission.requirement_id == national, ReportSubmission.org == "shandong")).one()
        doc = session.get(Document, sub.document_id)
    sent = docx.Document(str(world.storage / doc.file))
    assert [[c.text for c in row.cells] for row in sent.tables[-1].rows][-1] == ["合计", "92", "21"]
    assert "签发人" in "\n".join(p.text for p in sent.paragraphs[:6])


# ---- proposals from a received document, statistics, the CLI -----------------------------------------


def test_requirements_proposed_from_a_received_document(world: Engine) -> None:
    body = [
        "各省区市妇联要在2012年2月底前将活动实施方案报全国妇联办公厅；活动开展情况每两个月汇总上报一次。",
        "请于收到本通知后5个工作日内将联络员名单报送我会办公厅。",
    ]
    with db_session(world) as session:
        content = DocumentContent(issuer_mark="中华全国妇女联合会文件", title="关于开展活动的通知", body=body, issued_on=date(2012, 9, 20))
        doc = Document(org="acwf", title="关于开展活动的通知", content=content.model_dump(mode="json"))
        session.add(doc)
        session.flush()
        circ = Circulation(org="shandong", flow="forwarding", flow_version="x", received_id=doc.id, status="done")
        session.add(circ)
        session.flush()
        session.add(
            Registration(
                org="shandong", document_id=doc.id, circulation_id=circ.id, year=2012, serial=1, register_number="2012-1", signed_for_at=at(date(2012, 9, 28))
            )
        )
    proposals = reporting.propose(world, circ.id)
    assert [(p.what, p.due, p.to) for p in proposals] == [("活动实施方案", "2012年2月底前", "全国妇联办公厅"), ("联络员名单", "2012-10-11", "我会办公厅")]
    rows = reporting.add_requirements(world, circ.id, [p.as_spec(["shandong"]) for p in proposals], "shandong_secretary", source="proposed")
    assert [(r.due_on, r.recipients) for r in rows] == [(date(2012, 2, 29), ["shandong"]), (date(2012, 10, 11), ["shandong"])]


def test_timeliness_statistics(world: Engine) -> None:
    friday = at(date(2012, 9, 28), 9)
    with db_session(world) as session:
        circ = Circulation(org="shandong", flow="incoming", flow_version="x", status="waiting")
        session.add(circ)
        session.flush()
        for hours, due in ((240, None), (96, timedelta(days=1)), (15, None)):  # finished Mon 8 Oct 09:00, Tue 2 Oct 09:00, Fri 24:00
            session.add(
                WorkItem(
                    circulation_id=circ.id,
                    step="screen",
                    kind="human",
                    slot="role:secretary",
                    org="shandong",
                    status="done",
                    created_at=friday,
                    finished_at=friday + timedelta(hours=hours),
                    due_at=friday + due if due else None,
                )
            )
        session.add(
            WorkItem(
                circulation_id=circ.id, step="instruct", kind="human", slot="role:leader", org="shandong", created_at=friday, due_at=friday + timedelta(days=2)
            )
        )
    figures = timeliness(world, now=at(date(2012, 10, 9)))
    screen = next(t for t in figures["by_step"] if t.key == "incoming.screen")
    # 15 h Friday + 24 h make-up Saturday + 9 h Monday 8 Oct = 2.0; until Tue 2 Oct = 1.625 (holiday days count nothing); 15 h = 0.625
    assert (screen.finished, screen.median, screen.p90, screen.overdue) == (3, 1.625, 2.0, 1)
    shandong = next(t for t in figures["by_org"] if t.key == "shandong")
    assert (shandong.finished, shandong.open, shandong.overdue) == (3, 1, 2)


def gongwen(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GONGWEN_HOME": str(home), "COLUMNS": "200", "PREFECT_HOME": str(home / "prefect")}
    env.pop("GONGWEN_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "gongwen_engine.flows", *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli(tmp_path: Path) -> None:
    import json

    home = tmp_path / "home"
    notice = Path(__file__).parents[1] / "config" / "demo" / "national_notice.yaml"
    gongwen(home, "launch", "issuing", str(notice), "--user", "acwf_secretary", "--no-run")
    # the launch file's requirements: section (seed 001's 2月底前 requirement) is attached at launch
    board = json.loads(gongwen(home, "board", "--json", "--as-of", "2012-03-01").stdout)
    assert [(r["what"], r["unit"], r["due_on"], r["status_word"]) for r in board["rows"]] == [
        ("活动实施方案", "山东省妇联", "2012-02-29", "逾期未报"),
        ("活动实施方案", "湖南省妇联", "2012-02-29", "逾期未报"),
    ]
    assert board["counts"]["missing"] == 2
    refused = gongwen(home, "deadlines", "add", "1", "--what", "名单", "--due", "尽快", "--user", "acwf_secretary", check=False)
    assert refused.returncode == 2 and "无法识别报送时限" in refused.stderr
