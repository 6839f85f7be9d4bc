"""Attachments (附件) first-class: the launch file, `gongwen launch`/`act --attach`, the compose
form; a received document attached as it was received (seed 000); Chinese refusals for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from gongwen_engine.config.errors import GongwenError, Refusal
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import attachments
from gongwen_engine.flows.services.demo import HUNAN_NOTICE, OFFICE_NOTICE, load_notice
from gongwen_engine.flows.services.intake import receive_file
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import Circulation, Document

NOTICE_TITLE = "关于进一步做好《妇工要情》信息报送工作的通知"
NAMES = ["全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》", "2012年2—3月全国妇联《妇工要情》信息报送要点"]


def _received_at_hunan(engine: Engine) -> int:
    received = receive_file(engine, OFFICE_NOTICE, "hunan", user="hunan_secretary", policy="demo")
    assert received.circulation_id is not None
    return received.circulation_id


def test_the_office_notice_is_received_as_the_superiors_with_the_offices_name(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    circ_id = _received_at_hunan(engine)
    with Session(engine.db) as session:
        circ = session.get(Circulation, circ_id)
        assert circ is not None and circ.received_id is not None
        doc = session.get(Document, circ.received_id)
    assert doc is not None
    assert doc.org == "acwf"  # 全国妇联's office: a superior's document for Hunan (retention), not "external"
    assert (doc.issuer_name, doc.issuer_short_name, doc.doc_number) == ("全国妇联办公厅", "全国妇联办公厅", None)


def test_the_seed_000_launch_file_attaches_the_received_notice_as_received(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    _received_at_hunan(engine)
    org, content = load_notice(HUNAN_NOTICE)
    specs = attachments.load_attachment_specs(HUNAN_NOTICE)
    content = attachments.with_attachments(content, attachments.resolve(engine, org, specs))
    assert content.attachment_notes == NAMES
    first, second = content.attachments
    assert first.document is not None and not first.body
    assert first.document.title == NOTICE_TITLE and first.document.doc_number is None
    assert first.document.signature == "全国妇联办公厅" and str(first.document.issued_on) == "2012-02-03"
    assert first.document.legacy is not None and first.document.legacy.copies_printed == 180  # its own 版记 as received
    assert second.document is None and second.title == NAMES[1] and len(second.body) == 7
    circ_id = engine.launch(org, "issuing", content, policy="demo", actor="hunan_secretary")
    with Session(engine.db) as session:  # stored with the document version
        doc = session.exec(select(Document).where(Document.circulation_id == circ_id)).one()
        stored = DocumentContent.model_validate(doc.content)
    assert stored.attachment_notes == NAMES and stored.attachments[0].document == first.document


@pytest.mark.parametrize(
    ("ref", "message"),
    [("关于不存在的通知", "本单位没有收到“关于不存在的通知”"), ("999", "本单位没有收到“999”")],
)
def test_a_received_document_that_is_not_ours_is_refused_in_chinese(make_engine: Callable[..., Engine], ref: str, message: str) -> None:
    engine = make_engine()
    circ_id = _received_at_hunan(engine)
    with pytest.raises(Refusal, match=message):
        attachments.resolve(engine, "hunan", [attachments.AttachmentSpec(received=ref)])
    with pytest.raises(Refusal, match="本单位没有收到"):  # Shandong did not receive Hunan's copy
        attachments.resolve(engine, "shandong", [attachments.AttachmentSpec(received=str(circ_id))])
    with pytest.raises(Refusal, match="同一份文件只附一次"):
        attachments.resolve(engine, "hunan", [attachments.AttachmentSpec(received=str(circ_id)), attachments.AttachmentSpec(received=NOTICE_TITLE)])


def test_bad_attachments_in_a_launch_file_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("org: hunan\ncontent: {}\nattachments:\n  - body: [没有标题]\n", encoding="utf-8")
    with pytest.raises(GongwenError, match=r"bad.yaml:4.*附件需要标题"):
        attachments.load_attachment_specs(path)
    path.write_text("org: hunan\nattachments:\n  - received: 湘妇收〔2012〕1号\n    body: [多余]\n", encoding="utf-8")
    with pytest.raises(GongwenError, match="不能再写 body"):
        attachments.load_attachment_specs(path)
    path.write_text("org: hunan\nattachments: 附件一\n", encoding="utf-8")
    with pytest.raises(GongwenError, match="attachments: 应为列表"):
        attachments.load_attachment_specs(path)


def test_the_compose_form_and_the_option_give_the_same_attachments(tmp_path: Path) -> None:
    form = "收文：湘妇收〔2012〕3号\n---\n2012年2—3月全国妇联《妇工要情》信息报送要点\n1．第一条。\n2．第二条。\n"
    assert attachments.specs_from_form(form) == [
        attachments.AttachmentSpec(received="湘妇收〔2012〕3号"),
        attachments.AttachmentSpec(title="2012年2—3月全国妇联《妇工要情》信息报送要点", body=["1．第一条。", "2．第二条。"]),
    ]
    annex = tmp_path / "要点.txt"
    annex.write_text("2012年2—3月全国妇联《妇工要情》信息报送要点\n\n1．第一条。\n\n2．第二条。\n", encoding="utf-8")
    assert attachments.spec_from_option(str(annex)) == attachments.specs_from_form(form)[1]
    assert attachments.spec_from_option("received:12") == attachments.AttachmentSpec(received="12")
    with pytest.raises(Refusal, match="无法读取附件文件"):
        attachments.spec_from_option(str(tmp_path / "missing.txt"))
    with pytest.raises(Refusal, match="无法读取附件文件"):
        attachments.spec_from_option(str(tmp_path))  # a folder
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"x" * (attachments.MAX_ATTACHMENT_BYTES + 1))
    with pytest.raises(Refusal, match="过大"):
        attachments.spec_from_option(str(huge))
    with pytest.raises(Refusal, match="不能再加正文"):
        attachments.specs_from_form("收文：12\n多出的一段\n")
    with pytest.raises(Refusal, match="没有写明收文"):
        attachments.specs_from_form("收文：\n")


def test_cli_launch_and_act_set_attachments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services.engine import open_engine

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    engine = open_engine(Settings())
    received = _received_at_hunan(engine)
    annex = tmp_path / "名单.txt"
    annex.write_text("信息员名单\n\n张三、李四\n", encoding="utf-8")
    notice = tmp_path / "notice.yaml"
    notice.write_text(HUNAN_NOTICE.read_text(encoding="utf-8").split("\nattachments:")[0], encoding="utf-8")  # the file without its attachments
    runner = CliRunner()
    launched = runner.invoke(
        app, ["launch", "outgoing", str(notice), "--user", "hunan_secretary", "--attach", f"received:{received}", "--attach", str(annex), "--no-run"]
    )
    assert launched.exit_code == 0, launched.output
    with Session(engine.db) as session:
        doc = session.exec(select(Document).where(Document.title == "关于进一步做好全国妇联《妇工要情》信息报送工作的通知")).one()
        assert doc.content["attachment_notes"] == [NAMES[0], "信息员名单"]
        assert doc.circulation_id is not None
        circ_id = doc.circulation_id
    refused = runner.invoke(app, ["launch", "outgoing", str(notice), "--user", "hunan_secretary", "--attach", "received:关于不存在的通知", "--no-run"])
    assert refused.exit_code == 2 and "本单位没有收到" in "".join(refused.output.split())
    engine.run_step(circ_id)  # the draft step waits for the secretary
    inbox = runner.invoke(app, ["inbox", "--user", "hunan_secretary", "--json"])
    item = next(e["item"] for e in json.loads(inbox.output) if e["circulation"] == circ_id)
    acted = runner.invoke(app, ["act", str(item), "--user", "hunan_secretary", "--outcome", "submit", "--attach", str(annex), "--no-run"])
    assert acted.exit_code == 0, acted.output
    with Session(engine.db) as session:
        latest = session.exec(select(Document).where(Document.circulation_id == circ_id).order_by(Document.version.desc())).first()  # type: ignore[attr-defined]
        assert latest is not None and latest.version == 2 and latest.content["attachment_notes"] == ["信息员名单"]


def test_a_forward_of_a_document_without_a_number_prints_no_empty_brackets() -> None:
    from gongwen_engine.config.loader import load_config
    from gongwen_engine.doc_templates.drafting import DocRef, draft_forwarding_notice

    org = load_config().org("hunan")
    ref = DocRef(issuer="全国妇联办公厅", title=NOTICE_TITLE, doc_number="")
    body = draft_forwarding_notice(org, ref, ref, date(2012, 2, 29)).body
    assert body == ["现将全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》转发给你们，请结合实际，认真贯彻落实。"]
    assert "（）" not in body[0]
