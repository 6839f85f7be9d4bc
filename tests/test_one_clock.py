"""One clock (issue 21): every time a person reads is Beijing time, and a date a person gives means
that day in Beijing, to its end. Before, the CLI printed an "end of day" due time as 15:59 (UTC) and
`delegate --until 2027-12-31` ended at 08:00 Beijing time."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.flows.cli._common import console
from gongwen_engine.flows.cli.main import app
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.runtime import runner
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import CHINA, aware, given_time
from gongwen_engine.models.tables import Delegation, WorkItem


def gongwen(tmp_path: Path, *args: str, flows: Path | None = None, config: Path | None = None) -> tuple[int, str]:
    env = {"GONGWEN_HOME": str(tmp_path / ".gongwen"), "GONGWEN_STORAGE": str(tmp_path / "storage"), "GONGWEN_DATABASE_URL": None}
    folders = {"GONGWEN_FLOWS_DIR": str(flows) if flows else None, "GONGWEN_CONFIG_DIR": str(config) if config else None}
    result = CliRunner().invoke(app, list(args), env={**env, **folders})
    return result.exit_code, result.output


@pytest.mark.usefixtures("prefect_harness")
def test_a_due_time_at_the_end_of_a_day_prints_in_beijing_time(tmp_path: Path, make_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 200)  # one line per row
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    edit(flows, "issuing.yaml", "    sets_signer: true\n", "    sets_signer: true\n    due_working_days: 3\n")
    config = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")  # an example 2027, so late December can count too
    edit(config, "calendar.yaml", "years: {}", "years:\n  2027:\n    notice: 示例\n    holidays:\n      - {name: 元旦, from: 2027-01-01, to: 2027-01-03}\n")
    engine = make_engine(flows_dir=flows, config_dir=config)
    content = DocumentContent(
        doc_type="通知",
        issuer_mark="中华全国妇女联合会文件",
        title="关于开展调研的通知",
        main_recipients=["各省妇联"],
        body=["现通知如下。"],
        issued_on=date(2012, 2, 20),
    )
    circ = engine.launch("acwf", "issuing", content, actor="acwf_secretary")
    runner.run_until_idle(engine)  # the circulation waits at 签发
    with Session(engine.db) as session:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ)).one()
    due = item.due_at.astimezone(CHINA)
    assert (due.hour, due.minute, due.second) == (23, 59, 59)
    user = item.assignee or "acwf_leader"  # 签发: a leader of 全国妇联

    code, output = gongwen(tmp_path, "inbox", "--user", user, flows=flows, config=config)
    assert code == 0, output
    assert f"{due:%Y-%m-%d} 23:59" in output and "15:59" not in output
    code, output = gongwen(tmp_path, "inbox", "--user", user, "--json", flows=flows, config=config)
    assert [e["due_at"] for e in json.loads(output)] == [due.isoformat()] and due.isoformat().endswith("23:59:59.999999+08:00")


def test_delegate_until_a_date_ends_at_that_days_end_in_beijing(tmp_path: Path, make_engine) -> None:
    engine = make_engine()
    code, output = gongwen(tmp_path, "delegate", "--user", "acwf_org_dept", "--to", "acwf_secretary", "--until", "2027-12-31", "--reason", "出差")
    assert code == 0, output
    assert "至 2027-12-31 23:59:59（北京时间）" in re.sub(r"\s+", " ", output)
    code, output = gongwen(tmp_path, "delegate", "--user", "acwf_org_dept", "--to", "acwf_secretary", "--until", "2027-06-30T18:00")
    assert code == 0 and "至 2027-06-30 18:00:00（北京时间）" in re.sub(r"\s+", " ", output), output
    with Session(engine.db) as session:
        ends = [d.ends_at for d in session.exec(select(Delegation).order_by(Delegation.id))]
    # stored in UTC (SQLite returns it naive): the instants are the ends of those Beijing times
    assert [aware(e) for e in ends] == [datetime(2027, 12, 31, 23, 59, 59, 999999, CHINA), datetime(2027, 6, 30, 18, 0, tzinfo=CHINA)]


@pytest.mark.parametrize(
    ("text", "day_end", "expected"),
    [
        ("2027-12-31", True, datetime(2027, 12, 31, 23, 59, 59, 999999, CHINA)),
        ("2027-12-31", False, datetime(2027, 12, 31, 0, 0, tzinfo=CHINA)),
        ("2027-12-31T18:00", True, datetime(2027, 12, 31, 18, 0, tzinfo=CHINA)),
        ("2027-12-31T10:00+00:00", False, datetime(2027, 12, 31, 18, 0, tzinfo=CHINA)),
    ],
)
def test_times_people_give_are_beijing_time(text: str, day_end: bool, expected: datetime) -> None:
    assert given_time(text, day_end=day_end) == expected


def test_a_wrong_time_is_a_usage_error(tmp_path: Path, make_engine) -> None:
    make_engine()
    code, output = gongwen(tmp_path, "delegate", "--user", "acwf_org_dept", "--to", "acwf_secretary", "--until", "2027-13-01")
    assert code == 2 and "Traceback" not in output, output
