"""Who may do what (``flows/permissions.py``), tested at the service layer and through both doors.

1. The matrix: each role (of 山东省妇联) × each action × a target of its own organisation, its
   parent (全国妇联), a child (济南市妇联) or a peer (湖南省妇联) — or its own or another fonds —
   against an expectation written out here, independently of the module's data.
2. The services themselves (engine, receiving, reporting, archiving) refuse what the matrix
   refuses, over one shared database.
3. The web route and the CLI command for the same action give the same decision.
4. The table in docs/security.md is the one the module generates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from driving import drive
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config, load_config
from gongwen_engine.config.schema import Role
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.actions.archiving import archivist, item_in_fonds
from gongwen_engine.flows.cli.main import app as cli_app
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.circulations import open_items
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.intake import receive_file
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.permissions import (
    Action,
    Fonds,
    Item,
    Org,
    PermissionDenied,
    Person,
    acting_for,
    allowed,
    authorize,
    matrix_markdown,
)
from gongwen_engine.models.tables import ArchiveItem, Document, WorkItem, utcnow

SECURITY_DOC = Path(__file__).parents[1] / "docs" / "security.md"

# 山东省妇联's people, one per role, and the organisations around it.
PEOPLE = {
    Role.secretary: "shandong_secretary",
    Role.reviewer: "shandong_reviewer",
    Role.department_head: "shandong_org_dept",
    Role.leader: "shandong_leader",
    Role.archivist: "shandong_archivist",
    Role.administrator: "shandong_admin",
}
RELATIVES = {"own": "shandong", "parent": "acwf", "child": "jinan", "peer": "hunan"}
ALL_ROLES = set(PEOPLE)
SEEN_FROM_ABOVE = {"own", "child"}  # 本单位及下级单位: what a person's organisation may look into

# The expectation, written out: action -> {(role, relation) allowed}; everything else is refused.
ORG_EXPECTED: dict[Action, set[tuple[Role, str]]] = {
    Action.launch: {(Role.secretary, "own")},
    Action.receive: {(Role.secretary, "own")},
    Action.submit_report: {(Role.secretary, "own")},
    Action.retry: {(Role.secretary, "own"), (Role.administrator, "own")},  # 重试 a failed step: the circulation's secretary or operator (issue 20)
    Action.void_number: {(Role.secretary, "own"), (Role.leader, "own")},  # 作废文号: the issuing organisation's secretary or leader
    Action.view_circulation: {(r, rel) for r in ALL_ROLES for rel in SEEN_FROM_ABOVE},
    Action.download: {(r, rel) for r in ALL_ROLES for rel in SEEN_FROM_ABOVE},
    Action.view_board: {(r, rel) for r in (Role.secretary, Role.leader) for rel in SEEN_FROM_ABOVE},
}
FONDS_EXPECTED: dict[Action, set[tuple[Role, str]]] = {
    action: {(Role.archivist, "own")}
    for action in (Action.archive_search, Action.archive_show, Action.archive_download, Action.archive_export, Action.archive_verify)
}
ITEM_ACTIONS = (Action.act, Action.reassign)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(Settings().config_dir)


def test_every_action_is_in_the_expectation() -> None:
    assert set(ORG_EXPECTED) | set(FONDS_EXPECTED) | set(ITEM_ACTIONS) | {Action.delegate} == set(Action)


def decide(config: Config, user_id: str, action: Action, target: object) -> bool:
    """authorize's decision; a refusal must be a clear Chinese PermissionDenied naming the person."""
    user = config.users[user_id]
    try:
        authorize(config, user, action, target)
    except PermissionDenied as refusal:
        assert f"{user.name}（{user.id}）无权" in str(refusal) and "只有" in str(refusal) and refusal.hint
        assert isinstance(refusal, Refusal) and refusal.action is action
        return False
    return True


# ---- 1. the matrix -------------------------------------------------------------------------------------


