"""Issue 20: delivery goes exactly where the document says.

Every path that makes a document's recipients — compose/launch, every revision, 批办 转发, the
automatic forward, ``launch --to`` — is run to 核发 here, on SQLite and on PostgreSQL (the
``engine`` fixture), and the deliveries are compared with the signed version's printed 主送 and
抄送 through the one resolver. The flows are the packaged ones with the 用印 step taken out of the
shared tail (no LibreOffice needed; the 用印 failure test in ``test_failed_step.py`` runs the real
seal).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from driving import drive
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules import recipients
from gongwen_engine.models.tables import AuditEvent, Circulation, Delivery, Document, WorkItem

TAIL = "_shared/issue_tail.yaml"


def unsealed_flows(folder: Path) -> Path:
    """The packaged flows with 用印 taken out of the shared tail (印制 → 核发)."""
    from yaml_edit import copy_yaml_folder

    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, folder)
    text = (flows / TAIL).read_text(encoding="utf-8")
    seal = text[text.index("  seal:\n") : text.index("  distribute:\n")]
    text = text.replace(seal, "").replace("    do: render\n    next: seal\n", "    do: render\n    next: distribute\n")
    (flows / TAIL).write_text(text, encoding="utf-8")
    return flows


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, make_engine, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return make_engine(database_url=url, flows_dir=unsealed_flows(tmp_path / "flows"))


def notice(org: str, main: list[str], cc: list[str] | None = None, title: str = "关于开展妇女儿童工作调研的通知") -> DocumentContent:
    config = load_config()
    o = config.org(org)
    return DocumentContent(
        issuer_mark=o.mark,
        title=title,
        main_recipients=main,
        cc=cc or [],
        body=["为做好有关工作，现就调研事项通知如下。"],
        signature=o.name,
        issued_on=date(2026, 3, 2),
        printed_by=o.printed_by,
        printed_on=date(2026, 3, 2),
    )


def rows(engine, model, *where) -> list:
    with Session(engine.db) as session:
        return list(session.exec(select(model).where(*where)))


def open_items(engine, circulation_id: int) -> list[WorkItem]:
    return rows(engine, WorkItem, WorkItem.circulation_id == circulation_id, WorkItem.status == "open", WorkItem.kind == "human")


def run_through(engine, circulation_id: int, decide=None) -> None:
    """Drive the circulation, taking each person's step with the agreeing outcome (or ``decide``'s)."""
    for _ in range(50):
        drive(engine)
        items = open_items(engine, circulation_id)
        if not items:
            return
        for item in items:
            users = [u for u in engine.config.users.values() if u.org == item.org and item.role in u.roles]
            user = item.assignee or users[0].id
            choice = decide(item) if decide else None
            if choice is None:
                [circ] = rows(engine, Circulation, Circulation.id == item.circulation_id)
                targets = engine.definition_of(circ).step(item.step).targets
                choice = (next(o for o in ("approve", "submit", "read", "file") if o in targets), None, None, None)
            outcome, comment, changes, pick = choice
            engine.complete(item.id, user, outcome, comment, changes=changes, deliver_to=pick)
    raise AssertionError("the circulation never finished")


def signed_version(engine, circulation_id: int) -> Document:
    [circ] = rows(engine, Circulation, Circulation.id == circulation_id)
    [doc] = rows(engine, Document, Document.id == circ.document_id)
    return doc


def delivered(engine, doc: Document) -> dict[str, bool]:
    """recipient -> delivered as a copy (抄送)."""
    return {d.recipient: d.as_copy for d in rows(engine, Delivery, Delivery.document_id == doc.id)}


def assert_print_equals_delivery(engine, doc: Document) -> None:
    """The one promise: the deliveries are exactly the printed 主送 + 抄送, resolved."""
    resolved = recipients.of_content(engine.config, doc.org, doc.content)
    got = delivered(engine, doc)
    assert set(got) == resolved.codes
    assert {code for code, copy in got.items() if copy} == resolved.copy_codes
    assert {c.org for c in rows(engine, Circulation, Circulation.received_id == doc.id)} == resolved.codes


def no_delivery_problems(engine) -> None:
    report = check_invariants(engine)
    assert [v for v in report.violations if v.rule.startswith("delivery")] == []


# ---- the resolver -------------------------------------------------------------------------------------


def test_resolver_names_collectives_and_printed_only():
    config = load_config()
    cities = {o.code for o in config.children("shandong")}
    assert {o.code for o in recipients.resolve(config, "shandong", ["各市妇联"]).main} == cities
    assert {o.code for o in recipients.resolve(config, "shandong", ["各下级组织"]).main} == cities
    full = recipients.resolve(config, "shandong", ["济南市妇女联合会：", " 青岛市妇联 "])
    assert [o.code for o in full.main] == ["jinan", "qingdao"] and full.printed_only == ()
    several = recipients.resolve(config, "shandong", ["济南市妇联，青岛市妇联"], ["全国妇联"])
    assert [o.code for o in several.main] == ["jinan", "qingdao"] and [o.code for o in several.copies] == ["acwf"]
    national = recipients.resolve(config, "acwf", ["各省、自治区、直辖市妇联，新疆生产建设兵团妇联"])
    assert {o.code for o in national.main} == {o.code for o in config.children("acwf")}
    # a city's collective name addresses the city's districts and counties, whichever city wrote it
    assert len(recipients.resolve(config, "jinan", ["各县（市、区）妇联"]).main) == len(config.children("jinan"))
    outside = recipients.resolve(config, "shandong", ["省妇儿工委办公室"])
    assert outside.main == () and outside.printed_only == ("省妇儿工委办公室",)
    assert "省妇儿工委办公室" in (outside.warning() or "") and "不经本平台送达" in (outside.warning() or "")
    # a county has no one below: its 各下级组织 names no one (printed only, with the warning)
    county = recipients.resolve(config, "jinan_lixia", ["各下级组织"])
    assert county.codes == set() and county.warning()


def test_an_organisations_office_is_the_organisation():
    """A report 报全国妇联办公厅 reaches 全国妇联: the office its printed_by names receives for it."""
    config = load_config()
    assert config.org("acwf").printed_by == "全国妇联办公厅"
    upward = recipients.resolve(config, "shandong", ["全国妇联办公厅"])
    assert [o.code for o in upward.main] == ["acwf"] and upward.printed_only == ()
    assert [o.code for o in recipients.resolve(config, "jinan", ["山东省妇联办公室："]).main] == ["shandong"]
    assert recipients.resolve(config, "shandong", ["山东省妇联办公室"]).printed_only == ("山东省妇联办公室",)  # its own office: no one


def test_contradictory_choices_are_refused_in_chinese():
    config = load_config()
    with pytest.raises(Refusal, match="既有“各市妇联”（全部下级单位），又单列了 济南市妇联、青岛市妇联"):
        recipients.check(config, "shandong", ["各市妇联", "济南市妇联", "青岛市妇联"], [])
    with pytest.raises(Refusal, match="济南市妇联 既在主送机关又在抄送机关"):
        recipients.check(config, "shandong", ["济南市妇联"], ["济南市妇联"])
    assert recipients.names_for(config, "shandong", [o.code for o in config.children("shandong")]) == ["各市妇联"]
    assert recipients.names_for(config, "shandong", ["qingdao", "jinan"]) == ["青岛市妇联", "济南市妇联"]


def return_once_to_drop_qingdao():
    """The reviewer returns the draft once (青岛 out of scope); the secretary resubmits it to 济南 alone."""
    returned = []

    def decide(item):
        if item.step == "review" and not returned:
            returned.append(item.id)
            return ("return", "青岛不在本次调研范围，请删去", None, None)
        if item.step == "draft" and returned:
            return ("submit", None, {"main_recipients": ["济南市妇联"]}, None)
        return None

    return decide


# ---- the three traps of the issue, at the engine --------------------------------------------------------


def test_trap_1_a_revision_removing_qingdao_is_what_is_delivered(engine):
    circ = engine.launch("shandong", "outgoing", notice("shandong", ["济南市妇联", "青岛市妇联"]), actor="shandong_secretary")
    run_through(engine, circ, return_once_to_drop_qingdao())
    doc = signed_version(engine, circ)
    assert doc.version == 2 and doc.content["main_recipients"] == ["济南市妇联"] and doc.doc_number
    assert delivered(engine, doc) == {"jinan": False}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


def test_trap_2_only_other_recipients_filled_is_printed_and_delivered_to_no_one(engine):
    content = notice("shandong", ["省妇儿工委办公室"])
    assert recipients.of_content(engine.config, "shandong", content).warning()  # what the form and the CLI show before launch
    circ = engine.launch("shandong", "issuing", content, actor="shandong_secretary")
    run_through(engine, circ)
    doc = signed_version(engine, circ)
    assert doc.doc_number and delivered(engine, doc) == {}  # 淄博 and the others receive nothing
    [printed] = rows(engine, AuditEvent, AuditEvent.action == "printed_only")
    assert printed.detail["names"] == ["省妇儿工委办公室"]
    no_delivery_problems(engine)


def test_trap_3_all_children_plus_two_is_refused_before_launch(engine):
    with pytest.raises(Refusal, match="两者矛盾"):
        engine.launch("shandong", "issuing", notice("shandong", ["各市妇联", "济南市妇联", "青岛市妇联"]), actor="shandong_secretary")
    assert rows(engine, Circulation) == []


def test_a_revision_cannot_introduce_a_contradiction(engine):
    circ = engine.launch("shandong", "outgoing", notice("shandong", ["济南市妇联"]), actor="shandong_secretary")
    drive(engine)
    [draft] = open_items(engine, circ)
    with pytest.raises(Refusal, match="两者矛盾"):
        engine.complete(draft.id, "shandong_secretary", "submit", changes={"main_recipients": ["各市妇联", "济南市妇联"]})


# ---- 抄送 ---------------------------------------------------------------------------------------------


def test_cc_is_delivered_as_a_copy_for_reading(engine):
    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"], ["青岛市妇联", "全国妇联"]), actor="shandong_secretary")
    run_through(engine, circ)
    doc = signed_version(engine, circ)
    assert delivered(engine, doc) == {"jinan": False, "qingdao": True, "acwf": True}
    flows = {c.org: c.flow for c in rows(engine, Circulation, Circulation.received_id == doc.id)}
    assert flows == {"jinan": "forwarding", "qingdao": "reading", "acwf": "reading"}
    [qingdao] = rows(engine, Circulation, Circulation.org == "qingdao")
    [read] = open_items(engine, qingdao.id)  # 阅知 by the leader: reading, no handling
    assert engine.definition_of(qingdao).step(read.step).title == "阅知"
    run_through(engine, qingdao.id)
    assert rows(engine, Circulation, Circulation.id == qingdao.id)[0].status == "done"
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


# ---- 批办 转发, the automatic forward ------------------------------------------------------------------


def _to_shandong_incoming(engine) -> Circulation:
    acwf = engine.launch("acwf", "outgoing", notice("acwf", ["山东省妇联"], title="关于开展基层调研的通知"), actor="acwf_secretary")
    run_through(engine, acwf)
    [shandong] = rows(engine, Circulation, Circulation.org == "shandong")
    assert shandong.flow == "incoming"
    return shandong


def test_instruct_forward_delivers_to_the_picked_cities(engine):
    shandong = _to_shandong_incoming(engine)

    def decide(item):
        step = engine.definition_of(shandong).step(item.step)
        if step.kind == "instruct":
            return ("forward", "请转发济南、淄博", None, ["zibo", "jinan"])
        return None

    run_through(engine, shandong.id, decide)
    doc = signed_version(engine, shandong.id)
    assert doc.content["main_recipients"] == ["济南市妇联", "淄博市妇联"]  # printed in the tree's order
    assert delivered(engine, doc) == {"jinan": False, "zibo": False}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


def test_instruct_forward_defaults_to_the_collective(engine):
    shandong = _to_shandong_incoming(engine)

    def decide(item):
        return ("forward", None, None, None) if engine.definition_of(shandong).step(item.step).kind == "instruct" else None

    run_through(engine, shandong.id, decide)
    doc = signed_version(engine, shandong.id)
    assert doc.content["main_recipients"] == ["各市妇联"]
    assert set(delivered(engine, doc)) == {o.code for o in engine.config.children("shandong")}
    assert_print_equals_delivery(engine, doc)


def test_a_county_cannot_forward(engine):
    from gongwen_engine.models import db

    jinan = engine.launch("jinan", "issuing", notice("jinan", ["历下区妇联"], title="关于开展社区调研的通知"), actor="jinan_secretary")
    run_through(engine, jinan)
    doc = signed_version(engine, jinan)
    assert_print_equals_delivery(engine, doc)
    with db.transaction(engine.db) as session:  # the same document handled by 槐荫区妇联 under 收文办理 (as if received)
        parent = session.get(Circulation, jinan)
        county = engine.start_for_recipient(session, parent, "jinan_huaiyin", doc.id, "incoming").id
    refused = []

    def decide(item):
        [circ] = rows(engine, Circulation, Circulation.id == item.circulation_id)
        if engine.definition_of(circ).step(item.step).kind == "instruct" and not refused:
            with pytest.raises(Refusal, match="槐荫区妇联没有下级单位，不能转发"):
                engine.complete(item.id, "jinan_huaiyin_leader", "forward", "转发")
            refused.append(item.id)
            return ("file", None, None, None)
        return None

    run_through(engine, county, decide)
    assert refused and rows(engine, Circulation, Circulation.id == county)[0].status == "done"


def test_the_automatic_forward_prints_and_delivers_the_collective(engine):
    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"]), actor="shandong_secretary")
    run_through(engine, circ)
    [jinan] = rows(engine, Circulation, Circulation.org == "jinan")
    run_through(engine, jinan.id)  # 济南 forwards automatically; its leader signs
    doc = signed_version(engine, jinan.id)
    assert doc.content["main_recipients"] == ["各区县妇联"]
    assert set(delivered(engine, doc)) == {o.code for o in engine.config.children("jinan")}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


# ---- launch --to ------------------------------------------------------------------------------------


def test_launch_to_sets_or_must_agree_with_the_printed_recipients(engine):
    circ = engine.launch("shandong", "issuing", notice("shandong", []), actor="shandong_secretary", deliver_to=["qingdao", "jinan"])
    [doc] = rows(engine, Document, Document.circulation_id == circ)
    assert doc.content["main_recipients"] == ["济南市妇联", "青岛市妇联"]
    with pytest.raises(Refusal, match="不一致"):
        engine.launch("shandong", "issuing", notice("shandong", ["各市妇联"]), actor="shandong_secretary", deliver_to=["jinan"])
    agreeing = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联"]), actor="shandong_secretary", deliver_to=["jinan"])
    run_through(engine, circ)
    run_through(engine, agreeing)
    for c in (circ, agreeing):
        assert_print_equals_delivery(engine, signed_version(engine, c))


@pytest.mark.postgres
def test_the_main_path_on_postgres(make_engine, tmp_path, pg_url):
    engine = make_engine(database_url=pg_url, flows_dir=unsealed_flows(tmp_path / "flows"))
    circ = engine.launch("shandong", "outgoing", notice("shandong", ["济南市妇联", "青岛市妇联"], ["全国妇联"]), actor="shandong_secretary")
    run_through(engine, circ, return_once_to_drop_qingdao())
    doc = signed_version(engine, circ)
    assert delivered(engine, doc) == {"jinan": False, "acwf": True}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


# ---- the three traps through the web routes and the CLI ---------------------------------------------


@pytest.fixture
def web(tmp_path):
    from fastapi.testclient import TestClient

    from gongwen_engine.flows.web.app import create_app

    app = create_app(Settings(home=tmp_path / "home", flows_dir=unsealed_flows(tmp_path / "flows")), run_steps=False)
    with TestClient(app) as client:
        yield client


def _as(client, account: str) -> None:
    from test_web_pages import csrf, sign_in

    client.post("/logout", data={"csrf": csrf(client, "/")})
    assert sign_in(client, account).status_code == 303


def _compose(client, **fields):
    from test_web_pages import csrf

    form = {
        "csrf": csrf(client, "/launch"),
        "flow": "issuing",
        "doc_type": "通知",
        "title": "关于开展妇女儿童工作调研的通知",
        "body": "现将有关事项通知如下。",
        "issued_on": "2026-03-02",
    }
    return client.post("/launch", data={**form, **fields}, follow_redirects=False)


def people_steps(engine, circulation_id: int):
    """Run the automatic steps, then yield each open item with its step, the account that holds it
    and the plain outcome that moves it on (None where the step needs a decision), until the
    circulation has none left."""
    for _ in range(50):
        drive(engine)
        items = open_items(engine, circulation_id)
        if not items:
            return
        for item in items:
            [circ] = rows(engine, Circulation, Circulation.id == item.circulation_id)
            step = engine.definition_of(circ).step(item.step)
            account = item.assignee or next(u.id for u in engine.config.users.values() if u.org == item.org and item.role in u.roles)
            yield item, step, account, next((o for o in ("approve", "submit", "read") if o in step.targets), None)
    raise AssertionError("the circulation never finished")


def _web_through(client, engine, circulation_id: int, decide=None) -> None:
    """Every person's step through the web form, signed in as that person."""
    from test_web_pages import csrf

    for item, step, account, onward in people_steps(engine, circulation_id):
        _as(client, account)
        fields = (decide(item, step) if decide else None) or {"outcome": onward}
        answer = client.post(f"/items/{item.id}/act", data={"csrf": csrf(client, f"/items/{item.id}"), **fields}, follow_redirects=False)
        assert answer.status_code == 303, answer.text[-800:]


