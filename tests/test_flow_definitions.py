"""Flow files (flows/*.yaml) are validated on load; every error names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.definition import END, PACKAGED_FLOWS_DIR, load_flow, load_flows

KNOWN = set(ACTIONS)
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

def test_shipped_flows_validate():
    flows = load_flows(PACKAGED_FLOWS_DIR, KNOWN)
    assert set(flows) == FLOW_NAMES


def test_every_step_names_a_known_action_or_a_role():
    for flow in load_flows(PACKAGED_FLOWS_DIR, KNOWN).values():
        for name, step in flow.steps.items():
            assert (step.do in KNOWN) != step.human, f"{flow.flow}.{name}"


def test_forwarding_flow_shape():
    forwarding = load_flows(PACKAGED_FLOWS_DIR, KNOWN)["forwarding"]
    assert forwarding.start == "sign_for"
    assert forwarding.step("sign_off").by.value == "leader"
    assert forwarding.step("sign_off").targets == {"approve": "number", "return": "draft"}
    assert forwarding.step("decide").next_after("file") == "archive"
    assert forwarding.step("archive").next_after(None) == END
    assert forwarding.step("distribute").start_flow == "forwarding"


def test_an_outcome_the_step_does_not_have_is_refused():
    forwarding = load_flows(PACKAGED_FLOWS_DIR, KNOWN)["forwarding"]
    with pytest.raises(ValueError, match="reject"):
        forwarding.step("sign_off").next_after("reject")


def test_flow_version_follows_the_file_text(flows_copy):
    before = load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES).version
    edit(flows_copy, "issuing.yaml", "title: 归档", "title: 立卷归档")
    assert load_flow(flows_copy / "issuing.yaml", KNOWN, FLOW_NAMES).version != before


# --- errors ----------------------------------------------------------------------------------------

def test_next_to_an_unknown_step(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    do: seal\n    next: distribute", "    do: seal\n    next: distribut")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert Path(error.path).name == "forwarding.yaml"
    assert error.line == line_of(text, "next: distribut", after="  seal:")
    assert "distribut" in error.message
    assert f"forwarding.yaml:{error.line}" in str(error)


def test_outcome_to_an_unknown_step(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "next: {approve: number, return: draft}", "next: {approve: numbr, return: draft}")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "approve: numbr")
    assert "numbr" in error.message and "sign_off" in error.message


def test_unknown_action(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "do: render", "do: print_it")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "do: print_it")
    assert "print_it" in error.message
    assert "render" in error.fix  # the fix lists the known actions


def test_step_with_both_do_and_by(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    by: leader\n", "    by: leader\n    do: render\n")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "sign_off:")
    assert "sign_off" in error.message


def test_step_with_neither_do_nor_by(flows_copy):
    text = edit(flows_copy, "forwarding.yaml", "    do: render\n", "")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "  render:")
    assert "render" in error.message


def test_unreachable_step(flows_copy):
    text = (flows_copy / "forwarding.yaml").read_text(encoding="utf-8") + "  orphan:\n    title: 孤立环节\n    do: archive\n    next: end\n"
    (flows_copy / "forwarding.yaml").write_text(text, encoding="utf-8")
    [error] = errors_loading(flows_copy / "forwarding.yaml")
    assert error.line == line_of(text, "orphan:")
    assert "orphan" in error.message


def test_step_reachable_only_from_itself_is_unreachable(flows_copy):
    text = (flows_copy / "issuing.yaml").read_text(encoding="utf-8") + "  loop:\n    title: 循环\n    do: archive\n    next: loop\n"
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
    text = edit(flows_copy, "issuing.yaml", "    do: render\n", "    do: render\n    colour: red\n")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "colour: red")
    assert "colour" in error.fix


def test_unknown_role(flows_copy):
    text = edit(flows_copy, "issuing.yaml", "    by: leader", "    by: emperor")
    [error] = errors_loading(flows_copy / "issuing.yaml")
    assert error.line == line_of(text, "by: emperor")


def test_errors_of_several_files_are_reported_together(flows_copy):
    edit(flows_copy, "forwarding.yaml", "start: sign_for", "start: sign_in")
    edit(flows_copy, "issuing.yaml", "do: render", "do: print_it")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows_copy, KNOWN)
    assert {Path(e.path).name for e in caught.value.errors} == {"forwarding.yaml", "issuing.yaml"}


def test_a_folder_without_flow_files_is_an_error(tmp_path: Path):
    with pytest.raises(SourceError):
        load_flows(tmp_path, KNOWN)
