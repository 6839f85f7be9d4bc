"""Flow versions: a circulation runs the flow definition it started with until it ends.

A step removed (会签 from outgoing), renamed (sign_off) or added in the flow file changes the
path of new circulations only; those in flight finish on their version, ``gongwen check`` lists
them, and ``gongwen migrate-flow`` moves one explicitly when its current step has a counterpart.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli.main import app
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.circulations import circulation, inbox
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.flow_versions import behind_current, migrate_to_current
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import AuditEvent, FlowVersion, WorkItem

COUNTERSIGN = """  countersign:
    kind: countersign
    title: 会签
    by: department_head
    mode: all                    # every department head in parallel; all must agree
    due_days: 3
    next: {approve: sign_off, return: draft}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    return copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")


@pytest.fixture
def engine_on(make_engine: Callable[..., Engine], database_url: str | None, flows: Path) -> Callable[[], Engine]:
    """A new engine (a process started after the flow files changed) over the same database."""
    return lambda: make_engine(database_url, flows_dir=flows)


def launch(engine: Engine) -> int:
    content = DocumentContent(
        doc_type="通知",
        issuer_mark="中华全国妇女联合会文件",
        title="关于开展2012年“三八”维权周活动的通知",
        main_recipients=["山东省妇联"],  # --to must agree with the print (issue 20)
        body=["为做好维权周活动，现将有关事项通知如下。"],
        signature="全国妇联",
        issued_on=date(2012, 2, 20),
    )
    circ = engine.launch("acwf", "outgoing", content, actor="acwf_secretary", deliver_to=["shandong"])
    drive(engine)
    return circ


def open_items(engine: Engine, circulation_id: int) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == "open").order_by(WorkItem.seq)))


def act(engine: Engine, circulation_id: int, step: str, user: str, outcome: str = "approve") -> str | None:
    """``user`` acts on the open item of ``step``; returns the step the circulation is at afterwards."""
    item = next(i for i in open_items(engine, circulation_id) if i.step == step and i.assignee in (None, user))
    engine.complete(item.id, user, outcome)
    drive(engine)
    return circulation(engine, circulation_id).step


def audited_steps(engine: Engine, circulation_id: int) -> list[str]:
    with Session(engine.db) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.circulation_id == circulation_id).order_by(AuditEvent.id))
        return [e.action.removeprefix("step:") for e in events if e.action.startswith("step:")]


def test_a_removed_step_keeps_its_place_for_circulations_in_flight(engine_on: Callable[[], Engine], flows: Path) -> None:
    before = engine_on()
    old = launch(before)
    assert act(before, old, "draft", "acwf_secretary", "submit") == "review"
    at_countersign = launch(before)
    act(before, at_countersign, "draft", "acwf_secretary", "submit")
    act(before, at_countersign, "review", "acwf_reviewer")

    edit(flows, "outgoing.yaml", COUNTERSIGN, "")  # 会签 is no longer part of 发文
    edit(flows, "outgoing.yaml", "next: {approve: countersign, return: draft}", "next: {approve: sign_off, return: draft}")
    after = engine_on()
    assert "countersign" not in after.flow("outgoing").steps

    assert act(after, old, "review", "acwf_reviewer") == "countersign"  # the version it started with
    assert act(after, old, "countersign", "acwf_org_dept") == "countersign"
    assert act(after, old, "countersign", "acwf_pub_dept") == "sign_off"
    act(after, old, "sign_off", "acwf_leader")
    act(after, old, "recheck", "acwf_secretary")
    assert circulation(after, old).status == "done"
    assert "countersign" in audited_steps(after, old)

    new = launch(after)
    act(after, new, "draft", "acwf_secretary", "submit")
    assert act(after, new, "review", "acwf_reviewer") == "sign_off"  # new launches take the current version
    assert circulation(after, new).flow_version == after.flow("outgoing").version != circulation(after, old).flow_version

    [behind] = behind_current(after)
    assert (behind.circulation_id, behind.step, behind.counterpart) == (at_countersign, "countersign", None)
    assert "会签" in behind.reason
    with pytest.raises(Refusal, match=r"会签.*没有对应环节"):
        migrate_to_current(after, at_countersign, "operator")
    assert act(after, at_countersign, "countersign", "acwf_org_dept") == "countersign"  # still on its version


