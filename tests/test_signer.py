"""签发人 and 成文日期 (issue 19 point 6): the signer is the name of the person who signed — the
leader who approved, or under a policy the organisation's principal leader — named on the 发文稿纸;
the 成文日期 is the day they signed, unless a named policy replays a seed's dates. An upward report
carries its 署名, so it goes up sealed and with its 版记."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from docx import Document as Docx
from driving import drive
from sqlmodel import Session, select

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.reporting import report_content
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.tables import CirculationFile, Document, ReportingRequirement, WorkItem, WorkItemStatus


def _notice(org: str, mark: str) -> DocumentContent:
    return DocumentContent(
        doc_type="通知",
        issuer_mark=mark,
        title="关于开展2012年“三八”维权周活动的通知",
        main_recipients=["各市妇联"],
        body=["为做好维权周活动，现将有关事项通知如下。"],
        signature=org,
        issued_on=date(2011, 12, 1),  # what the secretary typed: the signing day replaces it
        sealed=True,
        printed_by=org,
        printed_on=date(2011, 12, 1),
    )


def _document(engine: Engine, circ_id: int) -> Document:
    with Session(engine.db) as session:
        return session.exec(select(Document).where(Document.circulation_id == circ_id).order_by(Document.version.desc())).first()  # type: ignore[attr-defined]


def _draft_sheet(engine: Engine, circ_id: int) -> str:
    with Session(engine.db) as session:
        row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circ_id, CirculationFile.role == "draft_sheet")).one()
    doc = Docx(str(engine.storage / row.file))
    return "\n".join(" | ".join(c.text for c in r.cells) for t in doc.tables for r in t.rows)


def test_users_hold_names_and_their_title_separately(make_engine: Callable[..., Engine]) -> None:
    config = make_engine().config
    for user in config.users.values():
        if "leader" in user.roles and user.org in ("acwf", "shandong", "hunan"):
            assert not user.name.endswith("主席"), user  # a person's name, not a job title
            assert user.title in ("主席", "副主席")
    assert config.principal_leader("shandong") == config.users["shandong_leader"]  # the first listed, not the first by id


def test_a_policy_signs_in_the_principal_leaders_name_on_the_replayed_date(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    circ = engine.launch("hunan", "issuing", _notice("湖南省妇女联合会", "湖南省妇女联合会文件"), policy="demo", actor="hunan_secretary")
    drive(engine)
    doc = _document(engine, circ)
    assert doc.doc_number and doc.content["signer"] == engine.user("hunan_leader").name == "吴秀英"
    assert doc.content["issued_on"] == "2012-01-31"  # the demo policy replays seed 001's provincial date
    assert doc.content["printed_on"] == "2012-01-31"
    sheet = _draft_sheet(engine, circ)
    assert "签发 | 同意" in sheet and "代吴秀英" in sheet  # the 发文稿纸 names the leader the policy acted for


def test_the_deputy_who_signs_is_the_signer_and_the_day_is_the_date(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    circ = engine.launch("shandong", "issuing", _notice("山东省妇女联合会", "山东省妇女联合会文件"), policy="manual", actor="shandong_secretary")
    drive(engine)
    with Session(engine.db) as session:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ, WorkItem.status == WorkItemStatus.open)).one()
    assert item.id is not None
    engine.complete(item.id, "shandong_deputy", "approve", "同意")
    doc = _document(engine, circ)
    assert doc.content["signer"] == "褚云霞"  # who signed, not the first leader by id or the principal
    assert doc.content["issued_on"] == today().isoformat() and doc.content["printed_on"] == today().isoformat()
    assert "褚云霞" in _draft_sheet(engine, circ)


def test_an_upward_report_goes_up_sealed_with_its_colophon(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine()
    req = ReportingRequirement(org="acwf", office="全国妇联办公厅", what="活动实施方案", recipients=["shandong"], due_kind="date", due_text="2012年2月底前")
    content = report_content(engine, req, "shandong", date(2012, 2, 20))
    assert content.sealed and content.signature == "山东省妇女联合会"
    assert (content.printed_by, content.printed_on) == ("山东省妇联办公室", date(2012, 2, 20))  # the 版记