@pytest.mark.parametrize("relation", RELATIVES)
@pytest.mark.parametrize("role", list(PEOPLE), ids=str)
@pytest.mark.parametrize("action", list(ORG_EXPECTED), ids=str)
def test_organisation_matrix(config: Config, action: Action, role: Role, relation: str) -> None:
    decision = decide(config, PEOPLE[role], action, Org(RELATIVES[relation]))
    assert decision == ((role, relation) in ORG_EXPECTED[action])
    assert decision == allowed(config, config.users[PEOPLE[role]], action, Org(RELATIVES[relation]))


@pytest.mark.parametrize("relation", RELATIVES)
@pytest.mark.parametrize("role", list(PEOPLE), ids=str)
@pytest.mark.parametrize("action", list(FONDS_EXPECTED), ids=str)
def test_fonds_matrix(config: Config, action: Action, role: Role, relation: str) -> None:
    fonds = config.org(RELATIVES[relation]).fonds
    assert decide(config, PEOPLE[role], action, Fonds(fonds)) == ((role, relation) in FONDS_EXPECTED[action])


@pytest.mark.parametrize("relation", RELATIVES)
@pytest.mark.parametrize("role", list(PEOPLE), ids=str)
@pytest.mark.parametrize("action", ITEM_ACTIONS, ids=str)
def test_work_item_matrix(config: Config, action: Action, role: Role, relation: str) -> None:
    """An item for a role (任一人均可办理) is for that role at that organisation only; an item for a
    person is for that person only — a superior's or subordinate's leader never takes it."""
    user = PEOPLE[role]
    org = RELATIVES[relation]
    other_role = Role.leader if role is not Role.leader else Role.secretary
    assert decide(config, user, action, Item(org, role.value, id=1)) == (relation == "own")
    assert not decide(config, user, action, Item(org, other_role.value, id=2))
    assert decide(config, user, action, Item("shandong", role.value, assignee=user, id=3))
    colleague = next(u.id for u in config.users.values() if u.org == org and u.id != user)
    assert not decide(config, user, action, Item(org, role.value, assignee=colleague, id=4))


@pytest.mark.parametrize("role", list(PEOPLE), ids=str)
def test_delegation_matrix(config: Config, role: Role) -> None:
    """委托: the principal themself, or a secretary of the principal's own organisation."""
    user = PEOPLE[role]
    assert decide(config, user, Action.delegate, Person(user))
    assert decide(config, user, Action.delegate, Person("shandong_deputy")) == (role is Role.secretary)
    for relation in ("parent", "child", "peer"):
        assert not decide(config, user, Action.delegate, Person(f"{RELATIVES[relation]}_leader"))


def test_a_deputy_acts_for_the_principal_only_on_the_principals_items(config: Config) -> None:
    secretary, leader, hunan_leader = (config.users[u] for u in ("shandong_secretary", "shandong_leader", "hunan_leader"))
    signing = Item("shandong", "leader", id=9, step_title="签发")
    assert acting_for(config, secretary, Action.act, signing, [leader]) is leader
    with pytest.raises(PermissionDenied, match="或由其委托的人员代办"):
        acting_for(config, secretary, Action.act, signing, [])
    with pytest.raises(PermissionDenied):  # a principal of another organisation lends nothing here
        acting_for(config, secretary, Action.act, signing, [hunan_leader])


def test_a_refusal_says_what_who_may_and_what_to_do(config: Config) -> None:
    with pytest.raises(PermissionDenied) as refused:
        authorize(config, config.users["hunan_archivist"], Action.archive_show, Fonds("S037", "档案 S037-WS·2012-D30-BGS-0001"))
    text = str(refused.value)
    assert text.startswith("林档案员（hunan_archivist）无权查阅档案 S037-WS·2012-D30-BGS-0001（全宗 S037，山东省妇联）")
    assert "只有山东省妇联的档案员可以查阅" in text and "林档案员是湖南省妇联的档案员" in text
    with pytest.raises(PermissionDenied, match="不是档案员"):
        authorize(config, config.users["hunan_leader"], Action.archive_search, Fonds("S043"))