def test_the_three_traps_through_the_web(web):
    engine = web.app.state.web.engine
    _as(web, "shandong_secretary")
    # trap 3: 全部下级 ticked with two cities: refused, nothing launched
    refused = _compose(web, recipients=["各市妇联", "济南市妇联", "青岛市妇联"])
    assert refused.status_code == 400 and "两者矛盾" in refused.text and rows(engine, Circulation) == []
    # trap 2: nothing ticked, 其他主送机关 filled: the secretary is told first, then it launches and reaches no one
    told = _compose(web, other_recipients="省妇儿工委办公室")
    assert told.status_code == 200 and "不经本平台送达" in told.text and 'name="confirm_printed_only"' in told.text
    # the form comes back as it was sent: 全部下级 stays unticked (it came back ticked, and 确认 then sent it to all 16 cities)
    assert re.findall(r'name="recipients" value="[^"]+" checked', told.text) == []
    launched = _compose(web, other_recipients="省妇儿工委办公室", confirm_printed_only="1")
    assert launched.status_code == 303
    circ = int(launched.headers["location"].rsplit("/", 1)[1])
    drive(engine)
    [sign] = open_items(engine, circ)
    _as(web, "shandong_leader")
    assert "省妇儿工委办公室 不是本平台组织机构中的单位" in web.get(f"/items/{sign.id}").text  # told again before 签发
    _web_through(web, engine, circ)
    doc = signed_version(engine, circ)
    assert doc.content["main_recipients"] == ["省妇儿工委办公室"] and doc.doc_number and delivered(engine, doc) == {}
    # trap 1: returned, resubmitted without 青岛市妇联: delivered to 济南 only
    _as(web, "shandong_secretary")
    launched = _compose(web, flow="outgoing", recipients=["济南市妇联", "青岛市妇联"], title="关于开展基层走访的通知")
    circ = int(launched.headers["location"].rsplit("/", 1)[1])
    returned = []

    def decide(item, step):
        if step.kind == "review" and not returned:
            returned.append(item.id)
            return {"outcome": "return", "comment": "青岛不在范围，请删去"}
        if step.kind == "draft" and returned:
            return {"outcome": "submit", "main_recipients": "济南市妇联"}
        return None

    _web_through(web, engine, circ, decide)
    doc = signed_version(engine, circ)
    assert doc.version == 2 and doc.content["main_recipients"] == ["济南市妇联"] and delivered(engine, doc) == {"jinan": False}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


