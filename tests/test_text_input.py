"""One input policy for every text a person gives (issue 26, point 3; models/rules/text_input.py):
control and bidi characters refused with the field named, titles and paragraphs limited, a body
required — at every entry point (launch file, web compose, act --title/--body-file, the leader's
revision, corrections at 收文登记), before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select
from test_reader_seeds import seed
from typer.testing import CliRunner

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.intake import receive_file
from gongwen_engine.models.rules.text_input import PARAGRAPH_MAX, TITLE_MAX, InputRefused, check_changes, check_content, check_text
from gongwen_engine.models.tables import Circulation, Document, Registration, WorkItem

NOTICE = Path(__file__).resolve().parents[1] / "config" / "demo" / "national_notice.yaml"


def count(engine: Engine, table: type) -> int:
    with Session(engine.db) as s:
        return s.exec(select(func.count()).select_from(table)).one()


# ---- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("关于\x00的通知", "第 3 个字符是控制字符（U+0000"),
        ("关于\x0b的通知", "控制字符（U+000B"),
        ("关于\u202e知通的", "双向文本控制符（U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2066关于的通知", "第 1 个字符是双向文本控制符（U+2066"),
        ("关于\n的通知", "控制字符（U+000A"),
    ],
)
def test_a_title_with_control_or_bidi_characters_is_refused_naming_the_field(text: str, words: str) -> None:
    _, content = load_notice()
    with pytest.raises(InputRefused, match=re.escape(f"标题{words}" if words.startswith("第") else words)) as refused:
        check_content(content.model_copy(update={"title": text}))
    assert str(refused.value).startswith("标题")


def test_lengths_and_an_empty_body() -> None:
    _, content = load_notice()
    check_content(content.model_copy(update={"title": "关" * TITLE_MAX}))
    with pytest.raises(InputRefused, match=f"标题有 {TITLE_MAX + 1} 个字符，超过上限 {TITLE_MAX} 个"):
        check_content(content.model_copy(update={"title": "关" * (TITLE_MAX + 1)}))
    with pytest.raises(InputRefused, match="标题有 10000 个字符"):
        check_content(content.model_copy(update={"title": "关" * 10_000}))
    with pytest.raises(InputRefused, match=f"正文第 2 段有 {PARAGRAPH_MAX + 1} 个字符"):
        check_content(content.model_copy(update={"body": ["一段。", "字" * (PARAGRAPH_MAX + 1)]}))
    with pytest.raises(InputRefused, match="正文不能为空：文种“意见”须有正文"):
        check_content(content.model_copy(update={"body": []}))
    with pytest.raises(InputRefused, match="正文不能为空"):
        check_content(content.model_copy(update={"body": ["  ", ""]}))


def test_a_paragraph_may_break_a_line_but_not_hide_a_character() -> None:
    _, content = load_notice()
    check_content(content.model_copy(update={"body": ["第一行\n第二行\t续"]}))
    with pytest.raises(InputRefused, match="正文第 1 段第 3 个字符是控制字符"):
        check_content(content.model_copy(update={"body": ["第一\x0c行"]}))
    with pytest.raises(InputRefused, match="主送机关第 2 项第 1 个字符是双向文本控制符"):
        check_content(content.model_copy(update={"main_recipients": ["各省妇联", "\u202d各市妇联"]}))
    with pytest.raises(InputRefused, match="附件 1 的标题"):
        check_content(content.model_copy(update={"attachments": [{"title": "表\x07", "body": []}]}))


def test_a_revision_is_checked_field_by_field() -> None:
    check_changes({"title": "关于修改后的通知", "body": ["正文。"]})
    with pytest.raises(InputRefused, match=r"^标题第 3 个字符是控制字符"):
        check_changes({"title": "关于\x0b修改的通知"})
    with pytest.raises(InputRefused, match="正文不能为空"):
        check_changes({"body": []})
    assert check_text("发文机关", "山东省妇女联合会") == "山东省妇女联合会"


# ---- launch: the engine, the CLI's launch file ------------------------------------------------------


def test_the_engine_stores_nothing_for_a_refused_launch(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    org, content = load_notice()
    with pytest.raises(InputRefused, match="标题"):
        engine.launch(org, "issuing", content.model_copy(update={"title": "关于\x00的通知"}), actor="acwf_secretary")
    assert count(engine, Circulation) == count(engine, Document) == 0


@pytest.mark.parametrize(
    ("yaml_title", "words"),
    [('"关于\\0开展活动的意见"', "控制字符（U+0000"), ('"关于\\u202E开展活动的意见"', "双向文本控制符"), ("'" + "长" * 300 + "'", "超过上限")],
)
def test_the_cli_launch_file_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_title: str, words: str) -> None:
    from gongwen_engine.flows.cli.main import app

    text = NOTICE.read_text(encoding="utf-8")
    notice = tmp_path / "notice.yaml"
    notice.write_text(re.sub(r"(?m)^(\s+title:).*$", lambda m: f"{m.group(1)} {yaml_title}", text, count=1), encoding="utf-8")
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GONGWEN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["launch", "issuing", str(notice), "--user", "acwf_secretary", "--no-run"])
    assert result.exit_code == 2, result.output
    assert "标题" in result.output and words in "".join(result.output.split()).replace("（", "（"), result.output
    engine = open_engine(Settings(home=tmp_path / "home"))
    assert count(engine, Circulation) == 0


# ---- a person's revision: act --title / --body-file, the leader's form ---------------------------------


@pytest.fixture
def waiting(tmp_path: Path) -> tuple[Engine, int]:
    """A draft of 全国妇联 waiting for its leader's 签发 (manual policy)."""
    from driving import drive

    engine = open_engine(Settings(home=tmp_path / "home"))
    org, content = load_notice()
    cid = engine.launch(org, "issuing", content, actor=f"{org}_secretary")
    drive(engine)
    with Session(engine.db) as s:
        item = s.exec(select(WorkItem).where(WorkItem.circulation_id == cid, WorkItem.status == "open", WorkItem.kind == "human")).first()
    assert item is not None
    return engine, item.id