# ---- 2. the services ---------------------------------------------------------------------------------------


@dataclass
class World:
    engine: Engine
    home: Path
    circulation: int  # 山东省妇联's issuing circulation, waiting for its leader (签发)
    sign_off: int  # that work item
    requirement: int  # a reporting requirement 山东省妇联 made of its cities
    codes: dict[str, str]  # fonds -> an archive code in it


def draft(org: str, title: str) -> DocumentContent:
    return DocumentContent(
        issuer_mark="山东省妇女联合会文件",
        title=title,
        main_recipients=["各市妇联"],
        body=["请认真贯彻落实。"],
        signature="山东省妇女联合会",
        issued_on=date(2012, 2, 20),
    )


def waiting_item(engine: Engine, circulation: int) -> int:
    with Session(engine.db) as session:
        return session.exec(select(WorkItem.id).where(WorkItem.circulation_id == circulation, WorkItem.status == "open")).one()


def file_item(engine: Engine, org: str, n: int) -> str:
    """An archive item of ``org``'s fonds (the row only: access is decided by its fonds)."""
    fonds = engine.config.org(org).fonds
    code = f"{fonds}-WS·2012-D30-BGS-{n:04d}"
    with db.transaction(engine.db) as session:
        session.add(
            ArchiveItem(
                org=org,
                fonds=fonds,
                year=2012,
                retention="D30",
                dept_code="BGS",
                item_no=n,
                archive_code=code,
                title=f"关于测试归档的通知（{org}）",
                responsible=engine.config.org(org).name,
                dated=date(2012, 2, 20),
                files=[],
            )
        )
    return code


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    home = tmp_path_factory.mktemp("authz") / "home"
    engine = open_engine(Settings(home=home))
    circ = engine.launch("shandong", "issuing", draft("shandong", "关于开展宣传活动的通知"), actor="shandong_secretary")
    drive(engine)
    spec = reporting.RequirementSpec(what="活动实施方案", due=date(2012, 2, 29))
    requirement = reporting.add_requirements(engine, circ, [spec], "shandong_secretary")[0].id
    codes = {engine.config.org(org).fonds: file_item(engine, org, 1) for org in ("shandong", "acwf", "jinan")}
    return World(engine, home, circ, waiting_item(engine, circ), requirement, codes)


def test_engine_refuses_acting_launching_reassigning_and_delegating_outside_the_matrix(world: World) -> None:
    engine = world.engine
    for outsider in ("acwf_leader", "jinan_leader", "hunan_leader", "shandong_secretary", "shandong_reviewer"):
        with pytest.raises(PermissionDenied, match="无权办理"):
            engine.complete(world.sign_off, outsider, "approve")
        with pytest.raises(PermissionDenied, match="无权转办"):
            engine.reassign(world.sign_off, outsider, "shandong_deputy")
    for secretary, org in (("hunan_secretary", "shandong"), ("shandong_secretary", "jinan"), ("shandong_secretary", "acwf"), ("shandong_leader", "shandong")):
        with pytest.raises(PermissionDenied, match="无权发起"):
            engine.launch(org, "issuing", draft(org, "关于越权发文的通知"), actor=secretary)
    until = utcnow() + timedelta(days=1)
    with pytest.raises(PermissionDenied, match="无权设置委托"):  # a secretary of another organisation
        engine.delegate("shandong_leader", "shandong_deputy", utcnow(), until, "hunan_secretary")
    with pytest.raises(PermissionDenied, match="无权设置委托"):  # a colleague who is not a secretary
        engine.delegate("shandong_leader", "shandong_deputy", utcnow(), until, "shandong_reviewer")
    with Session(engine.db) as session:
        assert session.get(WorkItem, world.sign_off).status == "open"
        assert session.exec(select(Document).where(Document.title == "关于越权发文的通知")).first() is None


