"""The CLI's one error handler (flows/cli/_common.friendly): a refusal or a wrong definition is said
as it is (exit 2); anything else is a bug, said as one (exit 3, its traceback in the error log),
never passed off as a refusal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gongwen_engine.config.errors import DefinitionError, Refusal
from gongwen_engine.flows.cli._common import INTERNAL_ERROR_EXIT, REFUSED_EXIT, friendly

CLI_DIR = Path(__file__).resolve().parent.parent / "flows" / "cli"


def app_raising(exc: Exception) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @friendly
    def fail() -> None:
        raise exc

    @app.command()
    @friendly
    def other() -> None:  # a second command: typer then needs the command's name
        pass

    return app


@pytest.mark.parametrize("exc", [Refusal("流转 7 不存在"), DefinitionError("flows/x.yaml:3: 流转 7 不存在")])
def test_a_refusal_or_a_definition_error_is_said_as_it_is(exc: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path))
    result = CliRunner().invoke(app_raising(exc), ["fail"])
    assert result.exit_code == REFUSED_EXIT and "流转 7 不存在" in result.output and "内部错误" not in result.output
    assert not (tmp_path / "errors.log").exists()


@pytest.mark.parametrize("exc", [KeyError("step"), ValueError("流转 7 不存在"), LookupError("x")])
def test_a_key_or_value_error_is_a_bug_not_a_refusal(exc: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path))
    result = CliRunner().invoke(app_raising(exc), ["fail"])
    assert result.exit_code == INTERNAL_ERROR_EXIT and "内部错误" in result.output and "Traceback" not in result.output
    assert type(exc).__name__ in (tmp_path / "errors.log").read_text(encoding="utf-8")


def test_command_groups_import_common_and_services_never_main_nor_the_database() -> None:
    """No import ring (group modules never import main) and no SQL under flows/cli."""
    paths = sorted(CLI_DIR.glob("*.py"))
    assert len(paths) > 10
    for path in paths:
        text = path.read_text(encoding="utf-8")
        nodes = list(ast.walk(ast.parse(text)))
        imported = {n.module or "" for n in nodes if isinstance(n, ast.ImportFrom)} | {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
        assert "gongwen_engine.flows.cli.main" not in imported, path.name
        assert not [m for m in imported if m.split(".")[0] in ("sqlmodel", "sqlalchemy")], path.name
        assert "Session(" not in text, path.name


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [("GONGWEN_MAX_STEPS", "1", "应不小于2"), ("GONGWEN_CONVERTERS", "两个", "应为整数"), ("GONGWEN_CONVERTERS", "99", "应不大于16")],
)
def test_a_wrong_setting_is_refused_by_its_name_not_an_internal_error(
    variable: str, value: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongwen_engine.flows.cli.main import app

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path))
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["status"])
    output = "".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == REFUSED_EXIT and f"{variable}={value}" in output and said in output, result.output
    assert "内部错误" not in result.output and not (tmp_path / "errors.log").exists()


def test_a_wrong_database_url_is_named_but_never_repeated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gongwen_engine.config.settings import _said

    said = _said({"loc": ("database_url",), "type": "string_type", "input": "postgresql://u:secret@h/db"})
    assert "GONGWEN_DATABASE_URL" in said and "secret" not in said