def test_a_revision_with_a_control_character_is_refused_and_nothing_is_stored(waiting: tuple[Engine, int]) -> None:
    engine, item = waiting
    documents = count(engine, Document)
    leader = engine.config.users_with("acwf", "leader")[0].id
    with pytest.raises(InputRefused, match="标题第 3 个字符是控制字符"):
        engine.complete(item, leader, "approve", "同意", changes={"title": "关于\x0b的意见"})
    with pytest.raises(InputRefused, match="意见第 3 个字符是控制字符"):
        engine.complete(item, leader, "approve", "同意\x00")
    assert count(engine, Document) == documents
    with Session(engine.db) as s:
        assert s.get(WorkItem, item).status == "open"


def test_cli_act_title_and_body_file_are_checked(waiting: tuple[Engine, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gongwen_engine.flows.cli.main import app

    engine, item = waiting
    leader = engine.config.users_with("acwf", "leader")[0].id
    documents = count(engine, Document)
    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GONGWEN_DATABASE_URL", raising=False)
    titled = CliRunner().invoke(app, ["act", str(item), "--user", leader, "--outcome", "approve", "--title", "关于\u202e的意见", "--no-run"])
    assert titled.exit_code == 2 and "双向文本控制符" in titled.output, titled.output
    body = tmp_path / "body.txt"
    body.write_text("第一段。\n\n第二\x00段。\n", encoding="utf-8")
    bodied = CliRunner().invoke(app, ["act", str(item), "--user", leader, "--outcome", "approve", "--body-file", str(body), "--no-run"])
    assert bodied.exit_code == 2 and "正文第2段" in "".join(bodied.output.split()), bodied.output
    assert count(engine, Document) == documents


# ---- the web's compose form --------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from gongwen_engine.flows.web.app import create_app

    with TestClient(create_app(Settings(home=tmp_path / "web"), run_steps=False)) as c:
        yield c


def test_the_web_compose_form_comes_back_with_the_refusal(client: TestClient) -> None:
    from test_web_pages import compose, sign_in

    sign_in(client, "shandong_secretary")
    reversed_title = compose(client, title="关于开展\u202e动活的通知")
    assert reversed_title.status_code == 400 and "标题第 5 个字符是双向文本控制符" in reversed_title.text
    assert "动活的通知" in reversed_title.text  # what was typed is kept in the form
    hidden = compose(client, body="第一段。\n第二\x0b段。")
    assert hidden.status_code == 400 and "控制字符" in hidden.text
    long_title = compose(client, title="长" * 10_000)
    assert long_title.status_code == 400 and "超过上限" in long_title.text
    assert count(client.app.state.web.engine, Circulation) == 0
    assert compose(client).status_code == 303


# ---- corrections at 收文登记 -------------------------------------------------------------------------


def test_a_correction_at_registration_is_checked_before_anything_is_stored(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    with pytest.raises(InputRefused, match=r"^标题第 3 个字符是控制字符"):
        receive_file(engine, seed("001"), "jinan", {"title": "关于\x00转发的通知"})
    with pytest.raises(InputRefused, match=r"^发文机关署名第 1 个字符是双向文本控制符"):
        receive_file(engine, seed("001"), "jinan", {"signature": "\u202e山东省妇女联合会"})
    assert count(engine, Registration) == count(engine, Document) == count(engine, Circulation) == 0
    assert not (engine.storage / "received").exists() or not any(p.is_file() for p in (engine.storage / "received").rglob("*"))