def test_a_secretary_delegates_for_a_colleague_and_the_deputy_then_sees_and_takes_the_item(world: World) -> None:
    engine = world.engine
    circ = engine.launch("shandong", "issuing", draft("shandong", "关于委托签发的通知"), actor="shandong_secretary")
    drive(engine)
    item = waiting_item(engine, circ)
    assert item not in [i.id for i, _, _ in open_items(engine, "shandong_reviewer")]
    engine.delegate("shandong_leader", "shandong_reviewer", utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=1), "shandong_secretary", "出差")
    assert item in [i.id for i, _, _ in open_items(engine, "shandong_reviewer")]
    engine.complete(item, "shandong_reviewer", "approve", "代为签发")
    with Session(engine.db) as session:
        done = session.get(WorkItem, item)
    assert (done.actor, done.acted_for) == ("shandong_reviewer", "shandong_leader")


def test_receiving_reporting_and_the_archive_refuse_outside_the_matrix(world: World, tmp_path: Path) -> None:
    engine = world.engine
    letter = tmp_path / "来文.txt"
    letter.write_text("济南市妇联文件\n济妇发〔2012〕3号\n关于测试的通知\n各区县妇联：\n请落实。\n济南市妇联\n2012年2月6日\n", encoding="utf-8")
    for user, org in (("jinan_secretary", "shandong"), ("shandong_secretary", "jinan"), ("shandong_leader", "shandong")):
        with pytest.raises(PermissionDenied, match="无权登记收文"):
            receive_file(engine, letter, org, user=user, dry_run=True)
    for user, org in (("shandong_secretary", "jinan"), ("jinan_leader", "jinan")):
        with pytest.raises(PermissionDenied, match="无权报送"):
            reporting.submit(engine, world.requirement, org, user)
    assert reporting.submit(engine, world.requirement, "jinan", "jinan_secretary") > 0

    assert {r.requirement for r in reporting.board(engine, viewer="shandong_leader")} == {world.requirement}
    assert {r.requirement for r in reporting.board(engine, viewer="acwf_secretary")} == {world.requirement}  # from above
    assert reporting.board(engine, viewer="jinan_secretary") == []  # a city does not see its province's board
    with pytest.raises(PermissionDenied, match="无权查看"):
        reporting.board(engine, requirement_id=world.requirement, viewer="jinan_secretary")
    with pytest.raises(PermissionDenied, match="不是秘书或领导"):
        reporting.board(engine, viewer="shandong_archivist")

    shandong = archivist(engine.config, "shandong_archivist")
    with db.transaction(engine.db) as session:
        assert item_in_fonds(session, shandong, world.codes["S037"]).fonds == "S037"
        for other in ("Z109", "S03701"):  # the parent's fonds and the child's
            with pytest.raises(PermissionDenied, match="无权查阅"):
                item_in_fonds(session, shandong, world.codes[other])
    for action in FONDS_EXPECTED:
        with pytest.raises(PermissionDenied, match="不是档案员"):
            archivist(engine.config, "shandong_leader", action)


# ---- 3. the web and the CLI agree ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(world: World) -> Iterator[dict[str, TestClient]]:
    """One signed-in browser session per account, over the world's database."""
    app = create_app(Settings(home=world.home), run_steps=False)
    clients: dict[str, TestClient] = {}

    def as_user(account: str) -> TestClient:
        if account not in clients:
            client = TestClient(app)
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            signed = client.post("/login", data={"csrf": token, "account": account, "password": DEMO_PASSWORD, "next": "/"}, follow_redirects=False)
            assert signed.status_code == 303, signed.text
            clients[account] = client
        return clients[account]

    yield as_user  # type: ignore[misc]
    for client in clients.values():
        client.close()


