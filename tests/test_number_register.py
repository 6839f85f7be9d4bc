"""Issue 20: voiding a number (作废) is the issuing organisation's secretary's or leader's, once, with
a reason; an issued document is thereby withdrawn and its recipients told; the 发文登记簿 lists
every number by serial (10号 after 9号). Flows without 用印 (``test_delivery.unsealed_flows``)."""

from __future__ import annotations

import json

import pytest
from test_delivery import notice, rows, run_through, signed_version, unsealed_flows
from typer.testing import CliRunner

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.flows.services.numbering import number_register, void_number
from gongwen_engine.models import db
from gongwen_engine.models.numbering import allocate_doc_number
from gongwen_engine.models.rules.permissions import PermissionDenied
from gongwen_engine.models.tables import AuditEvent, Circulation


def issued(engine) -> tuple[int, str]:
    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"], ["青岛市妇联"]), actor="shandong_secretary")
    run_through(engine, circ)
    return circ, signed_version(engine, circ).doc_number


def test_only_the_issuers_secretary_or_leader_voids_once_and_the_document_is_withdrawn(make_engine, tmp_path):
    engine = make_engine(flows_dir=unsealed_flows(tmp_path / "flows"))
    circ, number = issued(engine)
    for outsider in ("jinan_secretary", "shandong_archivist", "acwf_leader", "shandong_reviewer"):
        with pytest.raises(PermissionDenied, match=f"无权作废文号 {number}"):
            void_number(engine, number, "发文有误", outsider)
    with pytest.raises(Refusal, match="必须说明理由"):
        void_number(engine, number, "  ", "shandong_leader")
    voided = void_number(engine, number, "正文数据有误，另行发文", "shandong_leader")
    assert voided.voided and voided.voided_by == "shandong_leader" and voided.document_id is not None
    with pytest.raises(Refusal, match=f"文号 {number} 已于 .* 作废（理由：正文数据有误，另行发文），不能再次作废"):
        void_number(engine, number, "再作废一次", "shandong_secretary")
    told = rows(engine, AuditEvent, AuditEvent.action == "withdrawal_notice")
    recipients = {c.id: c.org for c in rows(engine, Circulation, Circulation.parent_id == circ)}
    assert sorted(recipients[e.circulation_id] for e in told) == ["jinan", "qingdao"]  # every recipient is told
    report = check_invariants(engine)
    assert [v for v in report.violations if v.rule.startswith(("document_number", "number", "delivery"))] == []
    [line] = number_register(engine, "shandong", 2026, "shandong_secretary")
    assert (line.doc_number, line.state, line.sent_to, line.void_reason) == (number, "已作废", ["济南市妇联", "青岛市妇联（抄送）"], "正文数据有误，另行发文")
    with pytest.raises(PermissionDenied):
        number_register(engine, "shandong", 2026, "jinan_secretary")  # a city does not read its province's register


def test_the_register_sorts_by_serial_numerically(make_engine, tmp_path):
    engine = make_engine(flows_dir=unsealed_flows(tmp_path / "flows"))
    with db.transaction(engine.db) as session:
        for _ in range(11):
            allocate_doc_number(session, "鲁妇发", 2026, None)
    void_number(engine, "鲁妇发〔2026〕3号", "空号", "shandong_secretary")
    lines = number_register(engine, "shandong", 2026)
    assert [line.serial for line in lines] == list(range(1, 12))
    assert [line.doc_number for line in lines][8:10] == ["鲁妇发〔2026〕9号", "鲁妇发〔2026〕10号"]
    assert [line.state for line in lines][:3] == ["已分配", "已分配", "已作废"]


def test_the_cli_register_and_an_unauthorised_void(make_engine, tmp_path, monkeypatch):
    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services.engine import open_engine

    flows = unsealed_flows(tmp_path / "flows")
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GONGWEN_FLOWS_DIR", str(flows))
    engine = open_engine(Settings())
    _, number = issued(engine)
    runner = CliRunner()
    refused = runner.invoke(app, ["number", "void", number, "--reason", "误发", "--user", "jinan_leader"])
    assert refused.exit_code == 2 and "无权作废" in "".join(refused.output.split())
    done = runner.invoke(app, ["number", "void", number, "--reason", "误发", "--user", "shandong_secretary"])
    assert done.exit_code == 0 and "已撤回（作废）" in done.output
    again = runner.invoke(app, ["number", "void", number, "--reason", "误发", "--user", "shandong_secretary"])
    assert again.exit_code == 2 and "不能再次作废" in "".join(again.output.split())
    listed = runner.invoke(app, ["number", "list", "--org", "shandong", "--year", "2026", "--json"])
    assert listed.exit_code == 0
    [line] = json.loads(listed.output)
    assert line["state"] == "已作废" and line["voided_by"] == "shandong_secretary"
    status = runner.invoke(app, ["status", "--json"])
    assert f"{number}（已作废）" in status.output


def test_the_register_page_and_the_void_form(tmp_path):
    from fastapi.testclient import TestClient
    from test_delivery import _as
    from test_web_pages import csrf

    from gongwen_engine.flows.web.app import create_app

    app = create_app(Settings(home=tmp_path / "home", flows_dir=unsealed_flows(tmp_path / "flows")), run_steps=False)
    with TestClient(app) as client:
        engine = client.app.state.web.engine
        _, number = issued(engine)
        _as(client, "jinan_secretary")
        refused = client.post("/numbers/void", data={"csrf": csrf(client, "/inbox"), "doc_number": number, "reason": "误发", "year": "2026"})
        assert refused.status_code == 403 and "无权作废" in refused.text
        _as(client, "shandong_leader")
        page = client.get("/numbers?year=2026")
        assert page.status_code == 200 and number in page.text and "已发出" in page.text and "济南市妇联" in page.text and 'action="/numbers/void"' in page.text
        done = client.post("/numbers/void", data={"csrf": csrf(client, "/numbers?year=2026"), "doc_number": number, "reason": "误发", "year": "2026"})
        assert done.status_code == 200 and "已作废" in done.text  # followed to the register
        again = client.post("/numbers/void", data={"csrf": csrf(client, "/numbers?year=2026"), "doc_number": number, "reason": "误发", "year": "2026"})
        assert again.status_code in (400, 409) and "不能再次作废" in again.text
        [circ] = [c for c in rows(engine, Circulation) if c.org == "shandong"]
        assert f"文号 {number} 已作废" in client.get(f"/circulations/{circ.id}").text
