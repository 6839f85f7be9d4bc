"""Issue 20: a failed automatic step is a work item (待办), never a dead end.

The real 用印 fails on a broken seal configuration: 山东省妇联's secretary gets a 待办 with the
error in Chinese and what to do; after the fix she retries and the document goes out with the
number it had (LibreOffice seals it: run through /work/tools/heavy). The web and CLI paths inject
the failure the way the runner records it (``Engine.fail``), with 用印 taken out of the flows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_delivery import notice, open_items, rows, unsealed_flows
from typer.testing import CliRunner

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.runtime.retries import failure_text
from gongwen_engine.flows.services.circulations import inbox
from gongwen_engine.models.rules.permissions import PermissionDenied
from gongwen_engine.models.tables import Circulation, Delivery, Document, IssuedNumber, WorkItem

BROKEN_SEALS = """demo_certificates: true
diameter_mm: 42
trust: []
organisations:
  shandong:
    pkcs12: keys/shandong.p12
"""


def drive_with_retries(engine, retries: int = 2) -> None:
    """What the runner does (flows/runtime/retries.py): a step that keeps failing is recorded failed."""
    for _ in range(200):
        claimed = engine.claim_ready()
        if not claimed:
            return
        for circ in claimed:
            for attempt in range(retries + 1):
                try:
                    engine.run_step(circ.id, circ.step)
                    break
                except Exception as exc:  # the runner's task retries, then engine.fail
                    if attempt == retries:
                        engine.fail(circ.id, failure_text(circ.step, exc))


def test_a_seal_failure_is_a_work_item_and_the_retry_keeps_the_number(make_engine, tmp_path):
    config = Path(shutil.copytree(PACKAGED_CONFIG_DIR, tmp_path / "config", ignore=shutil.ignore_patterns("national", "*.py", "__pycache__")))
    (config / "seals.yaml").write_text(BROKEN_SEALS, encoding="utf-8")
    engine = make_engine(config_dir=config)
    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"]), actor="shandong_secretary")
    drive_with_retries(engine)
    [sign] = open_items(engine, circ)
    engine.complete(sign.id, "shandong_leader", "approve")
    drive_with_retries(engine)

    [failed] = rows(engine, Circulation, Circulation.id == circ)
    [doc] = rows(engine, Document, Document.id == failed.document_id)
    assert failed.status == "failed" and engine.definition_of(failed).step(failed.step).kind == "seal"
    number = doc.doc_number
    assert number and rows(engine, Delivery) == []
    [entry] = inbox(engine, "shandong_secretary")  # the 待办 of 山东省妇联's secretary
    assert entry.circulation == circ and entry.step_title == "用印出错·待重试"
    [item] = rows(engine, WorkItem, WorkItem.id == entry.item)
    assert "系统自动办理“用印”失败" in item.comment and "config/seals.yaml" in item.comment and f"文号 {number} 已分配给本文件" in item.comment
    assert inbox(engine, "jinan_secretary") == [] and inbox(engine, "shandong_leader") == []
    [told] = inbox(engine, "shandong_admin")  # the operator (管理员) is told too, and may retry
    assert told.circulation == circ and told.item != entry.item and told.step_title == "用印出错·待重试"
    with pytest.raises(PermissionDenied):
        engine.retry(circ, "jinan_secretary")  # another organisation's secretary
    with pytest.raises(PermissionDenied):
        engine.complete(item.id, "shandong_leader", "retry")  # the item is the secretary's

    (config / "seals.yaml").write_text(
        BROKEN_SEALS.replace("organisations:\n  shandong:\n    pkcs12: keys/shandong.p12\n", "organisations: {}\n"), encoding="utf-8"
    )
    engine.complete(item.id, "shandong_secretary", "retry")
    drive_with_retries(engine)
    [after] = rows(engine, Circulation, Circulation.id == circ)
    [doc] = rows(engine, Document, Document.id == after.document_id)
    assert after.status == "done" and doc.doc_number == number  # the number it had, never a second one
    assert [n.doc_number for n in rows(engine, IssuedNumber)] == [number]
    assert [d.recipient for d in rows(engine, Delivery)] == ["jinan"]
    assert inbox(engine, "shandong_secretary") == [] and inbox(engine, "shandong_admin") == []  # one retry closes both


# ---- the web's 重试 and the CLI's, on an injected failure -------------------------------------------------


def _failed_circulation(engine) -> tuple[int, str]:
    """山东省妇联's document, signed and numbered, whose 印制 then failed for good."""
    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"]), actor="shandong_secretary")
    drive(engine)
    [sign] = open_items(engine, circ)
    engine.complete(sign.id, "shandong_leader", "approve")
    [c] = rows(engine, Circulation, Circulation.id == circ)
    engine.run_step(circ, c.step)  # 编号
    [c] = rows(engine, Circulation, Circulation.id == circ)
    engine.fail(circ, f"{c.step}: OSError: 存储目录不可写")
    [doc] = rows(engine, Document, Document.id == c.document_id)
    return circ, doc.doc_number