def token(client: TestClient, path: str = "/inbox") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def web_decision(response) -> bool:
    assert response.status_code in (200, 303, 403), response.text[:500]
    if response.status_code == 403:
        assert "无权" in response.text
    return response.status_code != 403


def cli(world: World, *args: str) -> bool:
    result = CliRunner().invoke(
        cli_app, list(args), env={"GONGWEN_HOME": str(world.home), "GONGWEN_STORAGE": None, "GONGWEN_DATABASE_URL": None, "GONGWEN_CONFIG_DIR": None}
    )
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "无权" in result.output, result.output
    return result.exit_code == 0


@pytest.mark.parametrize("account", ["shandong_archivist", "acwf_leader", "jinan_leader", "hunan_secretary"])
def test_viewing_a_circulation(world: World, web, account: str) -> None:
    on_web = web_decision(web(account).get(f"/circulations/{world.circulation}"))
    on_cli = cli(world, "status", str(world.circulation), "--user", account, "--json")
    expected = allowed(world.engine.config, world.engine.config.users[account], Action.view_circulation, Org("shandong"))
    assert on_web == on_cli == expected


@pytest.mark.parametrize("account", ["shandong_archivist", "shandong_leader", "jinan_archivist"])
@pytest.mark.parametrize("fonds", ["S037", "Z109"])
def test_viewing_an_archive_record(world: World, web, account: str, fonds: str) -> None:
    code = world.codes[fonds]
    on_web = web_decision(web(account).get(f"/archive/items/{code}"))
    on_cli = cli(world, "archive", "show", code, "--user", account, "--json")
    assert on_web == on_cli == (account == "shandong_archivist" and fonds == "S037")


@pytest.mark.parametrize("account", ["shandong_archivist", "shandong_secretary"])
def test_searching_the_archive(world: World, web, account: str) -> None:
    on_web = web_decision(web(account).get("/archive", params={"words": "测试"}))
    on_cli = cli(world, "archive", "search", "测试", "--user", account, "--json")
    assert on_web == on_cli == (account == "shandong_archivist")


def test_acting_on_a_work_item(world: World, web) -> None:
    """Refused alike for people outside the item; the leader then signs one item on the web and
    another with the CLI."""
    engine = world.engine
    circs = [engine.launch("shandong", "issuing", draft("shandong", f"关于双通道签发的通知（{n}）"), actor="shandong_secretary") for n in (1, 2)]
    drive(engine)
    on_web_item, on_cli_item = (waiting_item(engine, c) for c in circs)
    for outsider in ("jinan_leader", "acwf_leader", "shandong_secretary"):
        client = web(outsider)
        on_web = web_decision(client.post(f"/items/{on_web_item}/act", data={"csrf": token(client), "outcome": "approve"}))
        on_cli = cli(world, "approve", str(on_cli_item), "--user", outsider, "--no-run")
        assert on_web is on_cli is False
    leader = web("shandong_leader")
    assert web_decision(leader.post(f"/items/{on_web_item}/act", data={"csrf": token(leader), "outcome": "approve", "comment": "同意"}, follow_redirects=False))
    assert cli(world, "approve", str(on_cli_item), "--user", "shandong_leader", "--comment", "同意", "--no-run")
    with Session(engine.db) as session:
        assert [session.get(WorkItem, i).actor for i in (on_web_item, on_cli_item)] == ["shandong_leader", "shandong_leader"]


@pytest.mark.parametrize("account", ["shandong_leader", "shandong_secretary", "shandong_archivist", "shandong_reviewer"])
def test_viewing_the_supervision_board(world: World, web, account: str) -> None:
    """督办台账 of the person's own organisation (the page always shows that one)."""
    on_web = web_decision(web(account).get("/board"))
    on_cli = cli(world, "board", "--user", account, "--org", "shandong", "--json")
    assert on_web == on_cli == (account in ("shandong_leader", "shandong_secretary"))


