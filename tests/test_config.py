"""The shipped config/ loads; every mistake in a copy of it is reported with file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
from gongwen_engine.config.schema import Level, Role
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors

# --- the shipped config --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_national_federation(config):
    acwf = config.org("acwf")
    assert acwf.short_name == "全国妇联"
    assert acwf.prefixes[0] == "妇字"
    assert acwf.fonds == "Z109"
    assert acwf.printed_by == "全国妇联办公厅"
    assert acwf.level is Level.national
    assert acwf.parent is None


def test_shandong_federation(config):
    shandong = config.org("shandong")
    assert shandong.short_name == "山东省妇联"
    assert shandong.prefixes[0] == "鲁妇发"
    assert shandong.mark == "山东省妇女联合会文件"
    assert shandong.level is Level.provincial
    assert config.parent("shandong").code == "acwf"


def test_hunan_federation(config):
    hunan = config.org("hunan")
    assert hunan.short_name == "湖南省妇联"
    assert hunan.level is Level.provincial
    assert hunan.parent == "acwf"


def test_shandong_has_its_sixteen_prefectural_cities(config):
    cities = config.children("shandong")
    assert len(cities) == 16
    assert all(c.level is Level.prefectural for c in cities)
    assert config.org("jinan").prefixes[0] == "济妇发"
    assert config.org_by_prefix["济妇发"].code == "jinan"


def test_jinan_has_county_level_units(config):
    counties = config.children("jinan")
    assert counties, "济南 has no county-level units"
    assert all(c.parent == "jinan" and c.level is Level.county for c in counties)
    assert "jinan_lixia" in {c.code for c in counties}


def test_there_are_users_with_each_role(config):
    for role in Role:
        assert any(role in u.roles for u in config.users.values()), role
    assert sorted(u.id for u in config.users_with("acwf", Role.leader)) == ["acwf_deputy", "acwf_leader"]
    assert sorted(u.department for u in config.users_with("acwf", Role.department_head)) == ["宣传部", "组织部"]
    assert all(u.org in config.organisations for u in config.users.values())


def test_numbering_starts_and_policies(config):
    assert config.start_of("鲁妇发", 2012) == 10
    assert config.start_of("妇字", 2012) == 2
    assert config.policy("demo").auto_approve["sign_off"] == "approve"
    assert config.policy("manual").auto_approve == {}


def test_unknown_organisation_and_policy_are_refused_in_chinese(config):
    with pytest.raises(Refusal, match="未知单位代码“atlantis”"):
        config.org("atlantis")
    with pytest.raises(Refusal, match=r"未知办理策略“nonesuch”：可选 .*demo"):
        config.policy("nonesuch")


# --- errors in a copy of config/ ---------------------------------------------------------------


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    return copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")


def append(folder: Path, name: str, extra: str) -> str:
    path = folder / name
    text = path.read_text(encoding="utf-8") + extra
    path.write_text(text, encoding="utf-8")
    return text


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing ``needle`` (at or after the line containing ``after``)."""
    lines = text.splitlines()
    begin = 0
    if after is not None:
        begin = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i >= begin and needle in line) + 1


def errors_of(folder: Path) -> list[SourceError]:
    with pytest.raises(SourceErrors) as caught:
        load_config(folder)
    return caught.value.errors


def test_shipped_config_copy_loads(config_copy):
    assert len(load_config(config_copy).organisations) == len(load_config().organisations)


def test_duplicate_prefix_names_the_file_the_line_and_a_fix(config_copy):
    text = edit(config_copy, "organisations.yaml", "    prefixes: [青妇发]\n", "    prefixes:\n      - 青妇发\n      - 济妇发\n")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "organisations.yaml"
    assert error.line == line_of(text, "- 济妇发")
    assert "济妇发" in error.message and "jinan" in error.message and "qingdao" in error.message
    assert error.fix
    assert f"organisations.yaml:{error.line}" in str(error)


def test_duplicate_prefix_in_a_flow_list_points_at_its_line(config_copy):
    text = edit(config_copy, "organisations.yaml", "prefixes: [湘妇发, 湘妇字]", "prefixes: [湘妇发, 鲁妇发]")
    [error] = errors_of(config_copy)
    assert error.line == line_of(text, "prefixes: [湘妇发, 鲁妇发]")
    assert "鲁妇发" in error.message and "shandong" in error.message


def test_unknown_parent_points_at_that_parent_line(config_copy):
    text = edit(config_copy, "organisations.yaml", "    parent: jinan\n    prefixes: [历下妇发]", "    parent: jinnan\n    prefixes: [历下妇发]")
    [error] = errors_of(config_copy)
    assert error.line == line_of(text, "parent: jinnan")
    assert "jinnan" in error.message and "jinan_lixia" in error.message
    assert error.fix


def test_parent_cycle_is_reported(config_copy):
    text = edit(
        config_copy,
        "organisations.yaml",
        "    level: provincial\n    parent: acwf\n    prefixes: [鲁妇发",
        "    level: provincial\n    parent: jinan\n    prefixes: [鲁妇发",
    )
    errors = errors_of(config_copy)
    cycles = [e for e in errors if "cycle" in e.message]
    assert len(cycles) == 1
    assert "shandong" in cycles[0].message and "jinan" in cycles[0].message
    assert cycles[0].line == line_of(text, "parent: jinan", after="code: shandong")