def test_the_web_shows_the_failure_and_retries_it(tmp_path):
    from test_web_pages import csrf, sign_in

    from gongwen_engine.flows.web.app import create_app

    app = create_app(Settings(home=tmp_path / "home", flows_dir=unsealed_flows(tmp_path / "flows")), run_steps=False)
    with TestClient(app) as client:
        engine = client.app.state.web.engine
        circ, number = _failed_circulation(engine)
        sign_in(client, "shandong_secretary")
        assert "印制出错·待重试" in client.get("/inbox").text
        [entry] = inbox(engine, "shandong_secretary")
        page = client.get(f"/items/{entry.item}")
        assert "系统自动办理“印制”失败" in page.text and "存储目录不可写" in page.text and 'value="retry"' in page.text and "重试" in page.text
        assert "出错" in client.get(f"/circulations/{circ}").text  # the cascade picture marks the node
        done = client.post(f"/items/{entry.item}/act", data={"csrf": csrf(client, f"/items/{entry.item}"), "outcome": "retry"}, follow_redirects=False)
        assert done.status_code == 303
        drive(engine)
        [c] = rows(engine, Circulation, Circulation.id == circ)
        [doc] = rows(engine, Document, Document.id == c.document_id)
        assert c.status == "done" and doc.doc_number == number
        assert [d.recipient for d in rows(engine, Delivery)] == ["jinan"]


def test_the_cli_retry_is_the_secretarys(tmp_path, monkeypatch):
    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services.engine import open_engine

    flows = unsealed_flows(tmp_path / "flows")
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GONGWEN_FLOWS_DIR", str(flows))
    engine = open_engine(Settings())
    circ, number = _failed_circulation(engine)
    runner = CliRunner()
    refused = runner.invoke(app, ["retry", str(circ), "--user", "qingdao_secretary"])
    assert refused.exit_code == 2 and "无权重试" in "".join(refused.output.split())
    listed = runner.invoke(app, ["inbox", "--user", "shandong_secretary", "--json"])
    assert "出错·待重试" in listed.output
    retried = runner.invoke(app, ["retry", str(circ), "--user", "shandong_secretary"])
    assert retried.exit_code == 0, retried.output
    with Session(engine.db) as session:
        c = session.get(Circulation, circ)
        doc = session.exec(select(Document).where(Document.id == c.document_id)).one()
    assert c.status == "done" and doc.doc_number == number
    again = runner.invoke(app, ["retry", str(circ), "--user", "shandong_secretary"])
    assert again.exit_code == 2 and "不是出错状态" in again.output


def test_an_organisation_without_an_administrator_tells_its_secretary_only(make_engine):
    engine = make_engine()
    circ = engine.launch("jinan", "issuing", notice("jinan", ["历下区妇联"]), actor="jinan_secretary")
    drive(engine)
    [sign] = open_items(engine, circ)
    engine.complete(sign.id, "jinan_leader", "approve")
    [c] = rows(engine, Circulation, Circulation.id == circ)
    engine.fail(circ, f"{c.step}: OSError: 存储目录不可写")
    [item] = open_items(engine, circ)
    assert item.role == "secretary" and item.org == "jinan"  # 济南市妇联 has no 管理员 in config/users.yaml