def test_reassigning_a_work_item(world: World, web) -> None:
    """转办: refused alike for people who may not act on the item; the leader hands it to a
    colleague on the web, and the colleague hands it back with the CLI."""
    engine = world.engine
    circ = engine.launch("shandong", "issuing", draft("shandong", "关于转办的通知"), actor="shandong_secretary")
    drive(engine)
    item = waiting_item(engine, circ)
    for outsider in ("jinan_leader", "shandong_secretary"):
        client = web(outsider)
        on_web = web_decision(client.post(f"/items/{item}/reassign", data={"csrf": token(client), "to": "shandong_deputy"}, follow_redirects=False))
        assert on_web is cli(world, "reassign", str(item), "--user", outsider, "--to", "shandong_deputy") is False
    leader = web("shandong_leader")
    assert web_decision(leader.post(f"/items/{item}/reassign", data={"csrf": token(leader), "to": "shandong_deputy"}, follow_redirects=False))
    assert cli(world, "reassign", str(item), "--user", "shandong_deputy", "--to", "shandong_leader")
    with Session(engine.db) as session:
        assert session.get(WorkItem, item).assignee == "shandong_leader"


@pytest.mark.parametrize("account", ["shandong_leader", "shandong_secretary"])
def test_launching_and_receiving(world: World, web, account: str, tmp_path: Path) -> None:
    notice = tmp_path / "notice.yaml"
    notice.write_text(
        "org: shandong\ncontent:\n  issuer_mark: 山东省妇女联合会文件\n  title: 关于命令行发文的通知\n  main_recipients: [各市妇联]\n"
        "  body: [请落实。]\n  signature: 山东省妇女联合会\n  issued_on: 2012-02-20\n",
        encoding="utf-8",
    )
    client = web(account)
    form = {
        "csrf": token(client),
        "flow": "issuing",
        "doc_type": "通知",
        "title": "关于网页发文的通知",
        "recipients": ["各市妇联"],
        "body": "请落实。",
        "issued_on": "2012-02-20",
    }
    on_web = web_decision(client.post("/launch", data=form, follow_redirects=False))
    on_cli = cli(world, "launch", "issuing", str(notice), "--user", account, "--no-run")
    assert on_web == on_cli == (account == "shandong_secretary")

    letter = tmp_path / "来文.txt"
    letter.write_text("关于测试的通知\n山东省妇联：\n请落实。\n", encoding="utf-8")
    if account == "shandong_leader":  # refused before the file is read: the same on both doors
        on_web = web_decision(client.post("/receive", data={"csrf": token(client), "flow": "forwarding"}, files={"file": ("来文.txt", letter.read_bytes())}))
        assert on_web is cli(world, "receive", str(letter), "--org", "shandong", "--user", account, "--no-run") is False


# ---- 4. the docs -----------------------------------------------------------------------------------------------


def test_the_documented_table_is_the_modules() -> None:
    """docs/security.md § “Who may do what” carries the table ``matrix_markdown()`` generates
    (regenerate: python -c 'from gongwen_engine.models.rules.permissions import matrix_markdown; print(matrix_markdown())')."""
    assert matrix_markdown() in SECURITY_DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("account", ["shandong_leader", "shandong_secretary", "shandong_archivist", "shandong_reviewer", "jinan_secretary"])
def test_urging_a_unit_by_hand(world: World, web, account: str) -> None:
    """催办 by hand on Shandong's requirement: the board's button and `gongwen deadlines urge` refuse alike."""
    [unit, *_] = [r.org for r in reporting.board(world.engine, requirement_id=world.requirement) if r.status not in ("on_time", "late")]
    client = web(account)
    form = {"csrf": token(client), "requirement": world.requirement, "unit": unit, "again": "1"}
    on_web = web_decision(client.post("/board/urge", data=form, follow_redirects=False))
    on_cli = cli(world, "deadlines", "urge", str(world.requirement), "--org", unit, "--user", account, "--again")
    assert on_web == on_cli == (account in ("shandong_leader", "shandong_secretary"))
