"""The YAML is what runs: code asks a step's ``kind:``, never its name. Renaming steps in a copy
of the flows (their kinds kept) leaves the engine, the policies, the cascade picture, the
invariant checker and the CLI working."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import Result
from driving import drive
from sqlmodel import Session, select
from typer.testing import CliRunner
from yaml_edit import copy_yaml_folder

from gongwen_engine.config.schema import Role
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli.main import app
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR, StepKind
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.cascade import subtree_config
from gongwen_engine.flows.services.circulations import circulation
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.flows.web.cascade import cascade, count_states
from gongwen_engine.models.tables import Circulation, Registration, WorkItem

RENAMED = {"sign_off": "leader_sign_off", "distribute": "send_out", "sign_for": "receive", "register": "log_in", "archive": "file_away"}


def rename_steps(folder: Path, renamed: dict[str, str]) -> None:
    """Rename steps in every flow file of ``folder`` (their keys, ``start:`` and every ``next:``);
    actions (``do:``) and kinds stay as they are."""

    def rename(match: re.Match[str]) -> str:
        return re.sub(r"[\w-]+", lambda word: renamed.get(word.group(0), word.group(0)), match.group(0))

    for path in folder.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^(?:  [\w-]+:|start: .*|    next: .*)", rename, text)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def renamed(tmp_path: Path) -> tuple[Engine, Settings]:
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    rename_steps(flows, RENAMED)
    config = subtree_config(tmp_path / "config", ["p31"], max_children=2)  # 全国妇联 → 上海市妇联 → two districts
    with (config / "users.yaml").open("a", encoding="utf-8") as users:
        users.write("- id: p31_leader\n  name: 上海主席\n  org: p31\n  roles: [leader]\n")
    settings = Settings(home=tmp_path / "home", storage=tmp_path / "storage", flows_dir=flows, config_dir=config)
    return open_engine(settings), settings


def run_until(engine: Engine, circulation_id: int, step: str) -> None:
    """Run ``circulation_id``'s automatic steps one by one until its current step is ``step``."""
    while circulation(engine, circulation_id).step != step:
        assert engine.run_step(circulation_id).ran


def the_item(engine: Engine, circulation_id: int) -> WorkItem:
    with Session(engine.db) as session:
        return session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == "open", WorkItem.kind == "human")).one()


def leader(engine: Engine, org: str) -> str:
    return min(engine.config.users_with(org, Role.leader), key=lambda u: u.id).id


def states(engine: Engine, root: int) -> dict[str, int]:
    return count_states(cascade(engine, root))


def cli(settings: Settings, *args: str) -> Result:
    env = {
        "GONGWEN_HOME": str(settings.home),
        "GONGWEN_STORAGE": str(settings.storage),
        "GONGWEN_FLOWS_DIR": str(settings.flows_dir),
        "GONGWEN_CONFIG_DIR": str(settings.config_dir),
        "COLUMNS": "300",
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_renamed_steps_keep_their_meaning(renamed) -> None:
    engine, settings = renamed
    issuing = engine.flow("issuing")
    assert (issuing.start, issuing.name_of(StepKind.distribute)) == ("leader_sign_off", "send_out")
    assert engine.flow("forwarding").receives  # the web's 收文 flows: those that start by signing for

    org, content = load_notice()
    national = engine.launch(org, "issuing", content, policy="manual", actor=f"{org}_secretary")
    drive(engine)
    assert states(engine, national) == {"waiting": 1, "pending": 1}
    engine.complete(the_item(engine, national).id, leader(engine, "acwf"), "approve")
    run_until(engine, national, "file_away")
    assert states(engine, national) == {"distributed": 1, "delivered": 1, "pending": 2}
    [shanghai] = [c.id for c in engine_rows(engine) if c.org == "p31"]
    engine.run_step(shanghai)
    assert states(engine, national) == {"distributed": 1, "received": 1, "pending": 2}

    drive(engine)
    assert circulation(engine, shanghai).step == "leader_sign_off"
    inbox = cli(settings, "inbox", "--user", leader(engine, "p31"), "--json")
    assert inbox.exit_code == 0, inbox.output
    assert [(e["step"], e["step_title"]) for e in json.loads(inbox.output)] == [("leader_sign_off", "签发")]
    engine.complete(the_item(engine, shanghai).id, leader(engine, "p31"), "approve")
    engine.run_step(shanghai)  # 编号
    assert count_states(cascade(engine, national).children[0]) == {"signed": 1, "pending": 2}

    drive(engine)
    assert states(engine, national) == {"archived": 4}
    report = check_invariants(engine, root="acwf", expect_finished=True)
    assert report.violations == []
    assert (report.checked["deliveries"], report.checked["registrations"], report.checked["archive_items"]) == (3, 3, 4)
    check = cli(settings, "check")
    assert check.exit_code == 0, check.output
    assert "签发 → 编号 → 印制 → 用印 → 核发 → 归档" in check.output

    # the checker still knows what the renamed steps mean: a lost registration is found
    with Session(engine.db) as session:
        session.delete(session.exec(select(Registration).where(Registration.org == "p31")).one())
        session.commit()
    assert "registration_missing" in {v.rule for v in check_invariants(engine).violations}


def engine_rows(engine: Engine) -> list[Circulation]:
    with Session(engine.db) as session:
        return list(session.exec(select(Circulation)))


def test_a_policy_approves_by_kind_whatever_the_step_is_called(renamed) -> None:
    engine, _ = renamed
    org, content = load_notice()
    engine.launch(org, "issuing", content, policy="national", actor=f"{org}_secretary")  # auto_approve: {sign_off: approve}
    drive(engine)
    assert {c.status for c in engine_rows(engine)} == {"done"}
    assert check_invariants(engine, root="acwf", expect_finished=True).violations == []
