"""Roles are data (config/roles.yaml): flows and users name them, both checked at load with file:line;
an office may add its own role (机要员) and give it a human step."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config, load_roles
from gongwen_engine.config.schema import Role
from gongwen_engine.config.yamlsrc import SourceErrors
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.context import action_kinds
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR, load_flows
from gongwen_engine.models.rules.permissions import Action, Item, allowed

KNOWN = action_kinds(ACTIONS)
SIGN_OFF = "    title: 签发\n    by: leader"


def test_the_packaged_roles_hold_every_known_meaning():
    roles = load_roles(PACKAGED_CONFIG_DIR)
    assert {r.value for r in Role} <= set(roles)
    assert roles["secretary"] == "秘书" and roles["administrator"] == "管理员"


def test_a_flow_naming_an_unknown_role_fails_at_load_with_file_and_line(tmp_path: Path):
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    text = edit(flows, "forwarding.yaml", SIGN_OFF, "    title: 签发\n    by: confidential_clerk")
    with pytest.raises(SourceErrors) as caught:
        load_flows(flows, KNOWN, load_roles(PACKAGED_CONFIG_DIR))
    [error] = caught.value.errors
    assert Path(error.path).name == "forwarding.yaml"
    assert error.line == text.splitlines().index("    by: confidential_clerk") + 1
    assert "confidential_clerk" in error.message and "roles.yaml" in str(error)


def test_an_office_adds_its_own_role_and_uses_it_in_a_flow(tmp_path: Path):
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    edit(
        config_dir,
        "roles.yaml",
        "  - {code: administrator, label: 管理员}",
        "  - {code: administrator, label: 管理员}\n  - {code: confidential_clerk, label: 机要员}",
    )
    edit(
        config_dir,
        "users.yaml",
        "  - {id: acwf_admin,",
        "  - {id: acwf_clerk, name: 机要员小王, org: acwf, roles: [confidential_clerk]}\n  - {id: acwf_admin,",
    )
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, tmp_path / "flows")
    edit(flows, "forwarding.yaml", SIGN_OFF, "    title: 签发\n    by: confidential_clerk")
    config = load_config(config_dir)
    assert config.role_label("confidential_clerk") == "机要员"
    loaded = load_flows(flows, KNOWN, config.roles)
    assert loaded["forwarding"].step("sign_off").by == "confidential_clerk"
    clerk = config.user("acwf_clerk")
    assert [u.id for u in config.users_with("acwf", "confidential_clerk")] == ["acwf_clerk"]
    assert allowed(config, clerk, Action.act, Item("acwf", "confidential_clerk"))
    assert not allowed(config, clerk, Action.launch, Item("acwf", "confidential_clerk"))


def test_a_user_with_an_unknown_role_fails_at_load(tmp_path: Path):
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    text = edit(
        config_dir,
        "users.yaml",
        "  - {id: acwf_admin, name: 全国妇联管理员, org: acwf, roles: [administrator]}",
        "  - {id: acwf_admin, name: 全国妇联管理员, org: acwf, roles: [supervisor]}",
    )
    with pytest.raises(SourceErrors) as caught:
        load_config(config_dir)
    [error] = caught.value.errors
    assert "supervisor" in error.message and error.line == next(i for i, line in enumerate(text.splitlines(), 1) if "[supervisor]" in line)


def test_a_known_meaning_cannot_be_dropped(tmp_path: Path):
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    edit(config_dir, "roles.yaml", "  - {code: archivist, label: 档案员}\n", "")
    with pytest.raises(SourceErrors, match="archivist"):
        load_roles(config_dir)