def test_self_parent_is_a_cycle(config_copy):
    text = edit(config_copy, "organisations.yaml", "    parent: shandong\n    prefixes: [青妇发]", "    parent: qingdao\n    prefixes: [青妇发]")
    [error] = errors_of(config_copy)
    assert "cycle" in error.message and "qingdao" in error.message
    assert error.line == line_of(text, "parent: qingdao")


def test_yaml_syntax_error_names_the_line(config_copy):
    text = edit(config_copy, "organisations.yaml", "    fonds: S043\n", "    fonds: S043\n   broken: [\n")
    with pytest.raises(SourceError) as caught:
        load_config(config_copy)
    assert Path(caught.value.path).name == "organisations.yaml"
    assert caught.value.line == line_of(text, "broken: [")
    assert "YAML" in caught.value.message


def test_missing_required_key_names_the_key(config_copy):
    text = edit(config_copy, "organisations.yaml", "    fonds: S043\n", "")
    [error] = errors_of(config_copy)
    assert "fonds" in error.message
    assert "fonds" in error.fix
    assert error.line == line_of(text, "- code: hunan")


def test_user_of_an_unknown_organisation(config_copy):
    text = append(config_copy, "users.yaml", "  - {id: ghost, name: 无名, org: atlantis, roles: [leader]}\n")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "users.yaml"
    assert "ghost" in error.message and "atlantis" in error.message
    assert error.line == line_of(text, "id: ghost")


def test_unknown_role_is_refused(config_copy):
    text = append(config_copy, "users.yaml", "  - {id: boss, name: 老板, org: acwf, roles: [emperor]}\n")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "users.yaml"
    assert error.line == line_of(text, "id: boss")


def test_numbering_scheme_with_a_prefix_nobody_owns(config_copy):
    text = append(config_copy, "numbering.yaml", "  - prefix: 火星妇发\n    year: 2012\n    start: 5\n")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "numbering.yaml"
    assert "火星妇发" in error.message
    assert error.line == line_of(text, "prefix: 火星妇发")
    assert "organisations.yaml" in error.fix


def test_all_problems_are_reported_together(config_copy):
    edit(config_copy, "organisations.yaml", "    parent: jinan\n    prefixes: [历下妇发]", "    parent: jinnan\n    prefixes: [历下妇发]")
    append(config_copy, "users.yaml", "  - {id: ghost, name: 无名, org: atlantis, roles: [leader]}\n")
    files = {Path(e.path).name for e in errors_of(config_copy)}
    assert files == {"organisations.yaml", "users.yaml"}


@pytest.mark.parametrize("text", ["", "users: []\n", "# nobody yet\n"])
def test_an_empty_users_file_is_refused_with_its_name(config_copy, text):
    (config_copy / "users.yaml").write_text(text, encoding="utf-8")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "users.yaml" and error.line >= 1 and "no users" in error.message
    assert f"users.yaml:{error.line}" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "      sign_off: approve\n      circulate: read            # 阅知",
            "      sign_of: approve\n      circulate: read            # 阅知",
            "approves 'sign_of', which is no step a person does",
        ),
        (
            "      sign_off: approve\n      circulate: read            # 阅知",
            "      sign_off: agree\n      circulate: read            # 阅知",
            "takes outcome 'agree' at 'sign_off'",
        ),
    ],
)
def test_gongwen_check_refuses_a_policy_naming_an_unknown_step_or_outcome(config_copy, tmp_path, old, new, words):
    from typer.testing import CliRunner

    from gongwen_engine.flows.cli.main import app

    text = edit(config_copy, "policies.yaml", old, new)
    env = {"GONGWEN_CONFIG_DIR": str(config_copy), "GONGWEN_HOME": str(tmp_path / "home"), "COLUMNS": "400"}
    result = CliRunner().invoke(app, ["check"], env=env)
    output = result.output.replace("\n", "")
    assert result.exit_code == 2, result.output
    assert f"{config_copy / 'policies.yaml'}:{line_of(text, new.split(chr(10))[0].strip())}" in output and words in output


def test_a_house_style_value_names_the_file_and_the_line(config_copy):
    text = edit(config_copy, "organisations.yaml", "house_style: {attachment_numbers: chinese}", "house_style:\n      attachment_numbers: roman")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "organisations.yaml"
    assert error.line == line_of(text, "attachment_numbers: roman")
    assert "arabic" in str(error) and "chinese" in str(error)


def test_a_house_style_face_names_the_file_and_the_line(config_copy):
    text = edit(config_copy, "organisations.yaml", "house_style: {attachment_numbers: chinese}", "house_style:\n      faces:\n        text: Arial")
    [error] = errors_of(config_copy)
    assert Path(error.path).name == "organisations.yaml"
    assert error.line == line_of(text, "text: Arial")
    assert "仿宋_GB2312" in str(error)  # the faces it may take
