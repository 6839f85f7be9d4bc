"""Flow files (flows/*.yaml) are validated on load; every error names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.context import action_kinds
from gongwen_engine.flows.engine.definition import END, PACKAGED_FLOWS_DIR, StepKind, load_flow, load_flows

KNOWN = action_kinds(ACTIONS)
FLOW_NAMES = {path.stem for path in PACKAGED_FLOWS_DIR.glob("*.yaml")}


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    return copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")


def line_of(text: str, needle: str, after: str | None = None) -> int:
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= begin and needle in line) + 1


def errors_loading(path: Path) -> list[SourceError]:
    with pytest.raises(SourceErrors) as caught:
        load_flow(path, KNOWN, FLOW_NAMES)
    return caught.value.errors


# --- the shipped flows ---------------------------------------------------------------------------

TAIL = "_shared/issue_tail.yaml"


def test_every_shipped_flow_files_its_circulations():
    for flow in load_flows(PACKAGED_FLOWS_DIR, KNOWN).values():
        assert flow.steps_of(StepKind.archive), flow.flow  # 归档: every circulation ends filed (or decided 不归档)


def test_forwarding_flow_shape():
    forwarding = load_flows(PACKAGED_FLOWS_DIR, KNOWN)["forwarding"]
    assert forwarding.start == "sign_for"
    assert forwarding.receives
    assert forwarding.step("sign_off").by == "leader"
    assert forwarding.step("sign_off").targets == {"approve": "number", "return": "draft"}
    assert forwarding.step("decide").next_after("file") == "archive"
    assert forwarding.step("archive").next_after(None) == END
    assert forwarding.step("distribute").start_flow == "forwarding"
    assert [s.title for s in forwarding.steps_of(StepKind.distribute).values()] == ["核发"]
    assert forwarding.name_of(StepKind.sign_off) == "sign_off"
    assert forwarding.outcome_label("approve") == "同意"


def test_the_shared_tail_is_completed_by_each_flow():
    flows = load_flows(PACKAGED_FLOWS_DIR, KNOWN)
    assert {name: f.step(f.name_of(StepKind.distribute)).start_flow for name, f in flows.items() if f.steps_of(StepKind.distribute)} == {
        "forwarding": "forwarding",
        "issuing": "forwarding",
        "outgoing": "incoming",
        "incoming": "incoming",
    }
    incoming = flows["incoming"].step("distribute")
    assert (incoming.title, incoming.next, incoming.record) == ("核发", "circulate", False)  # the tail's step, completed by incoming.yaml
    assert flows["issuing"].step("distribute").record


def test_an_outcome_the_step_does_not_have_is_refused():
    forwarding = load_flows(PACKAGED_FLOWS_DIR, KNOWN)["forwarding"]
    with pytest.raises(ValueError, match="reject"):
        forwarding.step("sign_off").next_after("reject")


def test_a_flow_has_no_single_step_of_a_kind_it_has_twice_or_not_at_all():
    flows = load_flows(PACKAGED_FLOWS_DIR, KNOWN)
    with pytest.raises(KeyError, match="draft"):
        flows["incoming"].name_of(StepKind.draft)  # 承办 and 修改转发通知
    with pytest.raises(KeyError, match="sign_for"):
        flows["issuing"].name_of(StepKind.sign_for)


def test_flow_version_follows_the_file_text(flows_copy):
    before = load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES).version
    edit(flows_copy, "issuing.yaml", "title: 签发", "title: 领导签发")
    assert load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES).version != before


def test_flow_version_follows_the_included_text(flows_copy):
    before = load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES).version
    edit(flows_copy, TAIL, "title: 归档", "title: 立卷归档")
    issuing = load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES)
    assert issuing.version != before
    assert issuing.step("archive").title == "立卷归档"


def test_included_files_are_not_flows(flows_copy):
    assert set(load_flows(flows_copy, KNOWN)) == {"forwarding", "incoming", "issuing", "outgoing", "reading", "reporting"}


# --- errors ----------------------------------------------------------------------------------------


def test_next_to_an_unknown_step(flows_copy):
    text = edit(
        flows_copy,
        "forwarding.yaml",
        "    do: draft_forwarding\n    template: forwarding_notice.j2\n    next: sign_off",
        "    do: draft_forwarding\n    template: forwarding_notice.j2\n    next: sign_of",
    )
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert Path(error.path).name == "forwarding.yaml"
    assert error.line == line_of(text, "next: sign_of")
    assert "sign_of" in error.message
    assert f"forwarding.yaml:{error.line}" in str(error)


def test_an_error_in_an_included_file_names_that_file_and_line(flows_copy):
    text = edit(flows_copy, TAIL, "    do: seal\n    next: distribute", "    do: seal\n    next: distribut")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert Path(error.path) == flows_copy / TAIL
    assert error.line == line_of(text, "next: distribut")
    assert "distribut" in error.message
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    assert {(Path(e.path), e.line) for e in caught.value.errors} == {(flows_copy / TAIL, error.line)}  # once per including flow, same place


def test_a_flow_completes_an_included_step_and_its_own_keys_are_its_lines(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "    start_flow: forwarding ", "    start_flow: forwardng ")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    [error] = caught.value.errors
    assert (Path(error.path).name, error.line) == ("issuing.yaml", line_of(text, "start_flow: forwardng"))


def test_an_included_file_that_is_missing(flows_copy):
    (flows_copy / TAIL).unlink()
    text = (flows_copy / "issuing.yaml").read_text(encoding="utf-8")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert (Path(error.path).name, error.line) == ("issuing.yaml", line_of(text, "include:"))
    assert "issue_tail.yaml" in error.message


def test_an_unknown_key_in_an_included_file(flows_copy):
    text = edit(flows_copy, TAIL, "steps:\n", "stepz: {}\nsteps:\n")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert (Path(error.path), error.line) == (flows_copy / TAIL, line_of(text, "stepz:"))


def test_an_outcome_without_words(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "next: {approve: number}", "next: {approve: number, escalate: number}")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert (Path(error.path).name, error.line) == ("issuing.yaml", line_of(text, "escalate: number"))
    assert "escalate" in error.message and "outcomes" in error.fix


def test_a_flow_may_word_its_own_outcomes(flows_copy):
    edit(flows_copy, "issuing.yaml", "next: {approve: number}", "next: {approve: number, escalate: number}")
    edit(flows_copy, "issuing.yaml", "start: sign_off\n", "start: sign_off\noutcomes: {escalate: 呈报上级, approve: 准予印发}\n")
    issuing = load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES)
    assert (issuing.outcome_label("escalate"), issuing.outcome_label("approve"), issuing.outcome_label("read")) == ("呈报上级", "准予印发", "已阅")


def test_outcome_to_an_unknown_step(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "next: {approve: number, return: draft}", "next: {approve: numbr, return: draft}")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "approve: numbr")
    assert "numbr" in error.message and "sign_off" in error.message


def test_unknown_action(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "do: register", "do: print_it")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "do: print_it")
    assert "print_it" in error.message
    assert "render" in error.fix  # the fix lists the known actions


def test_step_with_both_do_and_by(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    do: decide_forwarding\n", "    do: decide_forwarding\n    by: secretary\n")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "  decide:")
    assert "decide" in error.message


def test_step_with_neither_do_nor_by(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    do: register\n", "")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "  register:")
    assert "register" in error.message


def test_unreachable_step(flows_copy):
    text = (flows_copy / "forwarding.yaml").read_text(encoding="utf-8") + "  orphan:\n    kind: archive\n    title: 孤立环节\n    do: archive\n    next: end\n"
    (flows_copy / "forwarding.yaml").write_text(text, encoding="utf-8")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "orphan:")
    assert "orphan" in error.message


def test_step_reachable_only_from_itself_is_unreachable(flows_copy):
    text = (flows_copy / "issuing.yaml").read_text(encoding="utf-8") + "  loop:\n    kind: archive\n    title: 循环\n    do: archive\n    next: loop\n"
    (flows_copy / "issuing.yaml").write_text(text, encoding="utf-8")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "  loop:")


def test_unknown_start(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "start: sign_for", "start: sign_in")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "start: sign_in")
    assert "sign_in" in error.message


def test_unknown_start_flow(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "start_flow: forwarding", "start_flow: forwardng")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    [error] = caught.value.errors
    assert Path(error.path).name == "forwarding.yaml"
    assert error.line == line_of(text, "start_flow: forwardng")
    assert "forwardng" in error.message


def test_flow_name_differs_from_file_name(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "\nflow: issuing\n", "\nflow: issue\n")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    [error] = caught.value.errors
    assert Path(error.path).name == "issuing.yaml"
    assert error.line == line_of(text, "flow: issue")
    assert "issue" in error.message and "issuing" in error.fix


def test_unknown_key_in_a_step(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "    sets_signer: true\n", "    sets_signer: true\n    colour: red\n")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "colour: red")
    assert "colour" in error.fix


def test_unknown_role(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "    by: leader", "    by: emperor")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "by: emperor")


def test_errors_of_several_files_are_reported_together(flows_copy):
    edit(flows_copy, "forwarding.yaml", "start: sign_for", "start: sign_in")
    edit(flows_copy, "issuing.yaml", "by: leader", "by: emperor")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    assert {Path(e.path).name for e in caught.value.errors} == {"forwarding.yaml", "issuing.yaml"}


def test_a_folder_without_flow_files_is_an_error(tmp_path: Path):
    with pytest.raises(SourceError):
        load_flows(tmp_path, KNOWN)


# --- kinds and wiring (checked at load: `gongwen check` and the engine's start) ---------------------

WIRING_ERRORS = {  # what is edited in which file, the line the error names, words of the message
    "kind_not_the_action's": (
        "forwarding.yaml",
        "  register:\n    kind: register\n",
        "  register:\n    kind: decide\n",
        "kind: decide",
        ["register", "performs 'register'"],
    ),
    "person_on_a_system_kind": (
        "outgoing.yaml",
        "  review:\n    kind: review\n",
        "  review:\n    kind: number\n",
        "kind: number",
        ["reviewer", "which the system does"],
    ),
    "printing_before_numbering": (
        "reporting.yaml",
        "    next: {submit: sign_off}",
        "    next: {submit: render}",
        "kind: render",
        ["'number'", "编号 before 印制"],
    ),
    "sealing_before_printing": ("reporting.yaml", "    next: {submit: sign_off}", "    next: {submit: seal}", "kind: seal", ["'render'", "印制 before 用印"]),
}


@pytest.mark.parametrize(("name", "old", "new", "needle", "words"), WIRING_ERRORS.values(), ids=list(WIRING_ERRORS))
def test_a_wiring_error_names_its_line(flows_copy, name, old, new, needle, words):
    text = edit(flows_copy, name, old, new)
    [error] = errors_loading(flows_copy / name)
    assert (Path(error.path).name, error.line) == (name, line_of(text, needle))
    assert all(w in error.message for w in words), error.message


def test_an_unknown_kind(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "    kind: sign_off\n", "    kind: approve\n")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "kind: approve")
    assert "sign_off" in error.fix  # the fix lists the kinds


def test_a_flow_that_never_ends_is_refused(flows_copy):
    """Found by hand: `archive: next: number` passed `gongwen check`, then the circulation ran forever."""
    text = edit(flows_copy, "issuing.yaml", "    start_flow: forwarding ", "    start_flow: forwarding\n  archive:\n    next: number ")
    errors = errors_loading(flows_copy / "issuing.yaml")
    assert {e.message.split("'")[1] for e in errors} == {"sign_off", "number", "render", "seal", "distribute", "archive"}
    assert all("forever" in e.message for e in errors)
    [own] = [e for e in errors if "'archive'" in e.message]
    assert (Path(own.path).name, own.line) == ("issuing.yaml", line_of(text, "  archive:"))


SMALL_FLOW = """\
flow: small
title: 测试
include: _shared/outcomes.yaml
start: number
steps:
  number: {kind: number, title: 编号, do: allocate_number, next: render}
  render: {kind: render, title: 印制, do: render, next: check}
  check: {kind: review, title: 复核, by: secretary, next: {approve: seal, return: distribute}}
  seal: {kind: seal, title: 用印, do: seal, next: distribute}
  distribute: {kind: distribute, title: 核发, do: distribute, next: end}
