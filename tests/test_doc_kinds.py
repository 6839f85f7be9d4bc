"""文种 in one place (models/rules/doc_kinds.py): the 15 kinds, their direction, the reader's title
endings, and the same check for a new document on the web form and the CLI launch."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.rules import doc_kinds
from gongwen_engine.models.rules.doc_kinds import Direction, check_official, direction_of, kind_of_title

NOTICE = Path(__file__).resolve().parents[1] / "config" / "demo" / "national_notice.yaml"


def test_the_fifteen_kinds_of_the_2012_regulations() -> None:
    assert len(doc_kinds.OFFICIAL_KINDS) == 16  # 命令（令） is listed under both names
    assert {"决议", "决定", "命令", "令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函", "纪要"} == set(
        doc_kinds.OFFICIAL_KINDS
    )
    assert not set(doc_kinds.MATERIAL_KINDS) & set(doc_kinds.OFFICIAL_KINDS)


def test_directions_follow_the_domain() -> None:
    assert (direction_of("请示"), direction_of("报告"), direction_of("函"), direction_of("通知")) == (
        Direction.up,
        Direction.up,
        Direction.parallel,
        Direction.down,
    )


@pytest.mark.parametrize(
    ("title", "kind"),
    [("关于转发全国妇联《关于…的意见》的通知", "通知"), ("山东省妇联命令", "命令"), ("某某令", "令"), ("关于印发活动实施方案", "方案"), ("关于某事", None)],
)
def test_the_kind_a_title_ends_with(title: str, kind: str | None) -> None:
    assert kind_of_title(title) == kind


def test_an_unofficial_kind_is_refused_in_chinese() -> None:
    check_official("函")
    with pytest.raises(Refusal, match="文种“方案”不在 15 种法定文种之内"):
        check_official("方案")


def test_the_engine_refuses_to_launch_an_unofficial_kind(make_engine, tmp_path: Path) -> None:
    notice = tmp_path / "notice.yaml"
    notice.write_text(NOTICE.read_text(encoding="utf-8").replace("doc_type: 意见", "doc_type: 方案"), encoding="utf-8")
    from gongwen_engine.flows.services.demo import load_notice

    org, content = load_notice(notice)
    with pytest.raises(Refusal, match="不在 15 种法定文种之内"):
        make_engine().launch(org, "issuing", content, actor="acwf_secretary")


def test_the_cli_launch_refuses_an_unofficial_kind_as_the_web_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gongwen_engine.flows.cli.main import app

    notice = tmp_path / "notice.yaml"
    notice.write_text(NOTICE.read_text(encoding="utf-8").replace("doc_type: 意见", "doc_type: 方案"), encoding="utf-8")
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GONGWEN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["launch", "issuing", str(notice), "--user", "acwf_secretary", "--no-run"])
    assert result.exit_code == 2, result.output
    assert "文种“方案”不在15种法定文种之内" in "".join(result.output.split())