def test_instruct_forward_through_the_web_and_no_forward_without_children(web):
    engine = web.app.state.web.engine
    shandong = _to_shandong_incoming(engine)

    def decide(item, step):
        if step.kind == "instruct":
            page = web.get(f"/items/{item.id}").text
            assert 'name="deliver_to" value="jinan" checked' in page and 'value="forward"' in page
            return {"outcome": "forward", "comment": "转发济南", "deliver_to": ["jinan"]}
        return None

    _web_through(web, engine, shandong.id, decide)
    doc = signed_version(engine, shandong.id)
    assert doc.content["main_recipients"] == ["济南市妇联"] and delivered(engine, doc) == {"jinan": False}
    [jinan] = rows(engine, Circulation, Circulation.org == "jinan", Circulation.received_id == doc.id)
    from gongwen_engine.models import db

    with db.transaction(engine.db) as session:  # the same document at a county under 收文办理
        county = engine.start_for_recipient(session, session.get(Circulation, jinan.id), "jinan_huaiyin", doc.id, "incoming").id
    seen = []

    def county_decides(item, step):
        if step.kind == "instruct":
            page = web.get(f"/items/{item.id}").text
            seen.append('value="forward"' in page or 'name="deliver_to"' in page)
            return {"outcome": "file"}
        return None

    _web_through(web, engine, county, county_decides)
    assert seen == [False]  # 转发 is not offered where there is no one below


