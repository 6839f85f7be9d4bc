"""The supervision board (督办台账) as the web page shows it: the rows of ``reporting.board``
grouped under the requirements an office made; adding a 报送要求 from the page (the same
``reporting.add_requirements`` as ``gongwen deadlines add``); a 催办 sent by hand to a unit that
has not submitted (audited, a 消息 to its secretaries, once a day per requirement and unit unless
confirmed); and the organisation's own obligations — what superiors require of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import Role
from gongwen_engine.flows.actions.reporting import UNIT_COLUMN, due_for
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.records import actor_name
from gongwen_engine.flows.services import reporting
from gongwen_engine.models import audit as audit_trail
from gongwen_engine.models import db, messages
from gongwen_engine.models.queries.messages import urged
from gongwen_engine.models.queries.reporting import requirements_of
from gongwen_engine.models.rules.dates import china_date
from gongwen_engine.models.rules.dates import today as beijing_today
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.rules.report_deadlines import visible_periods
from gongwen_engine.models.rules.workdays import calendar_of
from gongwen_engine.models.tables import Circulation, ReportingRequirement, ReportSubmission, utcnow

FORMS = {"report": "报告", "table": "报表", "names": "名单"}
SUBMITTED = ("on_time", "late")


@dataclass
class RequirementBoard:
    """One requirement with its rows and counts, as the page shows it."""

    requirement: ReportingRequirement
    rows: list[reporting.BoardRow] = field(default_factory=list)
    requester: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return reporting.board_counts(self.rows)


def requirement_boards(engine: Engine, org: str, requirement: int | None, rows: list[reporting.BoardRow]) -> list[RequirementBoard]:
    """``rows`` grouped under the requirements ``org`` made (only ``requirement`` when given), newest first."""
    with Session(engine.db) as session:
        groups = {req.id: RequirementBoard(req) for req in requirements_of(session, org, requirement)}
    for row in rows:
        if row.requirement in groups:
            groups[row.requirement].rows.append(row)
    return list(groups.values())


def add_requirement(engine: Engine, circulation_id: int, what: str, due: str, form: str, table: str, actor: str) -> ReportingRequirement:
    """A 报送要求 on a circulation of the actor's own organisation, from the board's form: the same
    ``reporting.add_requirements`` as ``gongwen deadlines add`` (every 主送 of its document reports)."""
    person = engine.user(actor)
    what, due, columns = what.strip(), due.strip(), [c.strip() for c in table.replace("，", ",").split(",") if c.strip()]
    with Session(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
    if circ is None or circ.org != person.org:
        raise Refusal(f"流转 {circulation_id} 不是本单位的流转：报送要求只能加在本单位的发文上，请在“本单位流转”中查看流转编号。")
    authorize(engine.config, person, Action.view_board, Org(circ.org, "督办台账"))
    if not what:
        raise Refusal("请填写报送内容，如“活动实施方案”。")
    if not due:
        raise Refusal("请填写报送时限：2012-02-29、2012年2月底前、2012年2月下旬 或 5个工作日内。")
    if form not in FORMS:
        raise Refusal("请选择报送形式：报告、报表或名单。")
    if form == "table" and not columns:
        raise Refusal(f"“{what}”是报表：请填写数值列，用逗号分开，如“参加人数，活动场次”。")
    if len(set(columns)) != len(columns) or UNIT_COLUMN in columns:
        raise Refusal(f"报表的数值列不能重复，也不能叫“{UNIT_COLUMN}”（第一列就是报送单位）。")
    if circ.document_id is None and circ.received_id is None:
        raise Refusal(f"流转 {circulation_id} 还没有文件：请在拟稿发文之后再加报送要求。")
    spec = reporting.RequirementSpec(what=what, due=due, form=form, table=columns if form == "table" else [])  # type: ignore[arg-type]  # form checked above
    [row] = reporting.add_requirements(engine, circulation_id, [spec], actor, source="web")
    return row


def _requirement_of(session: Session, requirement_id: int) -> ReportingRequirement:
    req = session.get(ReportingRequirement, requirement_id)
    if req is None:
        raise Refusal(f"报送要求 {requirement_id} 不存在：请在督办台账中选择要催办的单位。")
    return req


def urge(engine: Engine, requirement_id: int, unit: str, actor: str, confirmed: bool = False, now: datetime | None = None) -> list[str]:
    """催办 by hand: a 消息 to ``unit``'s secretaries that it has not submitted ``requirement_id``
    (audited ``report_urged``). Refused when it has submitted, and a second time the same day
    (Beijing time) unless ``confirmed``. Returns the people messaged."""
    person = engine.user(actor)
    now = now or utcnow()
    today = china_date(now)
    with db.transaction(engine.db) as session:
        req = _requirement_of(session, requirement_id)
        authorize(engine.config, person, Action.view_board, Org(req.org, f"报送要求 {requirement_id} 的督办台账"))
        if req.org != person.org:
            raise Refusal(f"报送要求 {requirement_id} 不是本单位提出的：只能催办本单位提出的报送要求。")
        if unit not in req.recipients:
            raise Refusal(f"{engine.config.organisations[unit].short_name if unit in engine.config.organisations else unit} 不是“{req.what}”的报送单位。")
        name = engine.config.org(unit).short_name
        periods = visible_periods(req, today)
        done = {
            s.period
            for s in session.exec(
                select(ReportSubmission).where(ReportSubmission.requirement_id == req.id, ReportSubmission.org == unit, ReportSubmission.status == "submitted")
            )
        }
        if periods and periods[-1] in done:
            raise Refusal(f"{name} 已报送“{req.what}”，无需催办。")
        if not confirmed and any(m.org == unit and china_date(m.created_at) == today for m in urged(session, requirement_id)):
            raise Refusal(f"今天已向 {name} 催办过“{req.what}”：如确需再次催办，请选择“确认再次催办”后再发。")
        due = due_for(session, calendar_of(engine.config), req, unit, periods[-1]) if periods else None
        people = [u.id for u in engine.config.users_with(unit, Role.secretary)] or [f"role:{Role.secretary.value}@{unit}"]
        requester = engine.config.org(req.org).short_name
        text = (
            f"催办：{requester}要求报送“{req.what}”"
            + (f"，截止 {due.isoformat()}" if due else "")
            + f"，本单位尚未报送，请抓紧办理（{actor_name(engine.config, actor)}催办）。"
        )
        messages.post(session, people, "urged", text, org=unit, circulation_id=req.circulation_id, requirement_id=req.id, sent_by=actor, at=now)
        audit_trail.record(
            session,
            actor,
            "report_urged",
            org=unit,
            circulation_id=req.circulation_id,
            at=now,
            detail={"requirement": req.id, "what": req.what, "recipients": people, "confirmed": confirmed},
        )
    return people


def obligations(engine: Engine, org: str, viewer: str, today: date | None = None) -> list[RequirementBoard]:
    """本单位应报事项: the requirements other organisations made of ``org`` (it is among their
    报送单位), each with ``org``'s own rows (due date, status, reminders), newest first."""
    person = engine.user(viewer)
    authorize(engine.config, person, Action.view_board, Org(org, "督办台账"))
    today = today or beijing_today()
    groups = []
    with Session(engine.db) as session:
        reqs = [r for r in session.exec(select(ReportingRequirement).order_by(col(ReportingRequirement.id).desc())) if org in r.recipients and r.org != org]
    for req in reqs:
        assert req.id is not None  # read from the database
        rows = [r for r in reporting.board(engine, today, req.id) if r.org == org]
        groups.append(RequirementBoard(req, rows, engine.config.org(req.org).short_name))
    return groups
