"""The engine without Prefect: a tiny dispatcher (claim_ready + run_step) drives the flows."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from driving import drive
from sqlmodel import Session, col, select
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.services.circulations import circulation, inbox, open_items
from gongwen_engine.flows.services.demo import expected_circulations, load_notice
from gongwen_engine.models import db
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.rules.archive import ARCHIVE_CODE_RE
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.rules.doc_numbers import parse_doc_number
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, Delivery, Document, IssuedNumber, Registration, WorkItem

SEED_001_TITLE = "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


# --- helpers ---------------------------------------------------------------------------------------


def launch_national(engine, policy: str) -> int:
    org, content = load_notice()
    assert org == "acwf"
    return engine.launch(org, "issuing", content, policy=policy, actor="acwf_secretary")


def circulation_of(engine, org: str) -> Circulation:
    with Session(engine.db) as session:
        return session.exec(select(Circulation).where(Circulation.org == org)).one()


def open_human_items(engine, circulation_id: int) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == "open", WorkItem.kind == "human")))


def the_open_item(engine, circulation_id: int) -> WorkItem:
    [item] = open_human_items(engine, circulation_id)
    return item


def rows(engine, model, *where) -> list:
    with Session(engine.db) as session:
        return list(session.exec(select(model).where(*where)))


def approve_national(engine) -> int:
    """Launch under `manual`, let 全国妇联's leader sign off, run until idle. Returns the national circulation."""
    national = launch_national(engine, "manual")
    drive(engine)
    engine.complete(the_open_item(engine, national).id, "acwf_leader", "approve")
    drive(engine)
    return national


def copy_flows(tmp_path: Path) -> Path:
    return copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows_copy")