def test_a_renamed_step_is_found_by_waiting_circulations_and_migrated_by_kind(engine_on: Callable[[], Engine], flows: Path) -> None:
    before = engine_on()
    waiting, moved = launch(before), launch(before)
    for circ in (waiting, moved):
        act(before, circ, "draft", "acwf_secretary", "submit")
        act(before, circ, "review", "acwf_reviewer")
        act(before, circ, "countersign", "acwf_org_dept")
        assert act(before, circ, "countersign", "acwf_pub_dept") == "sign_off"

    edit(flows, "outgoing.yaml", "  sign_off:\n", "  leader_sign_off:\n")
    edit(flows, "outgoing.yaml", "next: {approve: sign_off, return: draft}", "next: {approve: leader_sign_off, return: draft}")
    after = engine_on()

    assert [e.step for e in inbox(after, "acwf_leader")] == ["sign_off", "sign_off"]  # the inbox reads each item's own version
    assert act(after, waiting, "sign_off", "acwf_leader") == "recheck"

    behind = {b.circulation_id: b for b in behind_current(after)}
    assert (behind[moved].step, behind[moved].counterpart, behind[moved].step_title) == ("sign_off", "leader_sign_off", "签发")
    migrated = migrate_to_current(after, moved, "operator")
    assert (migrated.old, migrated.new, migrated.step_title) == (before.flow("outgoing").version, after.flow("outgoing").version, "签发")
    assert circulation(after, moved).step == "leader_sign_off"
    assert act(after, moved, "leader_sign_off", "acwf_leader") == "recheck"
    assert [b.circulation_id for b in behind_current(after)] == [waiting]
    act(after, waiting, "recheck", "acwf_secretary")
    assert circulation(after, waiting).status == "done" and "sign_off" in audited_steps(after, waiting)
    assert behind_current(after) == []
    with pytest.raises(Refusal, match="已在"):
        migrate_to_current(after, moved, "operator")


def test_an_added_step_is_taken_by_new_launches_and_after_a_migration(engine_on: Callable[[], Engine], flows: Path) -> None:
    before = engine_on()
    old, moved = launch(before), launch(before)
    edit(flows, "outgoing.yaml", "next: {submit: review}", "next: {submit: pre_check}")
    pre_check = "  pre_check:\n    kind: screen\n    title: 初核\n    by: secretary\n    next: {approve: review, return: draft}\n"
    edit(flows, "outgoing.yaml", "  review:\n", pre_check + "  review:\n")
    after = engine_on()

    assert act(after, old, "draft", "acwf_secretary", "submit") == "review"  # its version has no 初核
    new = launch(after)
    assert act(after, new, "draft", "acwf_secretary", "submit") == "pre_check"
    migrate_to_current(after, moved, "operator")  # at 拟稿, which the current version has too
    assert act(after, moved, "draft", "acwf_secretary", "submit") == "pre_check"
    with Session(after.db) as session:
        kept = {(v.flow, v.version) for v in session.exec(select(FlowVersion).where(FlowVersion.flow == "outgoing"))}
    assert kept == {("outgoing", circulation(after, old).flow_version), ("outgoing", after.flow("outgoing").version)}


def test_check_lists_and_migrate_flow_moves_from_the_command_line(tmp_path: Path, flows: Path, database_url: str | None) -> None:
    env = {"GONGWEN_HOME": str(tmp_path / ".gongwen"), "GONGWEN_STORAGE": str(tmp_path / "storage"), "GONGWEN_FLOWS_DIR": str(flows), "COLUMNS": "300"}
    if database_url:
        env["GONGWEN_DATABASE_URL"] = database_url
    engine = open_engine(Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", flows_dir=flows, database_url=database_url))
    circ = launch(engine)
    edit(flows, "outgoing.yaml", "    title: 拟稿\n", "    title: 起草\n")
    checked = CliRunner().invoke(app, ["check"], env=env)
    assert checked.exit_code == 0, checked.output
    assert f"流转 {circ}（acwf）：outgoing 版本 {engine.flow('outgoing').version}" in checked.output
    assert "当前环节“拟稿”；新版本中对应“draft”，可迁移" in checked.output
    refused = CliRunner().invoke(app, ["migrate-flow", str(circ), "--to", "previous"], env=env)
    assert refused.exit_code == 2 and "只能迁移到当前版本" in refused.output
    moved = CliRunner().invoke(app, ["migrate-flow", str(circ), "--to", "current"], env=env)
    assert moved.exit_code == 0 and f"已迁移：流转 #{circ}" in moved.output and "当前环节“起草”" in moved.output, moved.output
    assert "仍按旧版本流程办理" not in CliRunner().invoke(app, ["check"], env=env).output


def test_the_web_shows_the_version_a_circulation_runs_on(tmp_path: Path, flows: Path, make_engine: Callable[..., Engine]) -> None:
    before = make_engine(flows_dir=flows)
    circ = launch(before)
    edit(flows, "outgoing.yaml", "    title: 拟稿\n", "    title: 起草\n")
    app = create_app(Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", flows_dir=flows), run_steps=False)
    with TestClient(app) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"csrf": token.group(1), "account": "acwf_secretary", "password": DEMO_PASSWORD, "next": "/"})
        page = client.get(f"/circulations/{circ}").text
    old, new = before.flow("outgoing").version, app.state.web.engine.flow("outgoing").version
    assert f"流程版本 <code>{old}</code>（按发起时的版本办理；当前版本 <code>{new}</code>）" in page
    assert "当前：<strong>拟稿</strong>" in page  # its step as its version names it