"""


def test_distribution_around_the_seal_is_refused(flows_copy):
    (flows_copy / "small.yaml").write_text(SMALL_FLOW, encoding="utf-8")
    [error] = errors_loading(flows_copy / "small.yaml")
    assert (Path(error.path).name, error.line) == ("small.yaml", line_of(SMALL_FLOW, "  distribute:"))
    assert "'seal'" in error.message and "用印 before 核发" in error.message


def test_a_flow_without_a_seal_distributes_unsealed(flows_copy):
    text = SMALL_FLOW.replace("next: {approve: seal, return: distribute}", "next: {approve: distribute}")
    (flows_copy / "small.yaml").write_text(text.replace("  seal: {kind: seal, title: 用印, do: seal, next: distribute}\n", ""), encoding="utf-8")
    assert load_flow(flows_copy / "small.yaml", KNOWN, FLOW_NAMES).steps_of(StepKind.seal) == {}


def test_gongwen_check_names_the_wiring_error(flows_copy, tmp_path):
    from typer.testing import CliRunner

    from gongwen_engine.flows.cli.main import app

    text = edit(flows_copy, "reporting.yaml", "    next: {submit: sign_off}", "    next: {submit: render}")
    env = {"GONGWEN_FLOWS_DIR": str(flows_copy), "GONGWEN_HOME": str(tmp_path / "home"), "COLUMNS": "300"}
    result = CliRunner().invoke(app, ["check"], env=env)
    assert result.exit_code == 2
    assert f"{flows_copy / 'reporting.yaml'}:{line_of(text, 'kind: render')}" in result.output.replace("\n", "")


def test_a_loop_of_automatic_steps_is_refused_even_with_a_way_out(flows_copy):
    """登记 → 拟办 → (存档?) back to 登记: every step reaches end, yet no person ever breaks the loop."""
    text = edit(flows_copy, "forwarding.yaml", "    next: {forward: draft, file: archive}", "    next: {forward: draft, file: register}")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert (Path(error.path).name, error.line) == ("forwarding.yaml", line_of(text, "next: decide"))
    assert "register → decide → register" in error.message and "without a person deciding" in error.message
    assert "human step" in error.fix


def test_a_step_that_leads_to_itself_is_a_loop(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    next: {forward: draft, file: archive}", "    next: {forward: decide, file: archive}")
    [error] = [e for e in errors_loading(flows_copy / "forwarding.yaml") if "without a person" in e.message]
    assert error.line == line_of(text, "next: {forward: decide") and "decide → decide" in error.message


def test_a_loop_through_a_person_is_allowed(flows_copy):
    """签发 may return the draft (sign_off → draft → sign_off): a person decides each time round."""
    flow = load_flow(flows_copy / "forwarding.yaml", KNOWN, FLOW_NAMES)
    assert flow.steps["sign_off"].targets["return"] == "draft"