def assert_demo_invariants(engine) -> None:
    """What a finished demo cascade must look like, on any database."""
    orgs = set(engine.config.organisations)
    below_national = orgs - {"acwf"}
    circulations = rows(engine, Circulation)
    assert len(circulations) == expected_circulations(engine, "acwf") == len(orgs)
    assert {c.status for c in circulations} == {"done"}
    assert all(c.step is None for c in circulations)

    rendered = {d.org: d for d in rows(engine, Document, Document.file.is_not(None))}
    assert set(rendered) == {"acwf", "shandong", "jinan"}
    assert rendered["acwf"].doc_number == "妇字〔2012〕2号"
    shandong = rendered["shandong"]
    assert shandong.doc_number == "鲁妇发〔2012〕10号"
    assert shandong.title == SEED_001_TITLE
    assert shandong.content["main_recipients"] == ["各市妇联"]
    assert content_of(shandong).doc_number == "鲁妇发〔2012〕10号" and "doc_number" not in shandong.content  # one home: the column
    assert shandong.forwards_id == rendered["acwf"].id
    assert rendered["jinan"].title == SEED_001_TITLE  # forwarding a forward refers to the original
    assert rendered["jinan"].original_id == rendered["acwf"].id
    for doc in rendered.values():
        data = (engine.storage / doc.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == doc.sha256

    registrations = Counter(r.org for r in rows(engine, Registration))
    assert set(registrations) == below_national
    assert set(registrations.values()) == {1}

    numbers = rows(engine, IssuedNumber)
    assert sorted(n.doc_number for n in numbers) == sorted(d.doc_number for d in rendered.values())

    deliveries = Counter((d.document_id, d.recipient) for d in rows(engine, Delivery))
    assert set(deliveries.values()) == {1}
    assert {r for _, r in deliveries} == below_national

    items = rows(engine, ArchiveItem)
    assert sorted(i.circulation_id for i in items) == sorted(c.id for c in circulations)
    classes: dict[tuple, list[int]] = defaultdict(list)
    for item in items:
        match = ARCHIVE_CODE_RE.match(item.archive_code)
        assert match, item.archive_code
        assert (match["fonds"], int(match["year"]), match["retention"], match["dept"], int(match["item"])) == (
            item.fonds,
            item.year,
            item.retention,
            item.dept_code,
            item.item_no,
        )
        classes[(item.fonds, item.year, item.retention, item.dept_code)].append(item.item_no)
    for key, numbers_in_class in classes.items():
        assert sorted(numbers_in_class) == list(range(1, len(numbers_in_class) + 1)), key
    assert {i.org: i.retention for i in items}["acwf"] == "Y"
    assert {i.org: i.retention for i in items}["shandong"] == "D30"


# --- manual policy: human steps wait in the database ----------------------------------------------


def test_manual_issuing_waits_at_sign_off_for_a_leader(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    circ = circulation(engine, national)
    assert (circ.status, circ.step) == ("waiting", "sign_off")
    [item] = open_human_items(engine, national)
    assert (item.step, item.role, item.org) == ("sign_off", "leader", "acwf")
    assert [i.id for i, _, _ in open_items(engine, "acwf_leader")] == [item.id]
    assert open_items(engine, "shandong_leader") == []
    assert open_items(engine, "acwf_secretary") == []


def test_a_waiting_circulation_is_not_claimed(make_engine):
    engine = make_engine()
    launch_national(engine, "manual")
    drive(engine)
    assert engine.claim_ready() == []


def test_leader_approval_moves_the_circulation_on(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    result = engine.complete(the_open_item(engine, national).id, "acwf_leader", "approve", comment="同意")
    assert (result.step, result.status, result.ran) == ("number", "ready", True)
    drive(engine)
    assert circulation(engine, national).status == "done"
    # signed today by a person (manual policy): the 成文日期, and so the number's year, is today's in Beijing
    [national_doc] = rows(engine, Document, Document.org == "acwf", col(Document.doc_number).is_not(None))
    assert national_doc.doc_number == f"妇字〔{today().year}〕1号" and national_doc.content["issued_on"] == today().isoformat()
    # 山东 now waits for its own leader; 湖南 has no children and files the document.
    shandong = circulation_of(engine, "shandong")
    assert (shandong.status, shandong.step) == ("waiting", "sign_off")
    assert the_open_item(engine, shandong.id).role == "leader"
    assert circulation_of(engine, "hunan").status == "done"


def test_a_leader_of_another_organisation_is_refused(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    item = the_open_item(engine, national)
    with pytest.raises(Refusal) as caught:
        engine.complete(item.id, "shandong_leader", "approve")
    assert CHINESE.search(str(caught.value))
    assert the_open_item(engine, national).id == item.id
    assert circulation(engine, national).step == "sign_off"


def test_a_secretary_cannot_sign_off(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    item = the_open_item(engine, national)
    with pytest.raises(Refusal) as caught:
        engine.complete(item.id, "acwf_secretary", "approve")
    assert CHINESE.search(str(caught.value))
    assert the_open_item(engine, national).status == "open"


def test_an_unknown_user_or_outcome_is_refused(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    item = the_open_item(engine, national)
    with pytest.raises(Refusal, match="未知用户"):
        engine.complete(item.id, "nobody", "approve")
    with pytest.raises(Refusal) as caught:
        engine.complete(item.id, "acwf_leader", "reject")
    assert CHINESE.search(str(caught.value))
    assert circulation(engine, national).step == "sign_off"


def test_completing_the_same_item_twice_is_refused(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    item = the_open_item(engine, national)
    engine.complete(item.id, "acwf_leader", "approve")
    with pytest.raises(Refusal) as caught:
        engine.complete(item.id, "acwf_leader", "approve")
    assert "已办理" in str(caught.value)
    drive(engine)
    assert len(rows(engine, IssuedNumber, IssuedNumber.prefix == "妇字")) == 1


def test_an_automatic_item_cannot_be_completed_by_a_person(make_engine):
    engine = make_engine()
    national = approve_national(engine)
    shandong = circulation_of(engine, "shandong")
    engine.complete(the_open_item(engine, shandong.id).id, "shandong_leader", "approve")
    [auto_item] = rows(engine, WorkItem, WorkItem.circulation_id == shandong.id, WorkItem.status == "open")
    assert auto_item.step == "number"
    with pytest.raises(Refusal):
        engine.complete(auto_item.id, "shandong_leader", "approve")
    assert circulation(engine, national).status == "done"


def test_a_return_at_sign_off_makes_a_new_draft_version_and_keeps_the_first(make_engine):
    engine = make_engine()
    approve_national(engine)
    shandong = circulation_of(engine, "shandong")
    first_draft = shandong.document_id
    engine.complete(the_open_item(engine, shandong.id).id, "shandong_leader", "return", comment="请补充本省要求")
    drive(engine)
    drafts = sorted(rows(engine, Document, Document.circulation_id == shandong.id), key=lambda d: d.version)
    assert [d.version for d in drafts] == [1, 2]
    assert drafts[0].id == first_draft
    assert drafts[0].title == drafts[1].title == SEED_001_TITLE
    again = circulation(engine, shandong.id)
    assert again.document_id == drafts[1].id
    assert (again.status, again.step) == ("waiting", "sign_off")
    engine.complete(the_open_item(engine, shandong.id).id, "shandong_leader", "approve")
    drive(engine)
    [v1, v2] = sorted(rows(engine, Document, Document.circulation_id == shandong.id), key=lambda d: d.version)
    assert v1.doc_number is None
    assert parse_doc_number(v2.doc_number).prefix == "鲁妇发"


# --- one effect per step ------------------------------------------------------------------------------


def test_running_each_step_twice_has_each_effect_once(make_engine):
    engine = make_engine()
    launch_national(engine, "demo")
    drive(engine, twice=True)
    assert_demo_invariants(engine)
    circulations = rows(engine, Circulation)
    assert len(rows(engine, IssuedNumber)) == 3
    assert len(rows(engine, Delivery)) == len(circulations) - 1
    assert len(rows(engine, Registration)) == len(circulations) - 1
    assert len(rows(engine, ArchiveItem)) == len(circulations)
    steps_done = Counter((w.circulation_id, w.step) for w in rows(engine, WorkItem, WorkItem.status == "done"))
    assert set(steps_done.values()) == {1}


def test_a_second_run_of_a_finished_step_is_a_no_op(make_engine):
    engine = make_engine()
    launch_national(engine, "demo")
    drive(engine)
    shandong = circulation_of(engine, "shandong")
    result = engine.run_step(shandong.id, "number")
    assert (result.ran, result.status) == (False, "done")


@pytest.mark.parametrize("step", ["register", "number", "render", "distribute", "archive"])
def test_rerunning_an_action_after_it_took_effect_does_not_repeat_the_effect(make_engine, step):
    engine = make_engine()
    launch_national(engine, "demo")
    drive(engine)
    shandong = circulation_of(engine, "shandong")
    before = {m.__name__: len(rows(engine, m)) for m in (IssuedNumber, Delivery, Registration, ArchiveItem, Circulation)}
    [rendered] = rows(engine, Document, Document.id == shandong.document_id)
    with db.transaction(engine.db) as session:  # as if a worker re-ran the step after it committed
        circ = db.lock_circulation(session, shandong.id)
        circ.step, circ.status = step, "ready"
        session.add(circ)
    assert engine.run_step(shandong.id, step).ran
    after = {m.__name__: len(rows(engine, m)) for m in (IssuedNumber, Delivery, Registration, ArchiveItem, Circulation)}
    assert after == before
    [doc] = rows(engine, Document, Document.id == shandong.document_id)
    assert doc.doc_number == "鲁妇发〔2012〕10号"
    assert (doc.file, doc.sha256) == (rendered.file, rendered.sha256)  # a re-render writes identical bytes


# --- demo policy: the whole tree --------------------------------------------------------------------


def test_demo_policy_finishes_the_whole_tree(make_engine):
    engine = make_engine()
    launch_national(engine, "demo")
    drive(engine)
    assert_demo_invariants(engine)
    assert rows(engine, WorkItem, WorkItem.status == "open") == []


@pytest.mark.postgres
def test_demo_policy_finishes_the_whole_tree_on_postgres(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    assert db.is_postgres(engine.db)
    launch_national(engine, "demo")
    drive(engine)
    assert_demo_invariants(engine)


# --- audit -----------------------------------------------------------------------------------------


def assert_every_finished_step_is_audited(engine) -> None:
    circ_org = {c.id: c.org for c in rows(engine, Circulation)}
    events = Counter((e.circulation_id, e.step, e.action, e.actor, e.org) for e in rows(engine, AuditEvent))
    finished = rows(engine, WorkItem, WorkItem.status == "done")
    assert finished
    for item in finished:
        assert item.actor
        assert events[(item.circulation_id, item.step, f"step:{item.step}", item.actor, circ_org[item.circulation_id])] == 1, item


def test_every_finished_step_has_an_audit_event(make_engine):
    engine = make_engine()
    launch_national(engine, "demo")
    drive(engine)
    assert_every_finished_step_is_audited(engine)
    [sign_off] = rows(engine, AuditEvent, AuditEvent.action == "step:sign_off", AuditEvent.org == "shandong")
    assert sign_off.actor == "policy:demo"
    assert sign_off.detail["outcome"] == "approve"


def test_a_person_s_decision_is_audited_under_their_name(make_engine):
    engine = make_engine()
    national = launch_national(engine, "manual")
    drive(engine)
    engine.complete(the_open_item(engine, national).id, "acwf_leader", "approve", comment="同意印发")
    drive(engine)
    assert_every_finished_step_is_audited(engine)
    [event] = rows(engine, AuditEvent, AuditEvent.action == "step:sign_off", AuditEvent.circulation_id == national)
    assert (event.actor, event.org, event.detail["outcome"], event.detail["comment"]) == ("acwf_leader", "acwf", "approve", "同意印发")
    [launch] = rows(engine, AuditEvent, AuditEvent.action == "launch")
    assert (launch.actor, launch.org) == ("acwf_secretary", "acwf")


# --- the YAML is what runs -------------------------------------------------------------------------

REVIEW_STEP = "    next: review\n  review:\n    kind: review\n    title: 核稿\n    by: reviewer\n    next: {approve: sign_off, return: draft}\n"


def test_a_review_step_added_to_the_yaml_is_run(make_engine, tmp_path):
    flows = copy_flows(tmp_path)
    edit(flows, "forwarding.yaml", "    template: forwarding_notice.j2\n    next: sign_off\n", "    template: forwarding_notice.j2\n" + REVIEW_STEP)
    engine = make_engine(flows_dir=flows)
    approve_national(engine)
    shandong = circulation_of(engine, "shandong")
    assert (shandong.status, shandong.step) == ("waiting", "review")
    item = the_open_item(engine, shandong.id)
    assert (item.role, item.org) == ("reviewer", "shandong")
    with pytest.raises(Refusal):
        engine.complete(item.id, "shandong_leader", "approve")
    engine.complete(item.id, "shandong_reviewer", "approve")
    drive(engine)
    shandong = circulation(engine, shandong.id)
    assert (shandong.status, shandong.step) == ("waiting", "sign_off")
    assert the_open_item(engine, shandong.id).role == "leader"


def test_removing_sign_off_from_the_yaml_forwards_without_a_person(make_engine, tmp_path):
    flows = copy_flows(tmp_path)
    edit(
        flows,
        "forwarding.yaml",
        "    next: sign_off\n  sign_off:\n    kind: sign_off\n    title: 签发\n    by: leader\n"
        "    sets_signer: true            # the leader who signs is named on the 发文稿纸; the day they sign is the 成文日期\n"
        "    next: {approve: number, return: draft}\n",
        "    next: number\n",
    )
    engine = make_engine(flows_dir=flows)
    approve_national(engine)
    assert {c.status for c in rows(engine, Circulation)} == {"done"}
    humans = rows(engine, WorkItem, WorkItem.kind == "human")
    assert [(w.org, w.step) for w in humans] == [("acwf", "sign_off")]
    [forward] = rows(engine, Document, Document.org == "shandong")
    assert forward.title == SEED_001_TITLE
    assert parse_doc_number(forward.doc_number).prefix == "鲁妇发"
    assert forward.file is not None


# --- delivery to the recipients chosen at launch (发送范围) ---------------------------------------------


def test_a_launch_to_two_of_the_children_delivers_to_exactly_those_two(make_engine):
    from gongwen_engine.flows.services import reporting

    engine = make_engine()
    _, content = load_notice()
    content = content.model_copy(update={"main_recipients": []})  # --to fills the printed 主送 (issue 20: print = delivery)
    shandong = engine.launch("shandong", "issuing", content, policy="manual", actor="shandong_secretary", deliver_to=["qingdao", "jinan"])
    [req] = reporting.add_requirements(engine, shandong, [reporting.RequirementSpec(what="活动实施方案", due="2012-02-29")], "shandong_secretary")
    assert req.recipients == ["jinan", "qingdao"]  # "all recipients" are the chosen ones, in the tree's order
    drive(engine)
    engine.complete(the_open_item(engine, shandong).id, "shandong_leader", "approve")
    drive(engine)
    [doc] = rows(engine, Document, Document.circulation_id == shandong)
    assert doc.content["main_recipients"] == ["济南市妇联", "青岛市妇联"]
    assert sorted(d.recipient for d in rows(engine, Delivery, Delivery.document_id == doc.id)) == ["jinan", "qingdao"]
    assert sorted(c.org for c in rows(engine, Circulation, Circulation.received_id == doc.id)) == ["jinan", "qingdao"]
    assert rows(engine, Circulation, Circulation.id == shandong)[0].deliver_to == ["jinan", "qingdao"]
    [launched] = rows(engine, AuditEvent, AuditEvent.action == "launch", AuditEvent.circulation_id == shandong)
    assert launched.detail["deliver_to"] == ["jinan", "qingdao"]


def test_chosen_recipients_must_be_direct_children_and_none_chosen_means_all(make_engine):
    engine = make_engine()
    _, content = load_notice()
    for wrong in (["hunan"], ["jinan", "jinan_lixia"], ["nowhere"]):  # a peer, a grandchild (no skipping levels), unknown
        with pytest.raises(Refusal, match="不是山东省妇联的直接下级单位"):
            engine.launch("shandong", "issuing", content, policy="manual", actor="shandong_secretary", deliver_to=wrong)
    assert rows(engine, Circulation) == []
    everyone = engine.launch("shandong", "issuing", content, policy="manual", actor="shandong_secretary", deliver_to=[])
    assert rows(engine, Circulation, Circulation.id == everyone)[0].deliver_to is None


def test_cli_launch_to_chosen_children(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services.demo import NATIONAL_NOTICE
    from gongwen_engine.flows.services.engine import open_engine

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    differs = runner.invoke(app, ["launch", "issuing", str(NATIONAL_NOTICE), "--user", "acwf_secretary", "--to", "hunan", "--no-run"])
    assert differs.exit_code == 2 and "与文件所印主送机关" in "".join(differs.output.split())  # it prints every province: --to may not differ
    unaddressed = tmp_path / "notice.yaml"
    printed = "  main_recipients: [各省、自治区、直辖市妇联，新疆生产建设兵团妇联]\n"
    unaddressed.write_text(NATIONAL_NOTICE.read_text(encoding="utf-8").replace(printed, ""), encoding="utf-8")
    launched = runner.invoke(app, ["launch", "issuing", str(unaddressed), "--user", "acwf_secretary", "--to", "hunan", "--no-run"])
    assert launched.exit_code == 0, launched.output
    wrong = runner.invoke(app, ["launch", "issuing", str(NATIONAL_NOTICE), "--user", "acwf_secretary", "--to", "jinan", "--no-run"])
    assert wrong.exit_code == 2 and "济南市妇联不是全国妇联的直接下级单位" in "".join(wrong.output.split())  # rich wraps the message
    assert [c.deliver_to for c in rows(open_engine(Settings()), Circulation)] == [["hunan"]]
    assert [d.content["main_recipients"] for d in rows(open_engine(Settings()), Document)] == [["湖南省妇联"]]


def test_a_circulation_past_the_step_limit_fails_its_step_through_the_failure_path(make_engine):
    """The run-time guard (issue 26): GONGWEN_MAX_STEPS steps run, the next one is failed, not run."""
    engine = make_engine()
    engine.settings.max_steps = 3
    cid = launch_national(engine, "national")
    drive(engine)
    with Session(engine.db) as s:
        circ = s.get(Circulation, cid)
        done = s.exec(select(WorkItem).where(WorkItem.circulation_id == cid, WorkItem.status == "done")).all()
        failed = s.exec(select(AuditEvent).where(AuditEvent.circulation_id == cid, AuditEvent.action == "step_failed")).all()
    assert circ.status == "failed" and len(done) == 3
    assert "GONGWEN_MAX_STEPS=3" in circ.error and "gongwen retry" in circ.error and circ.step in circ.error
    assert len(failed) == 1 and failed[0].step == circ.step
    # issue 20's work item: 全国妇联's secretary has a 待办 naming the limit and 重试
    [entry] = inbox(engine, "acwf_secretary")
    with Session(engine.db) as s:
        item = s.get(WorkItem, entry.item)
    assert entry.circulation == cid and entry.step_title.endswith("出错·待重试") and "GONGWEN_MAX_STEPS=3" in (item.comment if item else "")
    engine.settings.max_steps = 500  # raised: 重试 goes on from the step it stopped at
    engine.retry(cid, "acwf_secretary")
    drive(engine)
    with Session(engine.db) as s:
        assert s.get(Circulation, cid).status != "failed"