def test_the_three_traps_through_the_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services.engine import open_engine

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GONGWEN_FLOWS_DIR", str(unsealed_flows(tmp_path / "flows")))
    monkeypatch.setenv("COLUMNS", "300")
    runner = CliRunner()

    def notice_file(name: str, main: list[str], flow_title: str = "关于开展妇女儿童工作调研的通知") -> Path:
        path = tmp_path / f"{name}.yaml"
        lines = [
            "org: shandong",
            "content:",
            "  issuer_mark: 山东省妇女联合会文件",
            f"  title: {flow_title}",
            f"  main_recipients: [{', '.join(main)}]",
            "  body: [现将有关事项通知如下。]",
            "  signature: 山东省妇女联合会",
            "  issued_on: 2026-03-02",
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def said(result) -> str:  # what the command printed and, after an internal error (exit 3), its logged traceback
        logs = sorted((tmp_path / "home").glob("**/*.log"))
        return result.output + "".join(f"\n--- {log}\n{log.read_text(encoding='utf-8', errors='replace')[-4000:]}" for log in logs)

    trap3 = runner.invoke(app, ["launch", "issuing", str(notice_file("t3", ["各市妇联", "济南市妇联", "青岛市妇联"])), "--user", "shandong_secretary"])
    assert trap3.exit_code == 2 and "两者矛盾" in trap3.output, said(trap3)
    trap2 = runner.invoke(app, ["launch", "issuing", str(notice_file("t2", ["省妇儿工委办公室"])), "--user", "shandong_secretary"])
    assert trap2.exit_code == 0 and "不经本平台送达" in trap2.output, said(trap2)  # told before launch
    trap1 = runner.invoke(
        app, ["launch", "outgoing", str(notice_file("t1", ["济南市妇联", "青岛市妇联"], "关于开展基层走访的通知")), "--user", "shandong_secretary"]
    )
    assert trap1.exit_code == 0, said(trap1)
    engine = open_engine(Settings())
    t2, t1 = (c.id for c in rows(engine, Circulation))
    for circ in (t2, t1):
        returned = []
        for _ in range(30):
            drive(engine)
            items = open_items(engine, circ)
            if not items:
                break
            for item in items:
                [c] = rows(engine, Circulation, Circulation.id == circ)
                step = engine.definition_of(c).step(item.step)
                account = item.assignee or next(u.id for u in engine.config.users.values() if u.org == item.org and item.role in u.roles)
                if step.kind == "review" and not returned:
                    returned.append(item.id)
                    args = ["return", str(item.id), "--user", account, "--comment", "删去青岛"]
                elif step.kind == "draft" and returned:
                    args = ["act", str(item.id), "--user", account, "--outcome", "submit", "--recipients", "济南市妇联"]
                else:
                    args = ["act", str(item.id), "--user", account, "--outcome", next(o for o in ("approve", "submit") if o in step.targets)]
                answer = runner.invoke(app, [*args, "--no-run"])
                assert answer.exit_code == 0, said(answer)
                if step.kind == "sign_off" and circ == t2:
                    assert "不经本平台送达" in answer.output  # told before 签发
    assert delivered(engine, signed_version(engine, t2)) == {}
    doc = signed_version(engine, t1)
    assert doc.content["main_recipients"] == ["济南市妇联"] and delivered(engine, doc) == {"jinan": False}
    no_delivery_problems(engine)


@pytest.fixture
def unsealed_server(tmp_path, monkeypatch):
    """`gongwen serve --no-run` on the flows without 用印 (GONGWEN_FLOWS_DIR); the test runs the automatic steps."""
    from browser import serve

    monkeypatch.setenv("GONGWEN_FLOWS_DIR", str(unsealed_flows(tmp_path / "flows")))
    yield from serve(tmp_path, "--no-run")


@pytest.mark.slow  # a browser and a web process
def test_the_three_traps_in_chromium(unsealed_server, browser):
    """The issue's "Done means": the three traps replayed in Chromium, each person on their own
    page, deliver exactly to the printed recipients (found here: the compose form came back from
    its warning with 全部下级 ticked again, so 确认 sent trap 2 to all 16 cities after all)."""
    from browser import follow, sign_in

    from gongwen_engine.flows.services.engine import open_engine

    base, home = unsealed_server
    engine = open_engine(Settings(home=home))  # the server's database and flows: this test runs the automatic steps
    pages: dict = {}

    def page_of(account: str):
        if account not in pages:
            pages[account] = sign_in(browser, base, account)
        return pages[account]

    def compose(flow: str, title: str, ticked: set[str], other: str = ""):
        page = page_of("shandong_secretary")
        page.goto("/launch")
        page.check(f"input[name=flow][value={flow}]")
        page.fill("input[name=title]", title)
        page.fill("textarea[name=body]", "现将有关事项通知如下。")
        for box in page.locator("input[name=recipients]").all():
            box.set_checked(box.get_attribute("value") in ticked)
        page.fill("textarea[name=other_recipients]", other)
        follow(page, "button.primary")
        return page

    def through(circ: int, decide=None) -> None:
        for item, step, account, onward in people_steps(engine, circ):
            page = page_of(account)
            page.goto(f"/items/{item.id}")
            if not (decide and decide(page, step)):
                follow(page, f"button[name=outcome][value={onward}]")

    # trap 3: 全部下级 left ticked with two cities ticked: refused in Chinese, nothing launched
    page = compose("issuing", "关于开展妇女儿童工作调研的通知", {"各市妇联", "济南市妇联", "青岛市妇联"})
    assert "两者矛盾" in page.content() and rows(engine, Circulation) == []
    # trap 2: nothing ticked, 其他主送机关 filled: told first; the form comes back as it was; 确认 launches it to no one
    page = compose("issuing", "关于开展妇女儿童工作调研的通知", set(), "省妇儿工委办公室")
    assert "不经本平台送达" in page.content()
    assert [box.get_attribute("value") for box in page.locator("input[name=recipients]").all() if box.is_checked()] == []
    page.check("input[name=confirm_printed_only]")
    follow(page, "button.primary")
    trap2 = int(page.url.rsplit("/", 1)[1])
    told = []

    def sign_told(page, step) -> bool:
        if step.kind == "sign_off":
            told.append("省妇儿工委办公室 不是本平台组织机构中的单位" in page.content())
        return False

    through(trap2, sign_told)
    doc = signed_version(engine, trap2)
    assert told == [True] and doc.content["main_recipients"] == ["省妇儿工委办公室"] and doc.doc_number and delivered(engine, doc) == {}
    # trap 1: returned, resubmitted without 青岛市妇联: delivered to 济南 alone
    page = compose("outgoing", "关于开展基层走访的通知", {"济南市妇联", "青岛市妇联"})
    trap1 = int(page.url.rsplit("/", 1)[1])
    returned = []

    def drop_qingdao(page, step) -> bool:
        if step.kind == "review" and not returned:
            returned.append(step.title)
            page.fill("textarea[name=comment]", "青岛不在范围，请删去")
            follow(page, "button[name=outcome][value=return]")
            return True
        if step.kind == "draft" and returned:
            page.fill("textarea[name=main_recipients]", "济南市妇联")
            follow(page, "button[name=outcome][value=submit]")
            return True
        return False

    through(trap1, drop_qingdao)
    doc = signed_version(engine, trap1)
    assert returned and doc.version == 2 and doc.content["main_recipients"] == ["济南市妇联"] and delivered(engine, doc) == {"jinan": False}
    for circ in (trap2, trap1):
        assert_print_equals_delivery(engine, signed_version(engine, circ))
    no_delivery_problems(engine)


# ---- 答复: the reply to the sender ---------------------------------------------------------------------


def test_a_reply_goes_to_the_sender_as_a_report_upward(engine):
    shandong = _to_shandong_incoming(engine)
    [received] = rows(engine, Document, Document.id == shandong.received_id)

    def decide(item):
        [circ] = rows(engine, Circulation, Circulation.id == item.circulation_id)
        return ("reply", "请办公室答复全国妇联", None, None) if engine.definition_of(circ).step(item.step).kind == "instruct" else None

    run_through(engine, shandong.id, decide)
    doc = signed_version(engine, shandong.id)
    assert (doc.doc_type, doc.title, doc.content["main_recipients"]) == ("报告", "关于开展基层调研有关情况的报告", ["全国妇联"])
    assert doc.content["body"][0] == f"根据你会《关于开展基层调研的通知》（{received.doc_number}）要求，现将有关情况报告如下。"
    assert doc.content["signer"] == "周红梅" and doc.doc_number.startswith("鲁妇发")  # upward: 签发人 in the header
    assert delivered(engine, doc) == {"acwf": False}
    assert {c.org: c.flow for c in rows(engine, Circulation, Circulation.received_id == doc.id)} == {"acwf": "incoming"}
    assert_print_equals_delivery(engine, doc)
    no_delivery_problems(engine)


def test_a_reply_to_a_sender_outside_the_tree_is_registered_as_sent_outside(engine):
    from types import SimpleNamespace

    from gongwen_engine.models import db

    with db.transaction(engine.db) as session:  # a letter received from outside (收文), as `gongwen receive` registers it
        letter = Document(
            org="external",
            issuer_name="山东省妇女儿童工作委员会办公室",
            issuer_short_name="省妇儿工委办公室",
            doc_type="函",
            title="关于征求妇女儿童发展规划意见的函",
            doc_number="鲁妇儿工委办函〔2026〕3号",
            content={"title": "关于征求妇女儿童发展规划意见的函"},
        )
        session.add(letter)
        session.flush()
        circ = engine.start_for_recipient(session, SimpleNamespace(id=None, policy="manual"), "shandong", letter.id, "incoming").id

    def decide(item):
        [c] = rows(engine, Circulation, Circulation.id == item.circulation_id)
        return ("reply", "同意，请办公室函复", None, None) if engine.definition_of(c).step(item.step).kind == "instruct" else None

    run_through(engine, circ, decide)
    doc = signed_version(engine, circ)
    assert (doc.doc_type, doc.title, doc.content["main_recipients"]) == ("函", "关于征求妇女儿童发展规划意见的复函", ["省妇儿工委办公室"])
    assert doc.doc_number and delivered(engine, doc) == {}
    [sent] = rows(engine, AuditEvent, AuditEvent.action == "printed_only")
    assert sent.detail == {"names": ["省妇儿工委办公室"], "channel": "平台外，另行寄送"}


def test_part_of_a_collective_name_addresses_the_children_too():
    config = load_config()
    children = {o.code for o in config.children("acwf")}
    assert {o.code for o in recipients.resolve(config, "acwf", ["各省、自治区、直辖市妇联"]).main} == children


def test_delivering_again_reads_what_was_delivered_once_and_repeats_nothing(engine):
    """核发 reads the document's deliveries and started circulations once for all its recipients
    (not two statements per recipient: a province's reaches 16 cities), and run again in a new
    transaction it delivers, starts and tells no one twice."""
    from sqlalchemy import event

    from gongwen_engine.flows.actions.distribution import deliver
    from gongwen_engine.flows.engine.context import StepContext
    from gongwen_engine.models import db
    from gongwen_engine.models.tables import Message

    circ = engine.launch("shandong", "issuing", notice("shandong", ["济南市妇联", "青岛市妇联"], ["全国妇联"]), actor="shandong_secretary")
    run_through(engine, circ)
    doc = signed_version(engine, circ)
    before = (len(rows(engine, Delivery)), len(rows(engine, Circulation)), len(rows(engine, Message)), len(rows(engine, AuditEvent)))
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine.db, "before_cursor_execute", listener)
    try:
        with db.transaction(engine.db) as session:
            locked = db.lock_circulation(session, circ)
            definition = engine.definition_of(locked, session)
            [(name, step)] = [(n, s) for n, s in definition.steps.items() if s.do == "distribute"]
            deliver(StepContext(engine, session, locked, name, step, "system"), step.start_flow or locked.flow)
    finally:
        event.remove(engine.db, "before_cursor_execute", listener)
    assert (len(rows(engine, Delivery)), len(rows(engine, Circulation)), len(rows(engine, Message)), len(rows(engine, AuditEvent))) == before
    assert len([s for s in statements if "FROM delivery" in s]) == 1
    assert len([s for s in statements if "WHERE circulation.received_id" in s]) == 1
    assert delivered(engine, doc) == {"jinan": False, "qingdao": False, "acwf": True}
